"""Which vocabulary pieces continue a word, for whole-word and n-gram masking.

WordPiece marks a piece that continues a word with a leading "##" (BERT).
SentencePiece marks a piece that starts a word with a leading "▁" (U+2581),
so a piece without it continues the word before it; as in ALBERT's data
builder, a single punctuation character or a control piece (`<unk>`, `[CLS]`)
starts a word of its own.
"""

from __future__ import annotations

import string

import numpy as np

WORDPIECE, SENTENCEPIECE = "wordpiece", "sentencepiece"
SENTENCEPIECE_WORD_START = "\u2581"


def _is_control(piece: str) -> bool:
    return len(piece) > 2 and piece[0] + piece[-1] in ("<>", "[]")


def continuation_flags(pieces: list[str], kind: str) -> np.ndarray:
    """(V,) float32, 1 where piece i (id i) continues the word of the piece before it.

    kind: "wordpiece" or "sentencepiece" (the manifest's tokenizer type).
    """
    if kind == WORDPIECE:
        flags = [piece.startswith("##") for piece in pieces]
    elif kind == SENTENCEPIECE:
        flags = [
            not (
                piece.startswith(SENTENCEPIECE_WORD_START)
                or (len(piece) == 1 and piece in string.punctuation)
                or _is_control(piece)
            )
            for piece in pieces
        ]
    else:
        raise ValueError(f"unknown tokenizer kind {kind!r}; expected {WORDPIECE} or {SENTENCEPIECE}")
    return np.asarray(flags, dtype=np.float32)
