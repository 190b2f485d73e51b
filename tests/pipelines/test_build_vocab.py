"""Vocab learning: search range and the command on a tiny dump."""
import bz2
import collections

from core import vocabulary
from pipelines import build_vocab, pretraining_data, tokenization


def test_search_bracket():
    counts = collections.Counter({f"w{i}": 100 - i for i in range(40)})  # counts 100..61
    # vocab 20: lower = count of the 20th word (81) + 1; upper = count of the 5th (96).
    assert build_vocab.search_bracket(counts, 20) == {"lower_thresh": 82, "upper_thresh": 96}
    # Fewer distinct words than the vocab: no lower bound beyond 1.
    assert build_vocab.search_bracket(counts, 400) == {"lower_thresh": 1, "upper_thresh": 1}


def test_main_writes_reserved_tokens_first(tmp_path, capsys):
    text = " ".join(["The quick brown fox jumps over the lazy dog."] * 20
                    + ["Foxes jumped; dogs were lazier than foxes."] * 15)
    pages = "".join(f"<page><title>T{i}</title><ns>0</ns><id>{i}</id><revision>"
                    f"<text>{text}</text></revision></page>" for i in range(3))
    dump = tmp_path / "dump.xml.bz2"
    dump.write_bytes(bz2.compress(f"<mediawiki>{pages}</mediawiki>".encode()))
    output = tmp_path / "sub" / "vocab.txt"
    build_vocab.main([f"--input={dump}", f"--output={output}", "--vocab_size=100",
                      "--max_documents=2"])
    vocab = tokenization.load_vocab(str(output))
    assert vocab[:5] == list(vocabulary.RESERVED_TOKENS)
    assert len(vocab) <= 100 and len(set(vocab)) == len(vocab)
    assert {"the", "fox", "foxes", "lazy", "##s"} <= set(vocab)
    assert "The" not in vocab  # lowercased by default
    assert f"wrote {len(vocab)} tokens" in capsys.readouterr().out


def test_heldout_documents_are_left_out_of_the_vocab(tmp_path, capsys):
    """A word that only a held-out document has never becomes a token (it would
    keep an untrained embedding that training never sees)."""
    ids = range(40)
    heldout = {i for i in ids if pretraining_data.split_of(str(i), 30.0) == pretraining_data.HELDOUT}
    assert 0 < len(heldout) < len(ids)
    common = " ".join(["The quick brown fox jumps over the lazy dog."] * 10)
    pages = "".join(f"<page><title>T{i}</title><ns>0</ns><id>{i}</id><revision><text>{common} "
                    + " ".join([f"word{i}x is here."] * 10) + "</text></revision></page>" for i in ids)
    dump = tmp_path / "dump.xml.bz2"
    dump.write_bytes(bz2.compress(f"<mediawiki>{pages}</mediawiki>".encode()))
    output = tmp_path / "vocab.txt"
    build_vocab.main([f"--input={dump}", f"--output={output}", "--vocab_size=200",
                      "--heldout_percent=30"])
    vocab = set(tokenization.load_vocab(str(output)))
    assert {f"word{i}x" for i in ids if i not in heldout} <= vocab
    assert not {f"word{i}x" for i in heldout} & vocab
    assert f"'{build_vocab.HELDOUT_REASON}': {len(heldout)}" in capsys.readouterr().out
