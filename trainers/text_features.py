"""Texts and text pairs -> fixed-length model inputs with the run's tokenizer (BERT's layout).

One text: [CLS] A [SEP]; a pair: [CLS] A [SEP] B [SEP] with segment ids 0 then 1.
A pair longer than the budget loses tokens from the end of its longer text,
one at a time (ties: the second text), as BERT's and ELECTRA's fine-tuning do.
"""
from __future__ import annotations

import numpy as np

from pipelines.tokenization import Tokenizer

FEATURES = ("input_ids", "input_mask", "segment_ids")


def truncated_lengths(length_a: int, length_b: int, budget: int) -> tuple[int, int]:
    """Lengths after BERT's pair truncation to at most `budget` tokens in all (closed form of
    "pop from the longer, the second on ties")."""
    if length_a + length_b <= budget:
        return length_a, length_b
    a = min(length_a, max(budget - length_b, (budget + 1) // 2))
    return a, min(length_b, budget - a)


def encode_texts(tokenizer: Tokenizer, texts_a: list[str], texts_b: list[str] | None, max_seq_length: int,
                 batch_size: int = 4096) -> tuple[dict, int]:
    """Features {name: (N, max_seq_length) int32} of N texts (or pairs), and how many were truncated.

    Tokenizes in batches of `batch_size` strings (one TensorFlow call each).
    """
    special = tokenizer.special_ids
    cls, sep, pad = special["cls"], special["sep"], special["pad"]
    n = len(texts_a)
    out = {name: np.full((n, max_seq_length), pad if name == "input_ids" else 0, np.int32) for name in FEATURES}
    budget = max_seq_length - (3 if texts_b is not None else 2)
    truncated = 0
    for start in range(0, n, batch_size):
        ids_a = tokenizer.tokenize_lines(texts_a[start:start + batch_size])
        ids_b = tokenizer.tokenize_lines(texts_b[start:start + batch_size]) if texts_b is not None else None
        for row, a in enumerate(ids_a, start):
            b = ids_b[row - start] if ids_b is not None else []
            la, lb = truncated_lengths(len(a), len(b), budget)
            truncated += (la, lb) != (len(a), len(b))
            tokens = [cls] + a[:la] + [sep] + (b[:lb] + [sep] if ids_b is not None else [])
            out["input_ids"][row, :len(tokens)] = tokens
            out["input_mask"][row, :len(tokens)] = 1
            out["segment_ids"][row, la + 2:len(tokens)] = 1
    return out, truncated
