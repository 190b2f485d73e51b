"""The file layer core's readers and writers go through: TensorFlow's (trainers) or Beam's (pipelines).

Both reach local paths and gs:// (Beam: with the `gcp` extra); Beam's also s3:// and the other
file systems of its extras, so the Beam job writes its manifest where its runner can. Neither is
imported until used: the Beam job's launcher never imports TensorFlow.
"""
from __future__ import annotations

import dataclasses
from typing import IO, Callable


@dataclasses.dataclass(frozen=True)
class Files:
    """Binary file access: read(path) -> bytes, write(path, bytes), exists(path), makedirs(path),
    glob(pattern) -> sorted paths."""
    read: Callable[[str], bytes]
    write: Callable[[str, bytes], None]
    exists: Callable[[str], bool]
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

    return Files(read, write, tf.io.gfile.exists, makedirs, lambda pattern: sorted(tf.io.gfile.glob(pattern)))


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

    return Files(read, write, FileSystems.exists, makedirs, glob)


_LAYERS: dict[str, Callable[[], Files]] = {"tensorflow": _gfile, "beam": _beam}
_made: dict[str, Files] = {}


def layer(name: str = "tensorflow") -> Files:
    """The file layer `name` ("tensorflow": tf.io.gfile, "beam": Beam's FileSystems)."""
    if name not in _made:
        _made[name] = _LAYERS[name]()
    return _made[name]


def opener(files: Files) -> Callable[[str], IO[bytes]]:
    """path -> a binary file object holding the file's bytes (for readers that want a file)."""
    import io
    return lambda path: io.BytesIO(files.read(path))
