"""Baselines that a trained model must beat on held-out data: constant predictors (ELECTRA),
n-gram language models (causal LMs)."""
from __future__ import annotations

import math

import numpy as np


def constant_disc_loss(replaced_fraction: float) -> float:
    """Sigmoid cross-entropy (nats/token) of the best constant predictor, p = replaced fraction.

    Predicting p everywhere is optimal among constants; its loss is the binary entropy H(p).
    """
    p = min(max(replaced_fraction, 1e-12), 1 - 1e-12)
    return -(p * math.log(p) + (1 - p) * math.log(1 - p))


def most_frequent_token_accuracy(target_counts: np.ndarray) -> float:
    """Accuracy of always predicting the most frequent masked target. target_counts: (V,) counts."""
    total = float(np.sum(target_counts))
    return float(np.max(target_counts)) / total if total else 0.0


def auc_standard_error(auc: float, positives: float, negatives: float) -> float:
    """Standard error of an AUC from `positives` replaced and `negatives` original tokens
    (Hanley & McNeil 1982, eq. 2). Treats tokens as independent, so it is a lower bound
    when tokens of one sequence are correlated; compare AUC - 0.5 against it."""
    if positives < 1 or negatives < 1:
        return float("nan")
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc)
                + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


def ngram_cross_entropies(train_blocks: np.ndarray, heldout_blocks: np.ndarray, vocab_size: int) -> dict:
    """Held-out next-token cross-entropy sums (nats) of a unigram and a bigram model fitted on the
    training blocks, over the targets a causal LM predicts (tokens 1..T of each block, the bigram
    conditioned on the token before, within the block).

    train_blocks, heldout_blocks: (N, T + 1) int token blocks. Unigram: add-one
    smoothed counts of the training targets. Bigram: interpolated Witten-Bell,
    p(w | h) = (c(h, w) + u(h) p_unigram(w)) / (c(h) + u(h)), u(h) the number of
    distinct tokens seen after h (the unigram where h was never seen).
    Returns {"unigram": nats, "bigram": nats, "targets": count}.
    """
    v = np.int64(vocab_size)
    history = train_blocks[:, :-1].reshape(-1).astype(np.int64)
    target = train_blocks[:, 1:].reshape(-1).astype(np.int64)
    unigram = (np.bincount(target, minlength=vocab_size) + 1.0) / (len(target) + vocab_size)
    pairs, pair_counts = np.unique(history * v + target, return_counts=True)
    history_counts = np.bincount(history, minlength=vocab_size).astype(np.float64)
    followers = np.bincount(pairs // v, minlength=vocab_size).astype(np.float64)
    h, w = heldout_blocks[:, :-1].reshape(-1).astype(np.int64), heldout_blocks[:, 1:].reshape(-1).astype(np.int64)
    keys = h * v + w
    where = np.clip(np.searchsorted(pairs, keys), 0, len(pairs) - 1)
    seen = np.where(pairs[where] == keys, pair_counts[where], 0).astype(np.float64)
    bigram = np.where(history_counts[h] > 0,
                      (seen + followers[h] * unigram[w]) / np.maximum(history_counts[h] + followers[h], 1.0),
                      unigram[w])
    return {"unigram": float(-np.log(unigram[w]).sum()), "bigram": float(-np.log(bigram).sum()),
            "targets": int(len(w))}
