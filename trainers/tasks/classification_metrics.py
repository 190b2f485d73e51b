"""Classification and regression metrics as GLUE defines them, from whole-split arrays."""
from __future__ import annotations

import numpy as np
from scipy import stats


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predictions == labels)) if len(labels) else float("nan")


def binary_f1(predictions: np.ndarray, labels: np.ndarray, positive: int = 1) -> float:
    """F1 of class `positive` (MRPC, QQP: the paraphrase / duplicate class, id 1)."""
    tp = np.sum((predictions == positive) & (labels == positive))
    fp = np.sum((predictions == positive) & (labels != positive))
    fn = np.sum((predictions != positive) & (labels == positive))
    return float(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else 0.0


def macro_f1(predictions: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    """Unweighted mean of the per-class F1 over the classes present in labels or predictions."""
    present = [c for c in range(num_classes) if np.any(labels == c) or np.any(predictions == c)]
    return float(np.mean([binary_f1(predictions, labels, c) for c in present])) if present else 0.0


def matthews_correlation(predictions: np.ndarray, labels: np.ndarray) -> float:
    """MCC of binary predictions (CoLA): (TP TN - FP FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)); 0 if undefined."""
    p, y = predictions == 1, labels == 1
    tp, tn = float(np.sum(p & y)), float(np.sum(~p & ~y))
    fp, fn = float(np.sum(p & ~y)), float(np.sum(~p & y))
    denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return float((tp * tn - fp * fn) / denominator) if denominator else 0.0


def pearson(predictions: np.ndarray, targets: np.ndarray) -> float:
    if len(targets) < 2 or np.std(predictions) == 0 or np.std(targets) == 0:
        return 0.0
    return float(stats.pearsonr(predictions, targets)[0])


def spearman(predictions: np.ndarray, targets: np.ndarray) -> float:
    if len(targets) < 2 or np.std(predictions) == 0 or np.std(targets) == 0:
        return 0.0
    return float(stats.spearmanr(predictions, targets)[0])


def classification_metrics(task: str, logits: np.ndarray, labels: np.ndarray) -> dict:
    """The benchmark's metrics for `task` from logits (N, C) and label ids (N,):
    accuracy always; MCC for CoLA; F1 for MRPC and QQP (class 1), macro-F1 for the user's tasks."""
    predictions = np.argmax(logits, axis=-1)
    metrics = {"accuracy": accuracy(predictions, labels)}
    if task == "cola":
        metrics["mcc"] = matthews_correlation(predictions, labels)
    elif task in ("mrpc", "qqp"):
        metrics["f1"] = binary_f1(predictions, labels)
    elif task == "classification":
        metrics["macro_f1"] = macro_f1(predictions, labels, logits.shape[-1])
    return metrics


def regression_metrics(predictions: np.ndarray, targets: np.ndarray) -> dict:
    """Pearson and Spearman correlations (STS-B) and the mean squared error."""
    return {"pearson": pearson(predictions, targets), "spearman": spearman(predictions, targets),
            "mse": float(np.mean((predictions - targets) ** 2)) if len(targets) else float("nan")}
