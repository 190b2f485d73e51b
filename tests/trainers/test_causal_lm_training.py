"""Causal-LM pre-training through the one loop: held-out perplexity beside n-gram baselines, mixed precision."""
import json
import math
import os

import numpy as np
import pytest

from trainers import baselines
from trainers.pretrain import main as pretrain_main
from tests.trainers.conftest import GPT_TINY_OVERRIDES


def _pretrain(data, model_dir, overrides=(), capsys=None):
    pretrain_main(["--config=gpt_tiny", "--data", os.path.join(data, "train-*"), "--eval_data",
                   os.path.join(data, "heldout-*"), "--model_dir", str(model_dir), "--strategy", "cpu"]
                  + [f"--override={o}" for o in GPT_TINY_OVERRIDES + list(overrides)])


def test_training_beats_the_unigram_and_reports_perplexity_bits_per_byte_and_tokens_per_second(
        causal_data, tmp_path, capsys):
    _pretrain(causal_data, tmp_path, ["train.num_steps=60", "train.log_every=20"])
    out = capsys.readouterr().out
    assert "step 60/60 | loss" in out and " tok/s " in out and "perplexity" in out
    metrics = json.load(open(tmp_path / "eval_results.json"))
    assert math.isclose(metrics["perplexity"], math.exp(metrics["loss"]), rel_tol=1e-6)
    assert metrics["loss"] < metrics["unigram_loss"] < math.log(300)
    assert 0 < metrics["bits_per_byte"] < metrics["unigram_bits_per_byte"]
    assert metrics["bigram_loss"] < metrics["unigram_loss"]


def test_mixed_precision_trains(causal_data, tmp_path):
    _pretrain(causal_data, tmp_path, ["train.precision=mixed_bfloat16", "train.num_steps=4"])
    assert np.isfinite(json.load(open(tmp_path / "eval_results.json"))["loss"])


def test_ngram_baselines_by_hand():
    train = np.array([[0, 1, 0, 1], [0, 1, 2, 0]])
    heldout = np.array([[0, 1, 2]])
    got = baselines.ngram_cross_entropies(train, heldout, vocab_size=3)
    # unigram over the training targets 1,0,1,1,2,0 with add-one: p(1) = 4/9, p(2) = 2/9
    assert got["targets"] == 2 and math.isclose(got["unigram"], -math.log(4 / 9) - math.log(2 / 9))
    # after 0: 1 three times (one type); after 1: 0 once, 2 once (two types); Witten-Bell
    p_1_after_0 = (3 + 1 * 4 / 9) / (3 + 1)
    p_2_after_1 = (1 + 2 * 2 / 9) / (2 + 2)
    assert math.isclose(got["bigram"], -math.log(p_1_after_0) - math.log(p_2_after_1))


def test_causal_lm_data_and_an_electra_config_do_not_mix(causal_data, tmp_path):
    from core.cli import UserError
    with pytest.raises(UserError, match="holds causal_lm data"):
        pretrain_main(["--config=tiny", "--data", os.path.join(causal_data, "train-*"), "--model_dir",
                       str(tmp_path), "--strategy", "cpu"])
