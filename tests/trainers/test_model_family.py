"""ALBERT's SOP, n-gram masking and sharing ablations, adversarial ELECTRA and GDES through
the real trainer: training, logs, TensorBoard, evaluation, resume, export, data checks.
(Exact resume is the loop's: every new weight and table is a model variable, checkpointed
like the rest; tests/trainers/test_loop.py checks it.)"""
import json
import math
import os

import numpy as np
import pytest
import tensorflow as tf

from core.run_files import find_manifest
from tests.trainers.conftest import TINY_OVERRIDES, VOCAB, write_data
from tests.trainers.test_loop import make_trainer
from tests.trainers.test_run_options import model_tensors, scalars
from trainers.export import export
from trainers.model_loading import load_pretrainer
from trainers.pretrain import main as pretrain_main
from trainers.pretrain import word_continuation

QUIET = lambda _: None  # noqa: E731
ALBERT = ["model.objective=mlm", "model.sentence_order=true", "model.masking=ngram",
          "model.encoder.num_hidden_groups=1", "train.optimizer=lamb"]
# Alone; SOP, n-gram masking, GDES and adversarial training also train together in COMBINED.
OPTIONS = {
    "adversarial": ["model.generator_training=adversarial"],
    "albert_shared_attention": ALBERT + ["model.encoder.layer_sharing=attention"],
}
COMBINED = ["model.sentence_order=true", "model.masking=ngram", "model.sharing=gdes",
            "model.generator_training=adversarial"]


@pytest.fixture(scope="module")
def two_segment_data(tmp_path_factory):
    """The trainer tests' data with two segments in 9 of 10 examples, and a vocabulary in
    which every fourth word piece continues a word ("##w3", "##w7", ...)."""
    directory = str(tmp_path_factory.mktemp("two_segments"))
    write_data(directory, two_segments=True,
               vocab=VOCAB[:5] + [f"##{t}" if i % 4 == 3 else t for i, t in enumerate(VOCAB[5:])])
    return directory


def family_trainer(data_dir, model_dir, overrides):
    trainer = make_trainer(data_dir, model_dir, overrides)
    if trainer.task.config.model.masking != "token":
        trainer.model.set_word_continuation(word_continuation(find_manifest(os.path.join(data_dir, "train-*"))))
    return trainer


# Adversarial training alone is slow (~90 s); the combined test below trains it through pretrain too.
@pytest.mark.parametrize("name", [pytest.param("adversarial", marks=pytest.mark.slow), "albert_shared_attention"])
def test_option_trains_and_reports_its_metrics(two_segment_data, tmp_path, name):
    trainer = family_trainer(two_segment_data, tmp_path, OPTIONS[name] + ["train.num_steps=4", "train.log_every=4"])
    metrics = trainer.train(log=QUIET)
    assert trainer.step == 4 and math.isfinite(metrics["loss"])
    evaluation = trainer.evaluate(2)
    assert 0 < evaluation["generator_entropy"] <= np.log(64) + 1e-4
    assert 0 <= evaluation["mlm_accuracy"] <= 1
    if "model.sentence_order=true" in OPTIONS[name]:
        assert 0 <= evaluation["sop_accuracy"] <= 1 and evaluation["sop_loss"] > 0
    if name == "adversarial":  # the generator's accuracy and entropy are what the paper compares
        assert {"policy_loss", "baseline_loss", "generator_reward"} <= set(metrics)
        assert metrics["generator_reward"] > 0 and metrics["baseline_loss"] > 0
    else:
        assert "policy_loss" not in metrics


def test_pretrain_logs_evaluates_resumes_and_exports_the_combined_options(two_segment_data, tmp_path, capsys):
    args = ["--data", os.path.join(two_segment_data, "train-*"), "--eval_data",
            os.path.join(two_segment_data, "heldout-*"), "--model_dir", str(tmp_path), "--strategy", "cpu"]
    args += [f"--override={o}" for o in TINY_OVERRIDES + COMBINED + ["train.num_steps=4", "train.eval_batches=2"]]
    assert pretrain_main(args) == 0
    out = capsys.readouterr().out
    assert "ngram masking: word boundaries from the data's vocabulary" in out
    assert "sentence-order accuracy" in out and "generator entropy" in out
    step_line = next(line for line in out.splitlines() if line.startswith("step 4/4"))
    assert all(part in step_line for part in ("mlm_entropy", "sop_acc", "reward"))
    train = scalars(tmp_path / "train")
    assert {"sop_loss", "sop_accuracy", "generator_entropy", "policy_loss", "baseline_loss",
            "generator_reward"} <= set(train)
    assert train["loss"][4] == pytest.approx(
        train["policy_loss"][4] + train["baseline_loss"][4] + 50 * train["disc_loss"][4] + train["sop_loss"][4],
        rel=1e-5)
    results = json.loads((tmp_path / "eval_results.json").read_text())
    assert {"sop_accuracy", "generator_entropy", "mlm_accuracy", "disc_auc"} <= set(results)
    # Resuming takes the word boundaries from the checkpoint ("##w3" is id 8; 14 "##" pieces).
    assert pretrain_main([a.replace("num_steps=4", "num_steps=6") for a in args]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "word boundaries" not in out and "step 6/6" in out
    [flags] = [t for t in model_tensors(tmp_path / "ckpt-6") if t.shape == (64,) and set(np.unique(t)) == {0, 1}]
    assert flags.sum() == 14 and flags[8] == 1

    serve = tf.saved_model.load(export(str(tmp_path), str(tmp_path / "saved_model"))).signatures["serving_default"]
    out = serve(text=tf.constant(["w1 w2 w3 w7"]))
    pretrainer, _ = load_pretrainer(str(tmp_path))
    ids, mask = out["token_ids"].numpy(), out["input_mask"].numpy()
    logits = pretrainer.discriminate(ids, mask, np.zeros_like(ids), training=False)
    np.testing.assert_allclose(out["replaced_probability"].numpy(), tf.sigmoid(logits).numpy() * mask, atol=1e-6)


def test_sentence_order_on_single_segment_data_is_an_error(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="sentence_order needs two-segment examples"):
        pretrain_main(["--data", os.path.join(tiny_data, "train-*"), "--model_dir", str(tmp_path),
                       "--override=model.sentence_order=true"])
    assert not (tmp_path / "config.json").exists()
