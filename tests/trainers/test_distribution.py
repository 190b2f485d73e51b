"""Distributed training equals single-device training (issue 5).

After N steps at the same global batch, every weight and optimizer slot under
MirroredStrategy over 2 logical CPU devices, and under
MultiWorkerMirroredStrategy with 2 worker processes on loopback, equals a
single-device run within 1e-5; so does MirroredStrategy with gradient
accumulation over micro-batches of equal counts. This holds because gradients
are normalised by global counts and masks and samples are keyed by example content
(models.hash_random), not by an example's replica or row. Dropout draws depend
on the replica's slice, so these runs set dropout to 0.

Each run is its own process (the accumulation test's two runs share one):
logical devices and TF_CONFIG must be set before TensorFlow initialises. The data has 2 equal files and no record shuffling, so
each global batch holds the same examples in every run: the single device reads
both files interleaved, each worker reads one.
"""
import functools
import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from configs import get_config, with_vocab_size
from tests.trainers.conftest import SEQ, TINY_OVERRIDES, write_word_task
from tests.trainers.test_grad_accumulation import write_full_length_data
from tests.trainers.test_loop import SPECIAL
from trainers.distribution import make_strategy
from trainers.loop import Trainer
from trainers.tasks.pretraining import PretrainingTask

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STEPS = 4
OVERRIDES = TINY_OVERRIDES + [
    "model.encoder.dropout_rate=0", "model.encoder.attention_dropout_rate=0", "train.shuffle_buffer=1",
    f"train.num_steps={STEPS}", f"train.checkpoint_every={STEPS}", f"train.log_every={STEPS}",
]
# Sets the logical CPU devices before TensorFlow starts, then runs the entry point's main.
DRIVER = """
import importlib
import sys
import tensorflow as tf
devices = int(sys.argv[1])
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
sys.exit(importlib.import_module(sys.argv[2]).main(sys.argv[3:]))
"""


def _start(data_dir, model_dir, strategy, devices=1, tf_config=None):
    args = [sys.executable, "-c", DRIVER, str(devices), "trainers.pretrain", "--data",
            os.path.join(data_dir, "train-*"), "--model_dir", str(model_dir), "--strategy", strategy]
    args += [f"--override={o}" for o in OVERRIDES]
    return _popen(args, tf_config)


def _popen(args, tf_config=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_DETERMINISTIC_OPS="1")
    env.pop("TF_CONFIG", None)
    if tf_config:
        env["TF_CONFIG"] = json.dumps(tf_config)
    return subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _finish(process, timeout=300):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output
    assert f"step {STEPS}/{STEPS}" in output, output
    return output


def _weights(model_dir):
    """Model variables (with the seed states) and optimizer slots of the latest checkpoint."""
    reader = tf.train.load_checkpoint(str(model_dir))
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith(("model/", "optimizer/")))
    return {n: reader.get_tensor(n) for n in names}


def _max_difference(a, b):
    assert a.keys() == b.keys() and len(a) > 20
    return max(float(np.abs(a[n].astype(np.float64) - b[n].astype(np.float64)).max()) for n in a)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def single_device(tiny_data, tmp_path_factory):
    """() -> the single-device run's weights; the run starts at once and goes on while
    the test starts its own."""
    model_dir = tmp_path_factory.mktemp("single")
    process = _start(tiny_data, model_dir, "cpu")
    yield functools.cache(lambda: (_finish(process), _weights(model_dir))[1])
    process.kill()
    process.wait()


def test_mirrored_over_two_cpu_devices_equals_one_device(tiny_data, single_device, tmp_path):
    output = _finish(_start(tiny_data, tmp_path, "mirrored", devices=2))
    assert "MirroredStrategy with 2 replica(s)" in output
    difference = _max_difference(_weights(tmp_path), single_device())
    print(f"mirrored vs single device after {STEPS} steps: max |difference| {difference:.3g}")
    assert difference < 1e-5


