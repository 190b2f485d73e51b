"""SQuAD answers from spans and EM/F1 through the official scripts (trainers/tasks/squad_metrics.py)."""
import math

import numpy as np
import pytest

from trainers.tasks.squad_json import SquadSplit
from trainers.tasks.squad_metrics import answers, squad_metrics, thresholded


def dataset(questions):
    """A SQuAD "data" list: questions [(id, [gold answer texts])], one paragraph each."""
    return [{"title": "t", "paragraphs": [{"context": "c", "qas": [
        {"id": qid, "question": "q", "answers": [{"text": t, "answer_start": 0} for t in gold]}
        for qid, gold in questions]}]}]


def test_squad_v1_exact_match_and_f1_on_known_predictions():
    data = dataset([("a", ["Denver Broncos", "the Denver Broncos"]), ("b", ["Santa Clara, California"]),
                    ("c", ["Levi's Stadium"])])
    # a: equal after lower-casing and removing punctuation; b: 2 of 3 gold tokens (P 1, R 2/3, F1 0.8).
    metrics = squad_metrics(data, {"a": "denver broncos.", "b": "Santa Clara", "c": "Super Bowl"})
    assert metrics == pytest.approx({"exact": 100 / 3, "f1": 100 * (1 + 0.8) / 3})


def test_squad_v2_threshold_is_chosen_for_f1_and_applied():
    data = dataset([("a1", ["w1 w2"]), ("a2", ["w5"]), ("n1", []), ("n2", [])])
    predictions = {"a1": "w1 w2", "a2": "w5 w6", "n1": "w3", "n2": "w4"}  # a2: F1 2/3, EM 0
    no_answer = {"a1": -2.0, "a2": -1.5, "n2": -1.0, "n1": 1.0}
    metrics = squad_metrics(data, predictions, no_answer)
    # Answering the questions up to a score of -1.5 (a1, a2), "" for the rest, is best for F1:
    # (1 + 2/3 + 1 + 1) / 4; for EM, answering a2 adds nothing, so -2.0 (a1 only) is kept.
    assert metrics["best_f1"] == pytest.approx(100 * (3 + 2 / 3) / 4) and metrics["best_f1_thresh"] == -1.5
    assert metrics["best_exact"] == pytest.approx(75.0) and metrics["best_exact_thresh"] == -2.0
    assert metrics["f1"] == pytest.approx(metrics["best_f1"]) and metrics["exact"] == pytest.approx(75.0)
    assert metrics["HasAns_exact"] == pytest.approx(50.0) and metrics["HasAns_f1"] == pytest.approx(100 * 5 / 6)
    assert metrics["NoAns_exact"] == metrics["NoAns_f1"] == pytest.approx(100.0)
    assert metrics["HasAns_total"] == metrics["NoAns_total"] == 2
    # Nothing answered beats answering: the threshold is -inf ("" everywhere).
    wrong = squad_metrics(data, {k: "w9" for k in predictions}, no_answer)
    assert wrong["best_f1_thresh"] == -math.inf and wrong["f1"] == pytest.approx(50.0)
    assert thresholded(predictions, no_answer, -1.5) == {"a1": "w1 w2", "a2": "w5 w6", "n1": "", "n2": ""}


def test_answers_take_texts_at_character_offsets_with_release_probabilities():
    split = SquadSplit("f.json", [], ["q1", "q2"], ["", ""], ["w1 w2 \u00e9w3", "w4"],
                       np.full(2, -1, np.int32), np.full(2, -1, np.int32))
    inf, log = np.inf, math.log

    def log_probs(first, second):  # a question's three entries; -inf: no valid span
        return np.array([[log(first), log(second), -inf], [-inf] * 3], np.float32)
    spans = {"score": log_probs(0.3, 0.2), "start_log_prob": log_probs(0.5, 0.4), "end_log_prob": log_probs(0.6, 0.5),
             "start": np.array([[6, 0, -1], [-1, -1, -1]]), "end": np.array([[9, 5, -1], [-1, -1, -1]]),
             "no_answer": np.array([0.25, -inf])}
    predictions, nbest, no_answer = answers(split, spans)
    assert predictions == {"q1": "\u00e9w3", "q2": ""} and nbest["q2"] == []
    assert [(e["text"], e["start"], e["end"]) for e in nbest["q1"]] == [("\u00e9w3", 6, 9), ("w1 w2", 0, 5)]
    assert [e["probability"] for e in nbest["q1"]] == pytest.approx([0.6, 0.4])
    assert nbest["q1"][0]["start_log_prob"] == pytest.approx(math.log(0.5))
    assert no_answer == {"q1": 0.25, "q2": -inf}
