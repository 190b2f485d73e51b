"""One progress line per logging interval: step, the task's metrics, learning rate, speed and ETA."""
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

    def update(self, step: int, steps_done: int, text: str, tokens_per_sec: float, learning_rate: float) -> None:
        """Logs `text` (the task's metrics) with the learning rate, speed and ETA at `step`."""
        now = time.perf_counter()
        elapsed, self._last = now - self._last, now
        if not self._first:
            self._timed_steps += steps_done
            self._timed_seconds += elapsed
        self._first = False
        rate = self._timed_steps / self._timed_seconds if self._timed_seconds else steps_done / elapsed
        eta = (self.total_steps - step) / rate if rate else float("inf")
        self.log(f"step {step}/{self.total_steps} | {text} | lr {learning_rate:.2e} "
                 f"| {rate:.2f} steps/s {tokens_per_sec:,.0f} tok/s | ETA {format_duration(eta)}")
