"""Default corpus fetch: idempotence and checksum verification (pip mocked)."""
import hashlib
import os
import zipfile

import pytest

from pipelines import default_corpus


def test_existing_file_with_expected_sha_is_not_fetched(tmp_path, monkeypatch):
    path = tmp_path / default_corpus.FILENAME
    path.write_bytes(b"cached")
    monkeypatch.setattr(default_corpus, "SHA256", hashlib.sha256(b"cached").hexdigest())
    monkeypatch.setattr(default_corpus.subprocess, "run", pytest.fail)
    assert default_corpus.fetch_default_corpus(str(tmp_path)) == str(path)


def _fake_pip_download(member_bytes):
    def run(command, **kwargs):
        assert command[1:6] == ["-m", "pip", "download", "--no-deps", "gensim==4.4.0"]
        with zipfile.ZipFile(os.path.join(command[-1], "gensim-4.4.0-x.whl"), "w") as wheel:
            wheel.writestr(default_corpus.WHEEL_MEMBER, member_bytes)
            wheel.writestr("gensim/other.py", b"not extracted")
    return run


def test_fetch_extracts_only_the_member_atomically(tmp_path, monkeypatch):
    monkeypatch.setattr(default_corpus, "SHA256", hashlib.sha256(b"dump").hexdigest())
    monkeypatch.setattr(default_corpus.subprocess, "run", _fake_pip_download(b"dump"))
    path = default_corpus.fetch_default_corpus(str(tmp_path / "cache"))
    assert open(path, "rb").read() == b"dump"
    assert os.listdir(tmp_path / "cache") == [default_corpus.FILENAME]


def test_wrong_checksum_is_refused_and_stale_file_kept(tmp_path, monkeypatch):
    (tmp_path / default_corpus.FILENAME).write_bytes(b"stale")
    monkeypatch.setattr(default_corpus.subprocess, "run", _fake_pip_download(b"tampered"))
    with pytest.raises(RuntimeError, match="unexpected sha256"):
        default_corpus.fetch_default_corpus(str(tmp_path))
    assert (tmp_path / default_corpus.FILENAME).read_bytes() == b"stale"
