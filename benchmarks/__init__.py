"""Scripts that measure and print JSON; run them from the repository root as `python -m benchmarks.NAME`."""
