"""tf.data input, distribution, the training loop and its tasks, export and conversion."""
import sys

# trainers.serving_check shows that a SavedModel needs no project code: it imports none.
if "trainers.serving_check" not in getattr(sys, "orig_argv", []):
    from core import cli

    if cli.running_entry_point():
        cli.quiet_tensorflow()
