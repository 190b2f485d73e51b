"""Checks of the benchmarks' flags, made before anything runs: a value out of range, a pattern
that matches nothing or a preset or override that does not exist is a user's mistake
(core.cli.UserError: one line and status 2)."""
from __future__ import annotations

import glob

from configs import PretrainConfig, get_config
from core import cli


def require_positive(args, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        if value <= 0:
            raise cli.UserError(f"--{name} must be positive, got {value}")


def require_matches(pattern: str, flag: str) -> list[str]:
    """The files `pattern` matches; none is an error naming the flag."""
    matched = sorted(glob.glob(pattern))
    if not matched:
        raise cli.UserError(f"{flag} {pattern!r} matches no files")
    return matched


def preset_config(preset: str, overrides: list[str]) -> PretrainConfig:
    """get_config(preset, overrides); an unknown preset or key or a bad value is a UserError."""
    try:
        return get_config(preset, overrides)
    except ValueError as err:
        raise cli.UserError(str(err)) from None
