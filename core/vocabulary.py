"""Vocabularies without TensorFlow: WordPiece vocab.txt and SentencePiece
.model files, their pieces and special-token ids.

The Beam job's launching process reads vocabularies through this module, so
it never imports TensorFlow (its workers do, to tokenize and write records):
file access goes through the caller's file layer (core/files.py).

A vocabulary is identified by its content: `fingerprint` hashes the pieces in
id order (WordPiece) or the model file's bytes (SentencePiece).
"""
from __future__ import annotations

import dataclasses
import hashlib
import re

import sentencepiece

from core.files import Files, layer

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
# Order in which build_vocab writes them, so [PAD] gets id 0.
RESERVED_TOKENS = (PAD, UNK, CLS, SEP, MASK)
_SPECIAL_KEYS = {"pad": PAD, "unk": UNK, "cls": CLS, "sep": SEP, "mask": MASK}
# SentencePiece pieces accepted for the special tokens (BERT or ALBERT style).
_SENTENCEPIECE_SPECIALS = {"pad": (PAD, "<pad>"), "unk": (UNK, "<unk>"), "cls": (CLS,),
                           "sep": (SEP,), "mask": (MASK,)}
WORDPIECE, SENTENCEPIECE = "wordpiece", "sentencepiece"
# GPT-2's end-of-text token: the document separator of a causal LM's byte-level BPE vocabulary.
EOS = "<|endoftext|>"


def parse_vocab(text: str) -> list[str]:
    """Tokens of a vocab.txt's text (one per line; line number = id). Raises
    ValueError for an empty or repeated token (ids would be ambiguous)."""
    lines = text.split("\n")
    tokens = lines[:-1] if lines[-1] == "" else lines
    seen, bad = {}, []
    for number, token in enumerate(tokens, 1):
        if not token or token in seen:
            bad.append(f"line {number}: " + (f"{token!r} repeats line {seen[token]}" if token
                                              else "empty"))
        seen.setdefault(token, number)
    if bad:
        raise ValueError(f"bad vocab ({len(bad)} line(s)): {'; '.join(bad[:5])}")
    return tokens


def special_token_ids(vocab: list[str]) -> dict[str, int]:
    """Ids of the special tokens: keys pad, unk, cls, sep, mask."""
    index = {token: i for i, token in enumerate(vocab)}
    missing = [token for token in _SPECIAL_KEYS.values() if token not in index]
    if missing:
        raise ValueError(f"vocab lacks special token(s) {missing}; expected all of "
                         f"{list(RESERVED_TOKENS)}")
    return {key: index[token] for key, token in _SPECIAL_KEYS.items()}


def sentencepiece_special_ids(pieces: list[str], model_path: str) -> dict[str, int]:
    """Special ids of a SentencePiece model: {"eos"} for a causal LM's byte-level BPE (it has
    the piece <|endoftext|>), else its pieces [PAD] or <pad>, [UNK] or <unk>, [CLS], [SEP], [MASK]."""
    index = {piece: i for i, piece in enumerate(pieces)}
    if EOS in index:
        return {"eos": index[EOS]}
    special, missing = {}, []
    for key, names in _SENTENCEPIECE_SPECIALS.items():
        found = [index[n] for n in names if n in index]
        if found:
            special[key] = found[0]
        else:
            missing.append(names)
    if missing:
        raise ValueError(f"SentencePiece model {model_path} lacks pieces {missing}; train "
                         "one with `python -m pipelines.build_vocab --model=sentencepiece`")
    return special


def piece_byte_lengths(pieces: list[str]) -> list[int]:
    """UTF-8 bytes of the text each piece stands for: 1 for a byte piece (<0x41>), 0 for the
    special and control pieces (<unk>, <|endoftext|>, [PAD], ...), else its text's bytes with
    SentencePiece's word-start mark as a space and WordPiece's ## dropped."""
    lengths = []
    for piece in pieces:
        if re.fullmatch(r"<0x[0-9A-F]{2}>", piece):
            lengths.append(1)
        elif piece in (EOS, "<unk>", "<pad>", "<s>", "</s>") or piece in RESERVED_TOKENS:
            lengths.append(0)
        else:
            text = piece[2:] if piece.startswith("##") and len(piece) > 2 else piece
            lengths.append(len(text.replace("\u2581", " ").encode("utf-8")))
    return lengths


def is_sentencepiece(path: str) -> bool:
    return path.endswith(".model")


def vocab_text(pieces) -> str:
    """A vocab.txt's text: one piece per line, line number = id."""
    return "".join(piece + "\n" for piece in pieces)


def fingerprint(kind: str, content: bytes) -> str:
    """16 hex digits identifying a vocabulary: sha256 of its kind and content (vocab_text of
    the pieces for WordPiece, the model file for SentencePiece)."""
    return hashlib.sha256(kind.encode("utf-8") + b"\0" + content).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """What a tokenizer file defines: its kind, pieces (index = id), special ids and content fingerprint."""
    kind: str  # WORDPIECE or SENTENCEPIECE
    pieces: list[str]
    special_ids: dict[str, int]
    fingerprint: str


def read(path: str, files: Files | None = None) -> Vocabulary:
    """The Vocabulary of a `.model` (SentencePiece) or vocab.txt (WordPiece) file, read through
    `files` (default TensorFlow's file layer)."""
    data = (files or layer()).read(path)  # one read: line iterators of remote files are slow
    if is_sentencepiece(path):
        processor = sentencepiece.SentencePieceProcessor(model_proto=data)
        pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
        return Vocabulary(SENTENCEPIECE, pieces, sentencepiece_special_ids(pieces, path),
                          fingerprint(SENTENCEPIECE, data))
    pieces = parse_vocab(data.decode("utf-8"))
    return Vocabulary(WORDPIECE, pieces, special_token_ids(pieces),
                      fingerprint(WORDPIECE, vocab_text(pieces).encode("utf-8")))
