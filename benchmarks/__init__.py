"""Scripts that measure and print JSON; run them from the repository root as `python -m benchmarks.NAME`."""
from core import cli

# As for every entry point (core/cli.py): TensorFlow's start-up noise stays off the screen.
if cli.running_entry_point():
    cli.quiet_tensorflow()
