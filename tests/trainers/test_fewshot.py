"""Few-shot evaluation of a causal LM: likelihood scoring, per-k accuracy over draws, last-word accuracy."""
import csv
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from core.cli import UserError
from trainers import fewshot
from trainers.model_loading import load_causal_lm


def _task(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)
    return str(path)


def test_scores_are_the_continuations_log_likelihoods(causal_run):
    model, _ = load_causal_lm(causal_run)
    scorer = fewshot.Scorer(model, batch_size=2)
    contexts, continuations = [[1, 5, 9], [1, 7], [1] + [4] * 40], [[3, 4], [8], [6, 2]]
    sums, greedy = scorer.score(contexts, continuations)
    for i, (context, continuation) in enumerate(zip(contexts, continuations)):
        ids = (context + continuation)[-model.config.max_position_embeddings:]
        log_probs = tf.nn.log_softmax(model(tf.constant([ids[:-1]])), axis=-1).numpy()[0]
        picked = [log_probs[t - 1, ids[t]] for t in range(len(ids) - len(continuation), len(ids))]
        assert sums[i] == pytest.approx(sum(picked), abs=1e-4)
        argmax = [int(np.argmax(log_probs[t - 1])) == ids[t] for t in range(len(ids) - len(continuation), len(ids))]
        assert greedy[i] == all(argmax)


def test_accuracy_per_k_is_the_median_of_draws_beside_the_majority_class(causal_run, causal_data, tmp_path, capsys):
    rows = [(f"the cat sat on a mat {i}", "cat") for i in range(6)] + [(f"dogs ran over hills {i}", "dog")
                                                                        for i in range(4)]
    train, evaluation = _task(tmp_path / "train.csv", rows), _task(tmp_path / "eval.csv", rows[::2])
    output = str(tmp_path / "results.json")
    fewshot.main(["--model_dir", causal_run, "--train_file", train, "--eval_file", evaluation, "--text_columns=text",
                  "--label_column=label", "--shots=0,2", "--draws=3", "--template=sentiment",
                  "--verbalizer=dog=dogs", "--heldout_data", os.path.join(causal_data, "heldout-*"),
                  "--min_words=3", "--output", output])
    results = json.load(open(output))
    assert results["majority_class"] == "cat" and results["majority_accuracy"] == pytest.approx(3 / 5)
    assert len(results["shots"]["0"]["draws"]) == 1 and len(results["shots"]["2"]["draws"]) == 3
    assert results["shots"]["2"]["accuracy"] == np.median(results["shots"]["2"]["draws"])
    assert results["verbalizers"] == {"cat": "cat", "dog": "dogs"}
    assert results["last_word"]["passages"] > 0 and 0 <= results["last_word"]["accuracy"] <= 1
    assert "last-word accuracy" in capsys.readouterr().out


def test_a_template_override_without_a_label_slot_is_one_line(causal_run, tmp_path):
    with pytest.raises(UserError, match="must contain"):
        fewshot.resolve_template("default", ["template.answer=nothing"])
    template = fewshot.resolve_template("default", [r"template.example=Q: {text}\nA:"])
    assert fewshot.render(template, ("hi",), "yes") == "Q: hi\nA: yes"
