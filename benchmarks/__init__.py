"""Scripts that measure and print JSON; run them from the repository root as `python -m benchmarks.NAME`."""
import sys

from core import cli

# As for the entry points of pipelines and trainers (core/cli.py): TensorFlow's start-up noise
# stays off the screen, so that a mistake is one line.
_argv = getattr(sys, "orig_argv", [])
if "-m" in _argv[:-1] and _argv[_argv.index("-m") + 1].startswith("benchmarks."):
    cli.quiet_tensorflow()
