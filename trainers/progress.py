"""One progress line per logging interval: step, losses, accuracy, speed and ETA."""
from __future__ import annotations

import math
import time


def format_duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


class ProgressLog:
    """Steps/s are measured from the second interval on (the first includes tracing)."""

    def __init__(self, total_steps: int, log=print):
        self.total_steps, self.log = total_steps, log
        self._first = True
        self._timed_steps, self._timed_seconds = 0, 0.0
        self._last = time.perf_counter()

    def update(self, step: int, steps_done: int, metrics: dict) -> None:
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        if not self._first:
            self._timed_steps += steps_done
            self._timed_seconds += elapsed
        self._first = False
        rate = self._timed_steps / self._timed_seconds if self._timed_seconds else steps_done / elapsed
        eta = (self.total_steps - step) / rate if rate else float("inf")
        extra = ""  # sentence order, adversarial generator training
        if "sop_loss" in metrics:
            extra += f" | sop {metrics['sop_loss']:.4f} sop_acc {metrics['sop_accuracy']:.3f}"
        if "generator_reward" in metrics:
            extra += f" | reward {metrics['generator_reward']:.4f}"
        self.log(
            f"step {step}/{self.total_steps} | loss {metrics['loss']:.3f} mlm {metrics['mlm_loss']:.3f} "
            f"disc {metrics['disc_loss']:.4f} | disc_acc {metrics['disc_accuracy']:.3f} "
            f"mlm_acc {metrics['mlm_accuracy']:.3f} mlm_entropy {metrics['generator_entropy']:.2f}{extra} "
            f"| lr {metrics['learning_rate']:.2e} "
            f"| {rate:.2f} steps/s {metrics['tokens_per_sec']:,.0f} tok/s | ETA {format_duration(eta)}",
        )
