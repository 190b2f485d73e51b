"""The CPU throughput benchmark runs both train steps and times every part of ours (tiny, one step):
its counts of steps and tokens match what was asked for, and its rates agree with each other."""
import json
import pathlib
import statistics
import subprocess
import sys

import pytest

from benchmarks.model_flops import train_flops_per_sequence
from configs import get_config

ROOT = pathlib.Path(__file__).parents[2]
PARTS = {"masking", "generator_forward_backward", "sampling", "discriminator_forward_backward", "optimizer"}
BATCH, STEPS, REPEATS, SEQ = 4, 1, 2, 128


def test_tiny_float32_without_xla_reports_consistent_counts_rates_and_step_parts():
    done = subprocess.run([sys.executable, "-m", "benchmarks.train_throughput", "--config=tiny",
                           f"--batch_size={BATCH}", f"--steps={STEPS}", f"--repeats={REPEATS}", "--jit=off",
                           "--precision=float32"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    gflops = train_flops_per_sequence(get_config("tiny").model, SEQ) / 1e9
    assert result["train_gflops_per_sequence"] == pytest.approx(gflops)
    entry = result["float32"]["no_xla"]
    for name in ("ours", "model_garden"):
        rates = entry[name]
        # Both made the same updates (one warm-up, then the timed ones) over full-length rows.
        assert rates["optimizer_steps"] == 1 + REPEATS * STEPS, name
        assert rates["tokens_per_step"] == BATCH * SEQ, name
        step_s = 1 / rates["steps_per_sec"]
        assert step_s * STEPS == pytest.approx(statistics.median(rates["seconds_per_repeat"]), abs=1e-3), name
        assert rates["tokens_per_sec"] == pytest.approx(BATCH * SEQ / step_s), name
        assert rates["sequences_per_sec"] == pytest.approx(BATCH / step_s), name
        assert rates["gflops_per_sec"] == pytest.approx(BATCH * gflops / step_s), name
    ours, garden = entry["ours"], entry["model_garden"]
    assert entry["ours_over_model_garden"] == ours["steps_per_sec"] / garden["steps_per_sec"]
    parts = entry["step_parts"]
    seconds = parts["seconds"]
    assert set(seconds) == PARTS | {"other"}
    assert seconds["discriminator_forward_backward"] > 0 and seconds["generator_forward_backward"] > 0
    # The parts and the rest add up to the whole step (each rounded to 0.1 ms).
    assert sum(seconds.values()) == pytest.approx(1 / ours["steps_per_sec"], abs=1e-3)
    assert sum(parts["fraction"].values()) == pytest.approx(1, abs=0.01)
    assert result["cpu"] and isinstance(result["cpu_features"], list)
