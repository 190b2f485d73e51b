"""GPT-2's byte-level BPE (vocab.json + merges.txt) as a SentencePiece BPE model, so that a converted
GPT-2 tokenizes in the graph through tensorflow-text like every run of this project.

GPT-2 writes each token as its UTF-8 bytes through a reversible byte -> character
map (`byte_characters`). The SentencePiece model keeps every id: a token
of two or more bytes that are UTF-8 text is a normal piece of that text
(spaces kept as spaces: the model does not escape them), a single byte a
byte piece (<0xXX>, SentencePiece's byte fallback), <|endoftext|> the unknown piece
(never produced from text: with byte fallback nothing is unknown), and a
token of part of a character's bytes an unused piece (never produced). A
token's score is minus the rank of the merge that made it, so SentencePiece
merges in GPT-2's order. GPT-2 first splits text into words, numbers,
punctuation and spaces; SentencePiece merges over the whole text, but no
token spans those boundaries, so the ids agree except where GPT-2 merges
bytes into part of a character or splits a run of spaces (the golden
test's texts show both kinds of agreement).

The model file is written in protobuf's wire format here (sentencepiece's
own generated module needs another protobuf runtime than TensorFlow's).
"""
from __future__ import annotations

import json
import struct

from core.vocabulary import EOS

NORMAL, UNKNOWN, UNUSED, BYTE = 1, 2, 5, 6  # SentencePiece piece types
BPE = 2  # TrainerSpec.model_type


def byte_characters() -> dict[int, str]:
    """GPT-2's map from each byte to a printable character: the printable Latin-1 bytes
    (!..~, ¡..¬, ®..ÿ) to themselves, the other 68 in order to U+0100 onwards."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = (b for b in range(256) if b not in printable)
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + n) for n, b in enumerate(extra)}}


def token_bytes(token: str, characters: dict[str, int]) -> bytes:
    """The bytes a GPT-2 token stands for."""
    return bytes(characters[c] for c in token)


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative int32s take ten bytes, as protobuf writes them
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, value) -> bytes:
    """One protobuf field: bytes/str (length-delimited), float (32-bit), bool/int (varint)."""
    if isinstance(value, str):
        value = value.encode("utf-8")
    if isinstance(value, bytes):
        return _varint(number << 3 | 2) + _varint(len(value)) + value
    if isinstance(value, float):
        return _varint(number << 3 | 5) + struct.pack("<f", value)
    return _varint(number << 3) + _varint(int(value))


def sentencepiece_model(pieces: list[tuple[str, float, int]], unk_id: int) -> bytes:
    """A serialized BPE ModelProto of (piece, score, type) in id order, with byte fallback and no
    normalisation (text kept as it is, spaces too, no dummy prefix)."""
    body = b"".join(_field(1, _field(1, piece) + _field(2, float(score)) + _field(3, kind))
                    for piece, score, kind in pieces)
    trainer = (_field(3, BPE) + _field(4, len(pieces)) + _field(35, True) + _field(40, unk_id) + _field(41, -1)
               + _field(42, -1) + _field(43, -1) + _field(44, "") + _field(45, pieces[unk_id][0]))
    normalizer = _field(1, "identity") + _field(2, b"") + _field(3, False) + _field(4, False) + _field(5, False)
    return body + _field(2, trainer) + _field(3, normalizer)


def from_gpt2(vocab: dict[str, int], merges: list[tuple[str, str]]) -> bytes:
    """The SentencePiece model of a GPT-2 vocabulary {token: id} (ids 0..V-1) and its merges in rank order."""
    characters = {c: b for b, c in byte_characters().items()}
    rank = {a + b: r for r, (a, b) in enumerate(merges)}
    pieces = [None] * len(vocab)
    for token, index in vocab.items():
        if token == EOS:
            pieces[index] = (EOS, 0.0, UNKNOWN)
            continue
        raw = token_bytes(token, characters)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if text is not None and len(raw) > 1:
            pieces[index] = (text, -float(rank.get(token, 0)), NORMAL)
        elif len(raw) == 1:
            pieces[index] = (f"<0x{raw[0]:02X}>", 0.0, BYTE)
        else:
            pieces[index] = (f"<gpt2 partial {raw.hex()}>", 0.0, UNUSED)
    if None in pieces or EOS not in vocab:
        raise ValueError(f"the vocabulary's ids must be 0..{len(vocab) - 1} and include {EOS}")
    return sentencepiece_model(pieces, vocab[EOS])


def read_gpt2_files(vocab_json: bytes, merges_txt: bytes) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """({token: id}, merges in rank order) of GPT-2's vocab.json and merges.txt (its '#version' line skipped)."""
    vocab = json.loads(vocab_json.decode("utf-8"))
    lines = merges_txt.decode("utf-8").split("\n")
    merges = [tuple(line.split(" ")) for line in lines if line and not line.startswith("#version")]
    bad = [m for m in merges if len(m) != 2]
    if bad:
        raise ValueError(f"merges.txt: a line is not two tokens: {' '.join(bad[0])!r}")
    return vocab, merges
