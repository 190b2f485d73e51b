"""Vocab learning: words as the product's tokenizer sees them, the WordPiece
learner's guarantees, counting over units and workers, the command on tiny dumps."""
import bz2
import collections

from core import vocabulary
from pipelines import build_vocab, pretraining_data, tokenization, wordpiece_learner

# Text that exercises BERT's cleaning, casing, accents, punctuation and CJK rules.
TRICKY = [
    "The quick brown fox's \"jump\" (over) 3.14 lazy-dogs; e^f g`h a_b c~d [x]{y}|z",
    "@home #1 $5 100% <tag> a+b=c 'quoted' x/y\\z",
    "Ünïcödé Straße ǅ İSTANBUL ΟΔΟΣ. ΟΔΟΣ\u200b ﬁne \u200bzero\u00adsoft x\u0301y Ångström",
    "中文字 日本語のテキスト 한국어 ½ ² ① ™ © ¿qué? «quote» x—y “curly” ‘single’ … ＡＢＣ１２３",
    "tab\there\x1cfs\x0bvt\x85nel a\u3000b c\u2028d \x00nul\x7fdel e\u00a0f x\x1cy Ab\x0cCd",
    "مرحبا بالعالم עברית हिन्दी ελληνικά русский 😀 emoji🙂ok",
]


def test_split_words_are_the_words_of_the_products_tokenizer(tmp_path):
    """With every word in the vocab, the product's tokenizer returns exactly split_words."""
    for lowercase in (True, False):
        words = [wordpiece_learner.split_words(text, lowercase) for text in TRICKY]
        path = tmp_path / f"vocab_{lowercase}.txt"
        path.write_text(vocabulary.vocab_text(
            [*vocabulary.RESERVED_TOKENS, *sorted({w for line in words for w in line})]),
            encoding="utf-8")
        vocab = tokenization.load_vocab(str(path))
        ids = tokenization.Tokenizer(str(path), lowercase=lowercase).tokenize_lines(TRICKY)
        assert [[vocab[i] for i in line] for line in ids] == words


def test_piece_counts_give_the_word_counts_of_split_words(monkeypatch):
    for lowercase in (True, False):
        expected = collections.Counter(
            w for text in TRICKY * 3 for w in wordpiece_learner.split_words(text, lowercase))
        counter = wordpiece_learner.WordCounter(lowercase)
        monkeypatch.setattr(counter, "MAX_PIECES", 10)  # words counted from pieces along the way
        for text in TRICKY * 3:
            counter.add_pieces(wordpiece_learner.count_pieces([text], lowercase))
        assert counter.counts() == expected


def _botchan_counts(botchan) -> collections.Counter:
    with open(botchan, encoding="utf-8-sig") as f:
        lines = [line for line in f.read().splitlines() if line.strip()]
    counter = wordpiece_learner.WordCounter(lowercase=True)
    counter.add_pieces(wordpiece_learner.count_pieces(lines + TRICKY, lowercase=True))
    return counter.counts(), lines


def test_learned_vocab_reserved_first_covers_characters_within_size(botchan, tmp_path):
    counts, lines = _botchan_counts(botchan)
    vocab = wordpiece_learner.learn_vocab(counts, 600)
    assert vocab[:5] == list(vocabulary.RESERVED_TOKENS)
    assert len(vocab) == 600 and len(set(vocab)) == 600
    assert all(t and " " not in t and t != "##" for t in vocab)
    chars = {c for word in counts for c in word}
    assert {t for c in chars for t in (c, "##" + c)} <= set(vocab)
    assert {"the", "##ing"} <= set(vocab)  # whole words and continuation pieces
    # Deterministic, whatever the order of the counts.
    assert wordpiece_learner.learn_vocab(dict(reversed(counts.items())), 600) == vocab
    # A valid vocab.txt for the product's tokenizer: no [UNK] on the corpus.
    path = tmp_path / "vocab.txt"
    path.write_text(vocabulary.vocab_text(vocab), encoding="utf-8")
    ids = tokenization.Tokenizer(str(path), lowercase=True).tokenize_lines(lines + TRICKY)
    assert vocabulary.RESERVED_TOKENS.index(vocabulary.UNK) not in {i for line in ids for i in line}
    # Too small for every character in both forms: the most frequent ones, never over the size.
    small = wordpiece_learner.learn_vocab(counts, 25)
    assert small[:5] == list(vocabulary.RESERVED_TOKENS) and len(small) == 25
    assert {"e", "##e", "t", "##t"} <= set(small)


