"""The CPU throughput benchmark runs both train steps and times every part of ours (tiny, one step)."""
import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).parents[2]
PARTS = {"masking", "generator_forward_backward", "sampling", "discriminator_forward_backward", "optimizer"}


def test_tiny_float32_without_xla_reports_both_rates_the_ratio_and_the_step_parts():
    done = subprocess.run([sys.executable, "benchmarks/train_throughput.py", "--config=tiny", "--batch_size=4",
                           "--steps=1", "--repeats=1", "--jit=off", "--precision=float32"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    entry = result["float32"]["no_xla"]
    ours, garden = entry["ours"], entry["model_garden"]
    assert ours["steps_per_sec"] > 0 and garden["steps_per_sec"] > 0
    assert entry["ours_over_model_garden"] == ours["steps_per_sec"] / garden["steps_per_sec"]
    seconds = entry["step_parts"]["seconds"]
    assert set(seconds) == PARTS | {"other"}
    assert seconds["discriminator_forward_backward"] > 0 and seconds["generator_forward_backward"] > 0
    assert all(seconds[name] >= 0 for name in PARTS)  # rounded to 0.1 ms: tiny masking may read 0
    assert result["cpu"] and isinstance(result["cpu_features"], list)
