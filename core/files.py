"""The file layer core's readers and writers go through: TensorFlow's (trainers) or Beam's (pipelines).

Both reach local paths and gs:// (Beam: with the `gcp` extra); Beam's also s3:// and the other
file systems of its extras, so the Beam job writes its manifest where its runner can. Neither is
imported until used: the Beam job's launcher never imports TensorFlow.
"""
from __future__ import annotations

import dataclasses
import os
from typing import Callable

from core.cli import UserError


@dataclasses.dataclass(frozen=True)
class Files:
    """Binary file access: read(path) -> bytes, write(path, bytes), exists(path), isdir(path),
    makedirs(path), glob(pattern) -> sorted paths."""
    read: Callable[[str], bytes]
    write: Callable[[str, bytes], None]
    exists: Callable[[str], bool]
    isdir: Callable[[str], bool]
    makedirs: Callable[[str], None]
    glob: Callable[[str], list[str]]


def _gfile() -> Files:
    import tensorflow as tf

    def read(path: str) -> bytes:
        with tf.io.gfile.GFile(path, "rb") as f:
            return f.read()

    def write(path: str, data: bytes) -> None:
        with tf.io.gfile.GFile(path, "wb") as f:
            f.write(data)

    def makedirs(path: str) -> None:
        try:
            tf.io.gfile.makedirs(path)
        except tf.errors.FailedPreconditionError as err:  # a file where a directory must be
            raise NotADirectoryError(f"{path}: {err.message}") from None

    return Files(read, write, tf.io.gfile.exists, tf.io.gfile.isdir, makedirs,
                 lambda pattern: sorted(tf.io.gfile.glob(pattern)))


def _beam() -> Files:
    from apache_beam.io.filesystem import CompressionTypes
    from apache_beam.io.filesystems import FileSystems

    def read(path: str) -> bytes:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            return f.read()

    def write(path: str, data: bytes) -> None:
        with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            f.write(data)

    def glob(pattern: str) -> list[str]:
        return sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)

    def makedirs(path: str) -> None:
        if not FileSystems.exists(path):
            FileSystems.mkdirs(path)

    # Object stores have no directories: only local paths can be one.
    return Files(read, write, FileSystems.exists, os.path.isdir, makedirs, glob)


def _local() -> Files:
    def read(path: str) -> bytes:
        with open(path, "rb") as f:
            return f.read()

    def write(path: str, data: bytes) -> None:
        with open(path, "wb") as f:
            f.write(data)

    import glob
    return Files(read, write, os.path.exists, os.path.isdir, lambda path: os.makedirs(path, exist_ok=True),
                 lambda pattern: sorted(glob.glob(pattern)))


_LAYERS: dict[str, Callable[[], Files]] = {"tensorflow": _gfile, "beam": _beam, "local": _local}
_made: dict[str, Files] = {}


def layer(name: str = "tensorflow") -> Files:
    """The file layer `name` ("tensorflow": tf.io.gfile, "beam": Beam's FileSystems, "local": Python's)."""
    if name not in _made:
        _made[name] = _LAYERS[name]()
    return _made[name]


def check_directory(path: str, flag: str, files: Files | None = None) -> None:
    """`path` (given with `flag`) must be a directory or not exist yet, nor lie under a file: one
    UserError line otherwise. Local paths need no file layer beyond Python's (no TensorFlow import)."""
    files = files or layer("local" if "://" not in path else "tensorflow")
    ancestor = path  # the nearest part of the path that exists
    while ancestor and not files.exists(ancestor):
        ancestor = os.path.dirname(ancestor.rstrip("/"))
    if ancestor and not files.isdir(ancestor):
        where = "is a file" if ancestor == path else f"is under {ancestor}, a file"
        raise UserError(f"{flag} {path} {where}; give a directory")
