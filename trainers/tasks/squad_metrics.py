"""SQuAD answers from merged spans, and EM/F1 by the official evaluation scripts.

The scripts are those tf-models-official ships (official/nlp/tools/
squad_evaluate_v1_1.py and squad_evaluate_v2_0.py), unchanged; scores are in
percent.
"""
from __future__ import annotations

import math

import numpy as np
from official.nlp.tools import squad_evaluate_v1_1, squad_evaluate_v2_0

from trainers.tasks.squad_json import SquadSplit


def answers(split: SquadSplit, spans: dict) -> tuple[dict, dict, dict]:
    """(predictions {id: best answer text}, nbest {id: [entries]}, no_answer {id: score}) from
    `spans` (merge_windows's outputs as numpy, rows in the split's order: its first questions).

    An n-best entry: text, probability (softmax over the entries' scores, as the release),
    start_log_prob, end_log_prob, start, end (characters of the context, [start, end)).
    A question without a valid span gets "" and no entries.
    """
    predictions, nbest, no_answer = {}, {}, {}
    for row in range(len(spans["score"])):
        qid, context = split.ids[row], split.contexts[row]
        valid = np.isfinite(spans["score"][row])
        scores = spans["score"][row][valid].astype(np.float64)
        probabilities = np.exp(scores - scores.max()) if scores.size else scores
        probabilities /= probabilities.sum() if scores.size else 1.0
        entries = []
        for i, p in zip(np.flatnonzero(valid), probabilities):
            start, end = int(spans["start"][row, i]), int(spans["end"][row, i])
            entries.append({"text": context[start:end], "probability": float(p),
                            "start_log_prob": float(spans["start_log_prob"][row, i]),
                            "end_log_prob": float(spans["end_log_prob"][row, i]), "start": start, "end": end})
        predictions[qid] = entries[0]["text"] if entries else ""
        nbest[qid] = entries
        no_answer[qid] = float(spans["no_answer"][row])
    return predictions, nbest, no_answer


def thresholded(predictions: dict, no_answer: dict, threshold: float) -> dict:
    """SQuAD 2.0 answers: "" where the no-answer score exceeds `threshold`."""
    return {qid: "" if no_answer[qid] > threshold else text for qid, text in predictions.items()}


def _answered_below(no_answer: dict, probabilities: dict, threshold: float) -> float:
    """The no-answer score threshold equivalent to probability `threshold`: the highest score of
    the questions answered (probability <= threshold), -inf if none is."""
    return max((no_answer[q] for q, p in probabilities.items() if p <= threshold), default=-math.inf)


def squad_metrics(dataset: list, predictions: dict, no_answer: dict | None = None) -> dict:
    """EM and F1 (percent) of `predictions` on a SQuAD file's "data" list.

    v1.1 (no_answer None): exact, f1. v2.0, no_answer {id: score} (a logit: "" is answered where
    it exceeds a threshold): best_exact, best_f1 and their thresholds (best_exact_thresh,
    best_f1_thresh, in the scores' units; the official script searches them on the scores'
    sigmoid, the probability it expects), then exact, f1, HasAns_exact, HasAns_f1, NoAns_exact,
    NoAns_f1 (and *_total counts) answering "" above best_f1_thresh.
    """
    if no_answer is None:
        result = squad_evaluate_v1_1.evaluate(dataset, predictions)
        return {"exact": 100.0 * result["exact_match"], "f1": 100.0 * result["final_f1"]}
    probabilities = {q: 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0 for q, x in no_answer.items()}
    best = squad_evaluate_v2_0.evaluate(dataset, predictions, probabilities)
    threshold = _answered_below(no_answer, probabilities, best["final_f1_thresh"])
    chosen = squad_evaluate_v2_0.evaluate(dataset, thresholded(predictions, no_answer, threshold))
    metrics = {k: float(v) if isinstance(v, float) else v for k, v in chosen.items()
               if k.startswith(("exact", "f1", "total", "HasAns", "NoAns"))}
    metrics.update(best_exact=float(best["final_exact"]), best_f1=float(best["final_f1"]), best_f1_thresh=threshold,
                   best_exact_thresh=_answered_below(no_answer, probabilities, best["final_exact_thresh"]))
    return metrics
