"""What trainers.export places in a SavedModel: one tf.Module per kind of run, each with a `serve`
tf.function that takes raw text, plus the warmup requests TF Serving replays when it loads it."""
