"""What every entry point (`python -m pipelines.*`, `python -m trainers.*`) shares.

- TensorFlow's C++ start-up noise (CUDA probing on machines without a GPU,
  oneDNN notices) stays off the screen: the packages `pipelines` and
  `trainers` call `quiet_tensorflow()` when they are imported for an entry
  point, before any module imports TensorFlow; it sets TF_CPP_MIN_LOG_LEVEL=3
  unless the user set it or passed --verbose.
- A user's mistake (UserError, or a missing file) is one line on stderr and
  exit status 2, no traceback; --verbose shows the traceback.

No TensorFlow import here: the pipeline launcher stays light.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys

VERBOSE = "--verbose"


class UserError(ValueError):
    """A mistake in what the user gave (a path, a file's contents, a flag): the message says
    which file or flag and what is wrong."""


def verbose(argv=None) -> bool:
    return VERBOSE in (sys.argv[1:] if argv is None else argv)


def running_entry_point() -> bool:
    """Whether this process runs one of the project's entry points (`python -m pipelines.X`,
    `trainers.X` or `benchmarks.X`), as opposed to a user's program or the tests importing the project."""
    argv = getattr(sys, "orig_argv", [])
    module = argv[argv.index("-m") + 1] if "-m" in argv[:-1] else ""
    return module.startswith(("pipelines.", "trainers.", "benchmarks."))


def quiet_tensorflow(argv=None) -> None:
    """Hides TensorFlow's C++ logs below FATAL and its Python warnings, and Beam's import-time
    warnings about optional cloud clients (the `gcp` extra installs them), unless the user set
    TF_CPP_MIN_LOG_LEVEL or passed --verbose. Call before importing tensorflow or apache_beam."""
    if verbose(argv):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("apache_beam.io.filesystems").setLevel(logging.ERROR)
    logging.getLogger().addFilter(lambda record: not str(record.msg).startswith("apitools not found"))


def run(main, argv=None) -> int:
    """Runs `main(argv)` (argv without --verbose); a user's mistake becomes one stderr line and
    status 2. Returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    show_traceback = VERBOSE in argv
    argv = [a for a in argv if a != VERBOSE]
    try:
        return main(argv)
    except Exception as err:  # noqa: BLE001 (only the user's mistakes are caught; the rest re-raised)
        if show_traceback or not is_user_error(err):
            raise
        spec = getattr(sys.modules.get("__main__"), "__spec__", None)
        name = spec.name if spec else os.path.basename(sys.argv[0] if sys.argv else "")
        print(f"{name}: error: {message(err)}", file=sys.stderr)
        return 2


# What the file layers raise for a path the user gave: missing, unreadable or unwritable, a file
# where a directory is needed or the reverse (Python's and TensorFlow's names).
_PATH_ERRORS = (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError)
_TF_PATH_ERRORS = ("NotFoundError", "PermissionDeniedError", "AlreadyExistsError")


class _CurrentStdout(logging.Handler):
    """Writes each record to what sys.stdout is when the record is emitted (redirected or captured
    output included), so a handler installed once never writes to a stream closed since."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stdout.write(self.format(record) + "\n")
        except Exception:  # noqa: BLE001 (logging's own convention: report, never raise)
            self.handleError(record)


def log_to_stdout(name: str) -> None:
    """Shows logger `name`'s INFO records on stdout, as plain messages; idempotent."""
    logger = logging.getLogger(name)
    if not any(isinstance(h, _CurrentStdout) for h in logger.handlers):
        handler = _CurrentStdout()
        handler.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def is_user_error(err: Exception) -> bool:
    """UserError, or a file layer's error about a path (missing, not permitted, of the wrong kind)."""
    tf_path = type(err).__name__ in _TF_PATH_ERRORS and type(err).__module__.startswith("tensorflow")
    return isinstance(err, (UserError, *_PATH_ERRORS)) or tf_path


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line, `PROG: error: MESSAGE (see --help)`, with status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def message(err: Exception) -> str:
    text = getattr(err, "message", None) or str(err)
    return " ".join(text.split())  # one line
