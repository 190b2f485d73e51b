"""Driving an entry point with a user's mistake: one stderr line, status 2, no traceback, and
the directories it was pointed at left exactly as they were."""
from __future__ import annotations

import hashlib
import os

from core import cli


def snapshot(*paths) -> dict:
    """{file: (size, sha256)} of every file under `paths` (files or directories; missing ones: None)."""
    state = {}
    for path in map(str, paths):
        if os.path.isfile(path):
            walked = [(os.path.dirname(path), [os.path.basename(path)])]
        else:
            walked = [(root, files) for root, _, files in os.walk(path)] if os.path.isdir(path) else []
            state[path] = None if not walked else "dir"
        for root, files in walked:
            for name in files:
                file = os.path.join(root, name)
                with open(file, "rb") as f:
                    state[file] = (os.path.getsize(file), hashlib.sha256(f.read()).hexdigest())
    return state


def run_mistake(main, argv: list[str], capsys, watched=()) -> str:
    """Runs `main` as its entry point does (core.cli.run) with `argv`; asserts status 2, one
    stderr line holding "error:" (besides progress bars, which redraw with carriage returns) and
    no traceback, and `watched` paths unchanged. Returns the line."""
    before = snapshot(*watched)
    try:
        status = cli.run(main, list(argv))
    except SystemExit as exit_:  # argparse's errors
        status = exit_.code
    out, err = capsys.readouterr()
    lines = [line for line in err.split("\n") if line.strip() and not line.startswith("\r")]  # not progress bars
    assert status == 2, (argv, out, err)
    assert len(lines) == 1 and "error:" in lines[0], (argv, err)
    assert "Traceback" not in out + err
    assert snapshot(*watched) == before, f"{argv} changed {watched}"
    return lines[0]
