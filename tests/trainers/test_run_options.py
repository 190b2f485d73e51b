"""Run options through the real trainer: milestones, --init_checkpoint, periodic evaluation,
TensorBoard scalars, XLA, and stopping on a non-finite loss."""
import contextlib
import io
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.trainers.conftest import TINY_OVERRIDES
from tests.trainers.test_loop import make_trainer
from trainers.pretrain import main as pretrain_main
from trainers.loop import NonFiniteLossError

QUIET = lambda _: None  # noqa: E731
METRICS = {"loss", "mlm_loss", "disc_loss", "mlm_accuracy", "sampled_accuracy", "disc_accuracy", "generator_entropy",
           "disc_precision", "disc_recall", "disc_auc", "replaced_fraction"}


def scalars(directory) -> dict:
    """{tag: {step: value}} from the TensorBoard event files in `directory`."""
    found = {}
    for path in tf.io.gfile.glob(os.path.join(str(directory), "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                found.setdefault(value.tag, {})[event.step] = float(tf.make_ndarray(value.tensor))
    return found


def checkpoint_steps(directory) -> list:
    return sorted(int(p.rsplit("-", 1)[1][:-len(".index")])
                  for p in tf.io.gfile.glob(os.path.join(str(directory), "ckpt-*.index")))


def model_tensors(prefix) -> list:
    """The model variables saved in checkpoint `prefix`, in model order."""
    reader = tf.train.load_checkpoint(str(prefix))
    count = sum(1 for n in reader.get_variable_to_shape_map() if n.startswith("model/"))
    return [reader.get_tensor(f"model/{i}/.ATTRIBUTES/VARIABLE_VALUE") for i in range(count)]


def _pretrain_args(data_dir, model_dir, overrides=()):
    return ["--data", os.path.join(data_dir, "train-*"), "--model_dir", str(model_dir), "--strategy", "cpu"] + [
        f"--override={o}" for o in TINY_OVERRIDES + list(overrides)]


def test_milestones_are_kept_while_regular_checkpoints_rotate_across_a_restart(tiny_data, tmp_path):
    options = ["train.checkpoint_every=2", "train.keep_checkpoints=2", "train.milestone_every=4"]
    trainer = make_trainer(tiny_data, tmp_path, options)
    trainer.train(log=QUIET, until_step=4)
    at_4 = [np.asarray(v) for v in trainer.model.variables]
    trainer.train(log=QUIET, until_step=6)
    del trainer
    resumed = make_trainer(tiny_data, tmp_path, options)
    assert resumed.restore() == 6
    resumed.train(log=QUIET)
    assert checkpoint_steps(tmp_path) == [10, 12]
    assert checkpoint_steps(tmp_path / "milestones") == [4, 8, 12]
    for saved, expected in zip(model_tensors(tmp_path / "milestones" / "ckpt-4"), at_4, strict=True):
        np.testing.assert_array_equal(saved, expected)
    assert not np.array_equal(model_tensors(tmp_path / "milestones" / "ckpt-8")[0], at_4[0])


def test_initialize_from_takes_model_weights_but_not_optimizer_or_seed_state(tiny_data, tmp_path):
    source = make_trainer(tiny_data, tmp_path / "source", ["train.num_steps=4"])
    source.train(log=QUIET)
    target = make_trainer(tiny_data, tmp_path / "target")
    fresh = [np.asarray(v) for v in target.model.variables]
    assert target.initialize_from(str(tmp_path / "source")).endswith("ckpt-4")
    restored = 0
    for variable, before, trained in zip(target.model.variables, fresh, source.model.variables, strict=True):
        expected = before if "seed_generator_state" in variable.path else np.asarray(trained)
        np.testing.assert_array_equal(np.asarray(variable), expected, err_msg=variable.path)
        restored += not np.array_equal(before, expected)
    assert restored > 20
    assert target.step == 0 and all(not np.any(np.asarray(v)) for v in target.optimizer.variables)


def test_pretrain_init_checkpoint_starts_a_new_run_and_is_ignored_on_resume(tiny_data, tmp_path, capsys):
    assert pretrain_main(_pretrain_args(tiny_data, tmp_path / "source", ["train.num_steps=4"])) == 0
    capsys.readouterr()
    args = _pretrain_args(tiny_data, tmp_path / "target", ["train.num_steps=4"])
    args += ["--init_checkpoint", str(tmp_path / "source" / "ckpt-4")]
    assert pretrain_main(args) == 0
    out = capsys.readouterr().out
    assert f"initialised the model from {tmp_path / 'source' / 'ckpt-4'}" in out and "step 4/4" in out
    assert checkpoint_steps(tmp_path / "target") == [4]  # counted from step 0, not from the source's 4
    assert pretrain_main([a.replace("num_steps=4", "num_steps=8") for a in args]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "initialised" not in out and "step 8/8" in out
    # The initial weights must come from a run, whose vocabulary can be checked against the data's.
    with pytest.raises(ValueError, match="no config.json beside it"):
        pretrain_main(_pretrain_args(tiny_data, tmp_path / "other") + ["--init_checkpoint", str(tmp_path)])


@pytest.fixture(scope="module")
def evaluated_run(tiny_data, tmp_path_factory):
    """A 12-step pretrain run logging every 4 steps, evaluating every 4 and at the end; (model_dir, stdout)."""
    model_dir = tmp_path_factory.mktemp("evaluated")
    args = _pretrain_args(tiny_data, model_dir, ["train.eval_every=4", "train.eval_batches=2"])
    args += ["--eval_data", os.path.join(tiny_data, "heldout-*")]
    with contextlib.redirect_stdout(io.StringIO()) as out:
        assert pretrain_main(args) == 0
    return model_dir, out.getvalue()


def test_train_scalars_hold_every_metric_the_learning_rate_gradient_norm_and_speed(evaluated_run):
    model_dir, _ = evaluated_run
    train = scalars(model_dir / "train")
    assert METRICS | {"grad_norm", "learning_rate", "tokens_per_sec"} == set(train)
    assert all(set(by_step) == {4, 8, 12} for by_step in train.values())
    for step in (4, 8, 12):
        assert train["loss"][step] == pytest.approx(train["mlm_loss"][step] + 50 * train["disc_loss"][step],
                                                    rel=1e-5)
        assert train["grad_norm"][step] > 0 and train["tokens_per_sec"][step] > 0
    # lr = 2e-3 * (1 - step / 12) after the 2 warmup steps, read after the step's update.
    assert [train["learning_rate"][s] for s in (4, 8, 12)] == pytest.approx([2e-3 * 8 / 12, 2e-3 * 4 / 12, 0])


def test_periodic_evaluation_writes_eval_scalars(evaluated_run):
    model_dir, out = evaluated_run
    assert "eval at step 4:" in out and "eval at step 8:" in out and "eval at step 12:" not in out
    evaluation = scalars(model_dir / "eval")
    assert METRICS | {"batches", "tokens", "masked_positions", "constant_disc_loss",
                      "most_frequent_token_accuracy"} == set(evaluation)
    assert all(set(by_step) == {4, 8, 12} for by_step in evaluation.values())  # 12: the final evaluation
    assert set(evaluation["batches"].values()) == {2.0}
    assert evaluation["mlm_loss"][12] < evaluation["mlm_loss"][4]


def test_jit_compiled_step_trains_like_the_plain_step(tiny_data, tmp_path):
    """Masks and samples are hashes (models.hash_random), the same under XLA; with dropout
    0 the two runs differ only by XLA's float rounding."""
    options = ["train.num_steps=30", "train.log_every=10",
               "model.encoder.dropout_rate=0", "model.encoder.attention_dropout_rate=0"]
    losses = {}
    for jit in ("false", "true"):
        trainer = make_trainer(tiny_data, tmp_path / jit, options + [f"train.jit_compile={jit}"])
        trainer.train(log=QUIET)
        assert trainer.step == 30
        losses[jit] = [scalars(tmp_path / jit / "train")["loss"][s] for s in (10, 20, 30)]
    plain, jit = losses["false"], losses["true"]
    assert jit[2] < jit[0] - 2  # about 28.9 -> 24.4
    assert jit == pytest.approx(plain, abs=0.05)


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_data, tmp_path):
    # Checkpoints (every 2 steps) are more frequent than the log lines (every 4).
    trainer = make_trainer(tiny_data, tmp_path, ["train.checkpoint_every=2", "train.log_every=4"])
    trainer.train(log=QUIET, until_step=4)
    kernel = trainer.model.discriminator_head.logit.kernel
    kernel.assign(np.full(kernel.shape, np.nan, np.float32))  # diverged after the step-4 checkpoint
    with pytest.raises(NonFiniteLossError, match=r"non-finite loss nan .*last good checkpoint is .*ckpt-4$"):
        trainer.train(log=QUIET)
    assert checkpoint_steps(tmp_path) == [2, 4] and tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-4")
    assert all(np.isfinite(t).all() for t in model_tensors(tmp_path / "ckpt-4"))
