"""TinyBERT's data augmentation (arXiv:1909.10351, sec. 3.3 and its algorithm 1), model-free parts.

A text is split into words (runs of word characters, and single other
characters); a word that holds a letter is eligible. Each eligible word has up
to M candidates, the whole-word pieces a masked LM ranks highest when the word
is masked (computed by the caller). A variant replaces each eligible word,
with probability p, by one of its candidates drawn uniformly; N variants are
drawn per text, and the distinct ones that differ from the text are kept.
Draws come from a generator keyed by (seed, row), so a row's variants do not
depend on the other rows or on batching.
"""
from __future__ import annotations

import collections
import re

import numpy as np

WORD = re.compile(r"\w+|[^\w\s]")


def words(text: str) -> list[str]:
    """The text's words: runs of word characters and single other (punctuation) characters."""
    return WORD.findall(text)


def is_word(piece: str) -> bool:
    """Whether a word, or a vocabulary piece as a replacement, is a whole word with a letter
    (not a "##" continuation, a special token like "[MASK]" or punctuation)."""
    return re.fullmatch(r"\w+", piece) is not None and any(c.isalpha() for c in piece)


def variants(tokens: list[str], candidates: dict, count: int, probability: float,
             rng: np.random.Generator, counts: collections.Counter) -> list[str]:
    """Up to `count` distinct texts (words joined by spaces) that differ from `tokens`, each word i
    of `candidates` {i: [word, ...]} replaced with `probability` by one of its candidates.
    Adds to `counts`: drawn, duplicates (the original or an earlier variant), replaced words."""
    original = " ".join(tokens)
    seen, kept = {original}, []
    for _ in range(count):
        new = list(tokens)
        for i, options in candidates.items():
            replace, pick = rng.random() < probability, int(rng.integers(len(options)))
            if replace:
                new[i] = options[pick]
                counts["words_replaced"] += 1
        text = " ".join(new)
        counts["variants_drawn"] += 1
        if text in seen:
            counts["duplicates_dropped"] += 1
            continue
        seen.add(text)
        kept.append(text)
    return kept