@pytest.mark.slow
def test_two_workers_on_loopback_equal_one_device(tiny_data, single_device, tmp_path):
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = [_start(tiny_data, tmp_path, "multi_worker_mirrored",
                      tf_config={"cluster": cluster, "task": {"type": "worker", "index": i}})
               for i in range(2)]
    assert all("with 2 replica(s)" in _finish(w) for w in workers)
    chief = _weights(tmp_path)  # the chief writes model_dir, worker 1 model_dir/workers/1
    difference = _max_difference(chief, single_device())
    print(f"2 workers vs single device after {STEPS} steps: max |difference| {difference:.3g}")
    assert difference < 1e-5
    assert _max_difference(_weights(tmp_path / "workers" / "1"), chief) == 0
    assert (tmp_path / "config.json").exists() and not (tmp_path / "workers" / "1" / "train").exists()


def main(argv):
    """DRIVER's entry point for the accumulation test, in a process with 2 logical CPU devices:
    argv [data_dir, model_dir]. Trains 2 steps on one device without accumulation and under
    MirroredStrategy with 2 micro-batches (of full-length rows: equal counts); prints how far
    training moved the weights and the max |difference| of the runs' variables (weights, seed
    states, optimizer slots)."""
    data_dir, model_dir = argv
    runs = {}
    for strategy, accumulation in (("cpu", 1), ("mirrored", 2)):
        config = with_vocab_size(get_config("tiny", TINY_OVERRIDES + [
            f"train.grad_accumulation_steps={accumulation}",
            "model.encoder.dropout_rate=0", "model.encoder.attention_dropout_rate=0"]), 64)
        task = PretrainingTask(config, SPECIAL, os.path.join(data_dir, "train-*"), SEQ)
        trainer = Trainer(task, make_strategy(strategy), f"{model_dir}/{strategy}")
        before = [np.asarray(v) for v in trainer.model.trainable_variables]
        trainer.run_steps(2)  # the learning rate is 0 at step 0: step 1 moves the weights
        runs[strategy] = [np.asarray(v) for v in trainer.model.variables + trainer.optimizer.variables]
    moved = max(float(np.abs(a - np.asarray(b)).max()) for a, b in zip(before, trainer.model.trainable_variables))
    difference = max(float(np.abs(a - b).max()) for a, b in zip(runs["cpu"], runs["mirrored"]))
    print(json.dumps({"moved": moved, "difference": difference}))


def test_accumulation_under_mirrored_equals_one_device_without(tmp_path):
    """2 micro-batches per replica under MirroredStrategy update as the whole batch on one device."""
    data_dir = write_full_length_data(tmp_path)
    process = _popen([sys.executable, "-c", DRIVER, "2", __name__, data_dir, str(tmp_path / "runs")])
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    result = json.loads(output.strip().splitlines()[-1])
    print(f"mirrored, 2 micro-batches vs one device, whole batch: max |difference| {result['difference']:.3g}")
    assert result["moved"] > 1e-4 and result["difference"] < 1e-5


def test_finetuning_under_mirrored_equals_one_device(pretrained_run, tmp_path):
    """The fine-tuning task rides the same loop: same weights, and the same evaluation over a
    split whose last batch does not divide over the replicas."""
    train = write_word_task(tmp_path / "train.csv", 37)
    args = ["trainers.finetune", "--task=classification", "--init_checkpoint", pretrained_run, "--train_file", train,
            "--eval_file", train, "--text_columns=text", "--label_column=label"] + [
        f"--override={o}" for o in ("task.max_seq_length=16", "train.batch_size=8", f"train.num_steps={STEPS}",
                                    "encoder.dropout_rate=0", "encoder.attention_dropout_rate=0")]
    runs = {}
    for name, strategy, devices in (("one", "cpu", 1), ("mirrored", "mirrored", 2)):
        runs[name] = _popen([sys.executable, "-c", DRIVER, str(devices)] + args + [
            "--model_dir", str(tmp_path / name), "--strategy", strategy])
    for name, process in runs.items():
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, output
    assert _max_difference(_weights(tmp_path / "mirrored"), _weights(tmp_path / "one")) < 1e-5
    one, mirrored = (json.loads((tmp_path / n / "eval_results.json").read_text())["eval"] for n in ("one", "mirrored"))
    assert one["examples"] == mirrored["examples"] == 37
    assert mirrored["accuracy"] == one["accuracy"] and mirrored["loss"] == pytest.approx(one["loss"], rel=1e-5)
