"""The JAX-backend throughput benchmark runs the package's model math end to end (CPU, tiny sizes)."""
import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

from benchmarks.model_flops import train_flops_per_sequence
from configs import get_config

pytest.importorskip("jax")
ROOT = pathlib.Path(__file__).parents[2]
OVERRIDES = ["model.encoder.vocab_size=512", "model.encoder.num_layers=1", "model.encoder.hidden_size=64",
             "model.encoder.embedding_size=32", "model.encoder.intermediate_size=128"]


def run(*args):
    # XLA's cheapest CPU code generation: compiling the step takes about half as long.
    flags = "--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true"
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "XLA_FLAGS": flags}
    return subprocess.run([sys.executable, "-m", "benchmarks.accelerator_throughput", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)


def test_tiny_training_steps_under_jax_report_rates_flops_and_finite_losses():
    flags = [f"--override={o}" for o in OVERRIDES]
    done = run("--config=tiny", "--precision=bf16", "--batch_size=4", "--steps=2", "--repeats=1", *flags)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["backend"] == "jax" and result["keras_policy"] == "mixed_bfloat16"
    assert result["sequences_per_sec"] > 0 and result["steps_per_sec"] > 0
    config = get_config("tiny", OVERRIDES + ["model.max_predictions_per_seq=20"]).model
    assert result["train_gflops_per_sequence"] == pytest.approx(train_flops_per_sequence(config, 128) / 1e9)
    metrics = result["last_repeat_metrics"]
    assert math.isfinite(result["first_step_loss"]) and result["first_step_loss"] > 0
    for name in ("loss", "mlm_loss", "disc_loss"):
        assert math.isfinite(metrics[name]) and metrics[name] > 0, name
    # 2 steps of 4 full-length rows: the generator made replacements the discriminator saw.
    assert 0 < metrics["replaced_fraction"] < 0.15
    assert result["peak_tflops"] is None and result["model_flops_utilization"] is None  # no known chip


def test_a_bad_override_is_one_line_and_status_2():
    done = run("--config=tiny", "--override=model.encoder.no_such_key=1")
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "no_such_key" in done.stderr
