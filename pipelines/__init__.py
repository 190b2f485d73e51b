"""Apache Beam jobs and the corpus, tokenizer and vocabulary code they use."""
from core import cli

if cli.running_entry_point():
    cli.quiet_tensorflow()
