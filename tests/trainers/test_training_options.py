"""Objectives, two-stage training and step options through the real trainer (a few steps each)."""
import math

import numpy as np
import pytest

from tests.trainers.test_loop import make_trainer


def _run(tiny_data, tmp_path, overrides):
    trainer = make_trainer(tiny_data, tmp_path, ["train.num_steps=4", "train.log_every=4"] + overrides)
    metrics = trainer.train(log=lambda _: None)
    assert trainer.step == 4 and math.isfinite(metrics["loss"]) and metrics["loss"] > 0
    return trainer, metrics


@pytest.mark.parametrize("overrides", [
    ["model.objective=mlm"], ["model.objective=electra_15"], ["model.objective=replace_mlm"],
    ["model.objective=all_tokens_mlm"], ["model.generator=uniform"],
    ["train.precision=mixed_bfloat16", "train.steps_per_loop=1"],
])
def test_option_trains(tiny_data, tmp_path, overrides):
    trainer, metrics = _run(tiny_data, tmp_path, overrides)
    evaluation = trainer.evaluate(2)
    assert math.isfinite(evaluation["mlm_loss"])
    if overrides == ["model.objective=mlm"]:
        assert not {"disc_loss", "disc_auc", "replaced_fraction"} & set(metrics)  # no discriminator
        assert not {"disc_loss", "constant_disc_loss"} & set(evaluation)
        assert metrics["tokens_per_sec"] > 0
    if "model.generator=uniform" in overrides:
        assert metrics["mlm_accuracy"] < 0.2


def test_float16_reports_its_dynamic_loss_scale(tiny_data, tmp_path):
    _, metrics = _run(tiny_data, tmp_path, ["train.precision=mixed_float16"])
    assert metrics["loss_scale"] > 1


def test_two_stage_trains_the_generator_then_the_discriminator_from_it(tiny_data, tmp_path):
    trainer = make_trainer(tiny_data, tmp_path, [
        "train.num_steps=8", "train.log_every=2", "model.sharing=none", "model.generator_size=1",
        "model.two_stage_generator_steps=4"])
    generator = lambda: [np.asarray(v) for v in trainer.model.generator.trainable_variables]
    discriminator = lambda: [np.asarray(v) for v in trainer.model.discriminator.trainable_variables]
    g0, d0 = generator(), discriminator()
    trainer.train(log=lambda _: None, until_step=4)
    g4, d4 = generator(), discriminator()
    assert all(np.array_equal(a, b) for a, b in zip(d0, d4))  # stage 1 leaves D alone
    assert not all(np.array_equal(a, b) for a, b in zip(g0, g4))
    trainer.train(log=lambda _: None)
    g8, d8 = generator(), discriminator()
    assert all(np.array_equal(a, b) for a, b in zip(g4, g8))  # stage 2 freezes G
    assert not all(np.array_equal(a, b) for a, b in zip(d4, d8))
    assert not all(np.array_equal(a, b) for a, b in zip(g4, d8))  # D started from G, then trained


def test_unigram_generator_is_set_from_the_data(tiny_data, tmp_path):
    trainer = make_trainer(tiny_data, tmp_path, ["model.generator=unigram"])
    counts = trainer.task.count_tokens()
    assert counts[0] == 0 and counts[2] == 256 and counts[3] == 256  # no [PAD]; one [CLS]/[SEP] each
    trainer.model.set_unigram_counts(counts)
    metrics = trainer.train(log=lambda _: None)
    assert math.isfinite(metrics["loss"]) and metrics["mlm_accuracy"] < 0.5
