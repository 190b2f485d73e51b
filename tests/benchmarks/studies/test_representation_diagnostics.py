"""The representation study on a fresh tiny model: its RTD numbers are the loss module's
metrics over the held-out tokens, and its per-level statistics come from the encoder's own layers."""
import numpy as np
import pytest

from benchmarks.studies.representation_diagnostics import (effective_rank, heldout_features,
                                                           representation_statistics, rtd_diagnostics)
from configs import get_config, with_vocab_size
from models.pretrainer import ElectraPretrainer
from tests.trainers.conftest import SEQ, TINY_OVERRIDES, write_data
from trainers.baselines import constant_disc_loss

SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}


def test_effective_rank_counts_the_directions_of_equal_spread():
    assert effective_rank(np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])) == pytest.approx(2)
    assert effective_rank(np.array([[1.0, 2], [2, 4], [3, 6]])) == pytest.approx(1)


def test_rtd_and_level_statistics_of_a_random_initialisation(tmp_path):
    write_data(str(tmp_path))
    config = with_vocab_size(get_config("tiny", TINY_OVERRIDES), 64).model
    model = ElectraPretrainer(config, SPECIAL, seed=0)
    heldout = str(tmp_path / "heldout-*")
    features = heldout_features(heldout, SEQ, 1)  # one batch of 32 rows
    rtd = rtd_diagnostics(model, heldout, str(tmp_path / "train-*"), SEQ, 1)
    assert rtd["tokens"] == features["input_mask"].sum()
    assert 0 < rtd["replaced_fraction"] < 0.3
    assert rtd["constant_disc_loss"] == constant_disc_loss(rtd["replaced_fraction"])
    assert rtd["disc_loss"] > 0 and 0 <= rtd["disc_auc"] <= 1 and 0 <= rtd["token_prior_auc"] <= 1
    generator = rtd["generator"]
    assert 0 < generator["target_unigram_entropy"] <= np.log(64)
    assert 0 < generator["mean_entropy"] <= np.log(64) + 1e-6  # nats over the 64-token vocabulary
    levels = representation_statistics(model.discriminator, features, 1)
    assert [level["level"] for level in levels] == list(range(config.encoder.num_layers + 1))
    assert "attention_entropy" not in levels[0]
    for level in levels[1:]:  # fresh weights attend almost uniformly
        assert 0.9 < level["attention_entropy_lowest_head"] <= level["attention_entropy"] <= 1 + 1e-6
        assert 1 <= level["effective_rank"] <= config.encoder.hidden_size
