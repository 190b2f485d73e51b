"""Process-level interruption: SIGKILL at a random step, then resume; SIGTERM checkpoints first."""
import os
import random
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from tests.trainers.conftest import GPT_TINY_OVERRIDES, TINY_OVERRIDES, write_word_task

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _pretrain(data_dir, model_dir, overrides=()):
    args = ["trainers.pretrain", "--data", os.path.join(data_dir, "train-*"), "--model_dir", str(model_dir),
            "--strategy", "cpu"] + [f"--override={o}" for o in TINY_OVERRIDES + list(overrides)]
    return _start(args)


def _pretrain_causal_lm(data_dir, model_dir, overrides=()):
    args = ["trainers.pretrain", "--config=gpt_tiny", "--data", os.path.join(data_dir, "train-*"), "--model_dir",
            str(model_dir), "--strategy", "cpu"] + [f"--override={o}" for o in GPT_TINY_OVERRIDES + list(overrides)]
    return _start(args)


def _finetune(pretrained, train, model_dir, overrides=()):
    args = ["trainers.finetune", "--task=classification", "--init_checkpoint", pretrained, "--model_dir",
            str(model_dir), "--train_file", train, "--eval_file", train, "--text_columns=text",
            "--label_column=label", "--strategy=cpu"] + [f"--override={o}" for o in overrides]
    return _start(args)


def _start(args):
    args = [sys.executable, "-m"] + args
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_DETERMINISTIC_OPS="1")
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _wait_for(path, process, timeout=240):
    deadline = time.time() + timeout
    while not os.path.exists(path):
        assert process.poll() is None, process.stdout.read()
        assert time.time() < deadline, f"{path} did not appear"
        time.sleep(0.05)


def _weights(model_dir):
    reader = tf.train.load_checkpoint(str(model_dir))
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith(("model/", "optimizer/")))
    return {n: reader.get_tensor(n) for n in names}


@pytest.mark.parametrize("kind", ["pretrain", "finetune", "causal_lm"])
def test_sigkill_at_a_random_step_then_resume_matches_an_uninterrupted_run(kind, tiny_data, pretrained_run, causal_data,
                                                                           tmp_path):
    steps = ["train.num_steps=60", "train.checkpoint_every=2", "train.log_every=2", "train.steps_per_loop=1"]
    if kind == "pretrain":
        run = lambda model_dir: _pretrain(tiny_data, model_dir, steps)  # noqa: E731
    elif kind == "causal_lm":
        run = lambda model_dir: _pretrain_causal_lm(causal_data, model_dir, steps)  # noqa: E731
    else:
        train = write_word_task(tmp_path / "train.csv", 40)
        options = steps + ["task.max_seq_length=16", "train.batch_size=8"]  # 60 steps: 12 epochs of 5 batches
        run = lambda model_dir: _finetune(pretrained_run, train, model_dir, options)  # noqa: E731
    straight = run(tmp_path / "straight")
    killed_dir = tmp_path / "killed"
    killed = run(killed_dir)
    kill_after = 2 * random.Random().randint(1, 10)  # well before the end (step 60)
    _wait_for(str(killed_dir / f"ckpt-{kill_after}.index"), killed)
    time.sleep(random.Random().uniform(0, 0.2))  # somewhere between checkpoints
    killed.send_signal(signal.SIGKILL)
    assert killed.wait() == -signal.SIGKILL  # killed mid-run, not finished
    assert straight.wait() == 0
    resumed = run(killed_dir)
    output, _ = resumed.communicate()
    assert resumed.returncode == 0, output
    assert "resumed from" in output and "step 60/60" in output
    a, b = _weights(tmp_path / "straight"), _weights(killed_dir)
    assert a.keys() == b.keys() and len(a) > 20
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_sigterm_writes_a_checkpoint_before_exiting(tiny_data, tmp_path):
    process = _pretrain(tiny_data, tmp_path, ["train.num_steps=100000", "train.checkpoint_every=1000",
                                             "train.log_every=1", "train.steps_per_loop=1"])
    _wait_for(str(tmp_path / "train"), process)  # the loop has started
    time.sleep(3)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    step = int(tf.train.latest_checkpoint(str(tmp_path)).rsplit("-", 1)[1])
    assert 0 < step < 1000 and f"stopped at step {step}" in output
