import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from configs import get_config, with_vocab_size
from tests.trainers.conftest import SEQ, TINY_OVERRIDES
from trainers import baselines
from trainers.distribution import make_strategy
from trainers.loop import Trainer
from trainers.pretrain import main as pretrain_main
from trainers.tasks.pretraining import PretrainingTask

SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}


@pytest.fixture(autouse=True, scope="module")
def deterministic_ops():
    tf.config.experimental.enable_op_determinism()


def make_trainer(data_dir, model_dir, overrides=()):
    config = with_vocab_size(get_config("tiny", TINY_OVERRIDES + list(overrides)), 64)
    task = PretrainingTask(config, SPECIAL, os.path.join(data_dir, "train-*"), SEQ,
                           eval_pattern=os.path.join(data_dir, "heldout-*"))
    return Trainer(task, make_strategy("cpu"), str(model_dir))


def weights(trainer):
    return [np.asarray(v) for v in trainer.model.variables + trainer.optimizer.variables]


def test_restart_from_checkpoint_ends_with_identical_weights(tiny_data, tmp_path):
    """Also shows that evaluating does not change what training draws: only one run evaluates."""
    straight = make_trainer(tiny_data, tmp_path / "a")
    straight.evaluate(2)
    straight.train(log=lambda _: None)

    interrupted = make_trainer(tiny_data, tmp_path / "b")
    interrupted.train(log=lambda _: None, until_step=8)
    assert interrupted.manager.latest_checkpoint.endswith("ckpt-8")
    del interrupted
    resumed = make_trainer(tiny_data, tmp_path / "b")
    assert resumed.restore() == 8
    resumed.train(log=lambda _: None)

    assert resumed.step == straight.step == 12
    for a, b in zip(weights(straight), weights(resumed)):
        np.testing.assert_array_equal(a, b)


def test_training_lowers_the_loss_and_logs(tiny_data, tmp_path):
    trainer = make_trainer(tiny_data, tmp_path, ["train.num_steps=60", "train.log_every=20", "train.checkpoint_every=60",
                                                 "train.learning_rate=0.005", "model.encoder.dropout_rate=0",
                                                 "model.encoder.attention_dropout_rate=0"])
    lines = []
    before = trainer.evaluate(8)
    last = trainer.train(log=lines.append)
    after = trainer.evaluate(8)
    assert len(lines) == 3 and lines[-1].startswith("step 60/60") and "tok/s" in lines[-1] and "ETA" in lines[-1]
    assert after["loss"] < before["loss"] - 1.0
    assert after["mlm_loss"] < before["mlm_loss"]
    assert np.isfinite(last["grad_norm"]) and last["learning_rate"] == 0.0
    # The constant baselines are computed from the same held-out masks.
    assert after["constant_disc_loss"] == pytest.approx(
        baselines.constant_disc_loss(after["replaced_fraction"]))
    assert tf.io.gfile.glob(str(tmp_path / "train" / "events.out.tfevents.*"))


def test_baselines():
    assert baselines.constant_disc_loss(0.5) == pytest.approx(np.log(2))
    assert baselines.constant_disc_loss(0.15) == pytest.approx(-(0.15 * np.log(0.15) + 0.85 * np.log(0.85)))
    assert baselines.most_frequent_token_accuracy(np.array([1, 6, 3])) == 0.6


def test_pretrain_fails_fast_with_clear_messages(tiny_data, tmp_path):
    with pytest.raises(FileNotFoundError, match="no files match"):
        pretrain_main(["--data", str(tmp_path / "nothing-*"), "--model_dir", str(tmp_path / "m")])
    with pytest.raises(ValueError, match="vocabulary of 64"):
        pretrain_main(["--data", os.path.join(tiny_data, "train-*"), "--model_dir", str(tmp_path / "m"),
                       "--override", "model.encoder.vocab_size=30522"])
    with pytest.raises(ValueError, match="unknown config key"):
        pretrain_main(["--data", os.path.join(tiny_data, "train-*"), "--model_dir", str(tmp_path / "m"),
                       "--override", "train.stpes=3"])


def test_pretrain_main_writes_run_files_and_resumes(tiny_data, tmp_path, capsys):
    args = ["--data", os.path.join(tiny_data, "train-*"), "--eval_data", os.path.join(tiny_data, "heldout-*"),
            "--model_dir", str(tmp_path), "--strategy", "cpu"] + [f"--override={o}" for o in TINY_OVERRIDES]
    assert pretrain_main(args) == 0
    out = capsys.readouterr().out
    assert "step 12/12" in out and "best constant predictor" in out and "most-frequent-token" in out
    assert re.search(r"AUC 0\.\d{4} \+- 0\.\d{4} \(1 s\.e\.", out)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model"]["encoder"]["vocab_size"] == 64 and config["train"]["num_steps"] == 12
    results = json.loads((tmp_path / "eval_results.json").read_text())
    assert results["batches"] == 4 and 0 < results["replaced_fraction"] < 0.2
    assert (tmp_path / "vocab.txt").read_text().split("\n")[4] == "[MASK]"

    longer = [a for a in args if "num_steps" not in a] + ["--override=train.num_steps=16"]
    assert pretrain_main(longer) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "step 16/16" in out and "step 4/" not in out
    with pytest.raises(ValueError, match="different model config"):
        pretrain_main(args + ["--override=model.encoder.hidden_size=64"])


def test_auc_standard_error_matches_the_spread_of_chance_aucs():
    rng = np.random.default_rng(0)
    positives, negatives = 200, 800
    labels = np.r_[np.ones(positives), np.zeros(negatives)]
    aucs = []
    for _ in range(2000):  # AUC of random scores = normalised Mann-Whitney U
        ranks = np.argsort(np.argsort(rng.random(labels.size))) + 1
        aucs.append((ranks[labels == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))
    se = baselines.auc_standard_error(0.5, positives, negatives)
    assert se == pytest.approx(np.std(aucs), rel=0.1)
    assert se == pytest.approx(np.sqrt((0.25 + (positives - 1) / 12 + (negatives - 1) / 12)
                                       / (positives * negatives)))
    assert baselines.auc_standard_error(0.9, positives, negatives) < se  # narrower away from 0.5
    assert np.isnan(baselines.auc_standard_error(0.5, 0, negatives))
