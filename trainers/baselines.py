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