def test_counting_over_units_and_workers_is_the_same_and_keeps_the_document_limit(
        tmp_path, monkeypatch):
    docs = [f"Document {i} has w{i} and w{i % 7}.\nIts second line, {i}." for i in range(300)]
    path = tmp_path / "corpus.txt"
    path.write_text("\n\n".join(docs) + "\n")
    monkeypatch.setattr(build_vocab, "SPLIT_BYTES", 2000)
    units = build_vocab.plan_units({str(path): path.stat().st_size}, "text")
    assert len(units) > 4
    reading = build_vocab.Reading(heldout_percent=10.0, limit=123)
    results = []
    for workers in (1, 2):
        skipped = collections.Counter()
        results.append((build_vocab.count_words(units, reading, True, workers, skipped), skipped))
    assert results[0] == results[1]
    counts, skipped = results[0]
    assert counts["document"] == 123  # the first 123 training documents
    # Their held-out documents (doc ids: FILE@OFFSET) were counted as skipped, not read.
    ids = [f"corpus.txt@{sum(len(d) + 2 for d in docs[:i])}" for i in range(len(docs))]
    heldout = [pretraining_data.split_of(i, 10.0) == pretraining_data.HELDOUT for i in ids]
    last = [i for i, h in enumerate(heldout) if not h][122]
    assert skipped == {build_vocab.HELDOUT_REASON: sum(heldout[:last])}


def _dump(tmp_path, pages: str):
    dump = tmp_path / "dump.xml.bz2"
    dump.write_bytes(bz2.compress(f"<mediawiki>{pages}</mediawiki>".encode()))
    return dump


def test_main_writes_reserved_tokens_first(tmp_path, capsys):
    text = " ".join(["The quick brown fox jumps over the lazy dog."] * 20
                    + ["Foxes jumped; dogs were lazier than foxes."] * 15)
    dump = _dump(tmp_path, "".join(f"<page><title>T{i}</title><ns>0</ns><id>{i}</id><revision>"
                                   f"<text>{text}</text></revision></page>" for i in range(3)))
    output = tmp_path / "sub" / "vocab.txt"
    build_vocab.main([f"--input={dump}", f"--output={output}", "--vocab_size=100",
                      "--max_documents=2"])
    vocab = tokenization.load_vocab(str(output))
    assert vocab[:5] == list(vocabulary.RESERVED_TOKENS)
    assert len(vocab) <= 100 and len(set(vocab)) == len(vocab)
    assert {"the", "fox", "foxes", "lazy", "##s"} <= set(vocab)
    assert "The" not in vocab  # lowercased by default
    assert f"done: {len(vocab)} tokens" in capsys.readouterr().out


def test_heldout_documents_are_left_out_of_the_vocab(tmp_path, capsys):
    """A word that only a held-out document has never becomes a token (it would
    keep an untrained embedding that training never sees)."""
    ids = range(40)
    heldout = {i for i in ids
               if pretraining_data.split_of(str(i), 30.0) == pretraining_data.HELDOUT}
    assert 0 < len(heldout) < len(ids)
    common = " ".join(["The quick brown fox jumps over the lazy dog."] * 10)
    dump = _dump(tmp_path, "".join(
        f"<page><title>T{i}</title><ns>0</ns><id>{i}</id><revision><text>{common} "
        + " ".join([f"word{i}x is here."] * 10) + "</text></revision></page>" for i in ids))
    output = tmp_path / "vocab.txt"
    build_vocab.main([f"--input={dump}", f"--output={output}", "--vocab_size=200",
                      "--heldout_percent=30"])
    vocab = set(tokenization.load_vocab(str(output)))
    assert {f"word{i}x" for i in ids if i not in heldout} <= vocab
    assert not {f"word{i}x" for i in heldout} & vocab
    assert f"'{build_vocab.HELDOUT_REASON}': {len(heldout)}" in capsys.readouterr().out


def test_main_sentencepiece_model(botchan, tmp_path, capsys):
    output = tmp_path / "spm.model"
    build_vocab.main([f"--input={botchan}", "--format=books", f"--output={output}",
                      "--model=sentencepiece", "--vocab_size=300", "--heldout_percent=0"])
    model = vocabulary.read(str(output))
    assert model.kind == vocabulary.SENTENCEPIECE and len(model.pieces) == 300
    assert model.special_ids == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    assert "done: 300 tokens" in capsys.readouterr().out
