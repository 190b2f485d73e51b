"""The transfer curve reads the points of one pre-training run: its kept checkpoints and the
held-out metrics evaluated at them."""
import os

import pytest

from benchmarks.transfer_curve import checkpoints, heldout_by_step, parse_args
from tests.trainers.conftest import TINY_OVERRIDES, write_data


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("tfrecords"))
    write_data(directory)
    return directory


def test_points_are_the_milestones_with_their_heldout_metrics(tiny_data, tmp_path):
    from trainers.pretrain import main as pretrain_main
    run = tmp_path / "pretrain"
    overrides = [o for o in TINY_OVERRIDES if "num_steps" not in o] + [
        "train.num_steps=6", "train.milestone_every=2", "train.eval_every=2"]
    assert pretrain_main(["--data", os.path.join(tiny_data, "train-*"), "--eval_data",
                          os.path.join(tiny_data, "heldout-*"), "--model_dir", str(run), "--strategy=cpu"]
                         + [f"--override={o}" for o in overrides]) == 0
    found = checkpoints(str(run), every=2)
    assert list(found) == [2, 4, 6]
    assert found[2] == str(run / "milestones" / "ckpt-2")
    assert list(checkpoints(str(run), every=4)) == [4]
    held = heldout_by_step(str(run))
    assert sorted(held) == [2, 4, 6]
    for step in (2, 4, 6):
        assert 0 <= held[step]["disc_auc"] <= 1 and 0 <= held[step]["mlm_accuracy"] <= 1
    assert held[6]["constant_disc_loss"] > 0 and held[2] != held[4]


def test_every_must_divide_the_steps(capsys):
    base = ["--data=d", "--train_file=t", "--eval_file=e", "--output_dir=o"]
    assert parse_args(base + ["--steps=12000", "--every=1500"]).every == 1500
    with pytest.raises(SystemExit) as raised:
        parse_args(base + ["--steps=1000", "--every=300"])
    assert raised.value.code == 2 and "must be positive and divide" in capsys.readouterr().err
