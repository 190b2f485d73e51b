"""Vocabularies without TensorFlow: WordPiece vocab.txt and SentencePiece
.model files, their pieces and special-token ids.

The Beam job's launching process reads vocabularies through this module, so
it never imports TensorFlow (its workers do, to tokenize and write records).
File access is the caller's (`open_binary`: path -> binary file object), so
gs:// paths work with either tf.io.gfile or Beam's FileSystems.
"""
import dataclasses
from typing import BinaryIO, Callable

import sentencepiece

PAD, UNK, CLS, SEP, MASK = "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"
# Order in which build_vocab writes them, so [PAD] gets id 0.
RESERVED_TOKENS = (PAD, UNK, CLS, SEP, MASK)
_SPECIAL_KEYS = {"pad": PAD, "unk": UNK, "cls": CLS, "sep": SEP, "mask": MASK}
# SentencePiece pieces accepted for the special tokens (BERT or ALBERT style).
_SENTENCEPIECE_SPECIALS = {"pad": (PAD, "<pad>"), "unk": (UNK, "<unk>"), "cls": (CLS,),
                           "sep": (SEP,), "mask": (MASK,)}
WORDPIECE, SENTENCEPIECE = "wordpiece", "sentencepiece"


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
    """Special ids of a SentencePiece model: its pieces [PAD] or <pad>, [UNK]
    or <unk>, [CLS], [SEP], [MASK]."""
    index = {piece: i for i, piece in enumerate(pieces)}
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


def is_sentencepiece(path: str) -> bool:
    return path.endswith(".model")


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """What a tokenizer file defines: its kind, pieces (index = id) and special ids."""
    kind: str  # WORDPIECE or SENTENCEPIECE
    pieces: list[str]
    special_ids: dict[str, int]


def read(path: str, open_binary: Callable[[str], BinaryIO]) -> Vocabulary:
    """The Vocabulary of a `.model` (SentencePiece) or vocab.txt (WordPiece) file."""
    with open_binary(path) as f:
        data = f.read()  # one read: line iterators of remote files are slow
    if is_sentencepiece(path):
        processor = sentencepiece.SentencePieceProcessor(model_proto=data)
        pieces = [processor.id_to_piece(i) for i in range(processor.get_piece_size())]
        return Vocabulary(SENTENCEPIECE, pieces, sentencepiece_special_ids(pieces, path))
    pieces = parse_vocab(data.decode("utf-8"))
    return Vocabulary(WORDPIECE, pieces, special_token_ids(pieces))
