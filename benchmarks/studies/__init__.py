"""Studies: research scripts and notes on why pre-training does or does not transfer (`python -m benchmarks.studies.NAME`)."""
