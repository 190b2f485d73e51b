"""Constant-predictor baselines that a trained ELECTRA must beat on held-out data."""
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
