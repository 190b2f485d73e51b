"""WordPiece tokenization on a hand-written vocab."""
import pytest
import sentencepiece
import tensorflow as tf

from core import vocabulary
from pipelines import tokenization

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",
         "the", "cat", "sat", "##s", ".", "cafe", "Cat", "un", "##believ", "##able"]


@pytest.fixture
def vocab_path(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("".join(token + "\n" for token in VOCAB))
    return str(path)


def test_load_vocab_and_special_ids(vocab_path):
    assert tokenization.load_vocab(vocab_path) == VOCAB
    assert vocabulary.special_token_ids(VOCAB) == {
        "pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        vocabulary.special_token_ids([t for t in VOCAB if t != "[MASK]"])


def test_lowercase_ids(vocab_path):
    tokenizer = tokenization.Tokenizer(vocab_path, lowercase=True)
    assert tokenizer.tokenize_lines(["The cats sat.", "Café UNBELIEVABLE dog", ""]) == [
        [5, 6, 8, 7, 9],  # the cat ##s sat .
        [10, 12, 13, 14, 1],  # cafe (accent stripped) un ##believ ##able [UNK]
        [],
    ]
    assert tokenizer.tokenize_lines([]) == []


def test_cased_ids(vocab_path):
    tokenizer = tokenization.Tokenizer(vocab_path, lowercase=False)
    assert tokenizer.tokenize_lines(["Cat cats Café"]) == [[11, 6, 8, 1]]


def test_make_text_tokenizer_is_an_in_graph_module_with_same_ids(vocab_path):
    text_tokenizer = tokenization.make_text_tokenizer(vocab_path, lowercase=True)
    assert isinstance(text_tokenizer, tf.Module)  # what export places in-graph
    ids = text_tokenizer.tokenize(tf.constant(["the cats sat."]))
    assert ids.dtype == tf.int64
    assert ids.to_list() == [[5, 6, 8, 7, 9]]


def _reference_ids(vocab_path, lines, lowercase=True):
    from official.nlp.tools import tokenization as reference  # tf-models-official
    full = reference.FullTokenizer(vocab_path, do_lower_case=lowercase)
    return [full.convert_tokens_to_ids(full.tokenize(line)) for line in lines]


EDGE_CASES = ["a" * 400, "a" * 401, "\u00e9" * 401, "\u00e9" * 250, "\u00e9" * 400, "x\u00ady soft hyphen", "zero\u200bwidth",
              "ctl\x01\x7f\x85x", "nb\u00a0sp\u2003em\u3000ideographic", "tab\there\r\nnl",
              "\u6f22\u5b57\u304b\u306a\ud55c\uad6d\uc5b4",
              "\u039f\u0394\u039f\u03a3 \u03a3\u0391\u03a3", "\u0130stanbul \u1e9e Stra\u00dfe",
              "\ufb01nance \u00bd \u00b2 \u00aa \u2026",
              "\ufffdbad\x00nul", "Caf\u00e9 na\u00efve \u00c5ngstr\u00f6m", "emoji \U0001f600",
              "a\u0301b", "\u2028line\u2029para", "\x1c\x1d\x1e\x1f\x0b\x0c",
              "\uff26\uff35\uff2c\uff2c"]


@pytest.mark.parametrize("lowercase", [True, False])
def test_ids_equal_reference_on_edge_cases(bert_vocab, lowercase):
    tokenizer = tokenization.Tokenizer(bert_vocab, lowercase)
    reference = _reference_ids(bert_vocab, EDGE_CASES, lowercase)
    # In one batch (which has words of over 400 characters: the exact path)
    # and one line at a time (the fast path wherever a line has none).
    assert tokenizer.tokenize_lines(EDGE_CASES) == reference
    assert [tokenizer.tokenize_lines([line])[0] for line in EDGE_CASES] == reference


def test_ids_equal_reference_on_every_sentence_of_the_wikipedia_sample(bert_vocab,
                                                                        wiki_documents):
    lines = [s for _, doc in wiki_documents for s in doc]
    assert len(lines) > 20000
    tokenizer = tokenization.Tokenizer(bert_vocab, lowercase=True)
    ours = [ids for i in range(0, len(lines), 4096)
            for ids in tokenizer.tokenize_lines(lines[i:i + 4096])]
    mismatches = [line for line, a, b in zip(lines, ours, _reference_ids(bert_vocab, lines))
                  if a != b]
    assert mismatches == []


@pytest.mark.slow
def test_ids_equal_reference_on_every_raw_line_of_the_wikipedia_sample(bert_vocab, wiki_sample):
    import bz2
    with bz2.open(wiki_sample, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")  # wikitext and XML as they are: the harshest input
    tokenizer = tokenization.Tokenizer(bert_vocab, lowercase=True)
    ours = [ids for i in range(0, len(lines), 4096)
            for ids in tokenizer.tokenize_lines(lines[i:i + 4096])]
    assert sum(a != b for a, b in zip(ours, _reference_ids(bert_vocab, lines))) == 0


def test_sentencepiece_model_special_ids(tmp_path, botchan):
    from pipelines import build_vocab
    lines = open(botchan, encoding="utf-8-sig").read().splitlines()
    model = tmp_path / "spm.model"
    model.write_bytes(build_vocab.learn_sentencepiece([l for l in lines if l.strip()], 500,
                                                      lowercase=True))
    tokenizer = tokenization.Tokenizer(str(model), lowercase=True)
    assert tokenizer.kind == "sentencepiece" and tokenizer.vocab_size == 500
    assert tokenizer.special_ids == {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    [ids] = tokenizer.tokenize_lines(["The Master Darling"])
    assert ids and min(ids) > 4  # control symbols never come from text
    assert tokenizer.tokenize_lines(["the master darling"]) == [ids]  # lowercased
    # In the graph (tf_text), the ids of the sentencepiece library itself.
    processor = sentencepiece.SentencePieceProcessor(model_proto=model.read_bytes())
    text = [line for line in lines if line.strip()]
    assert tokenizer.tokenize_lines(text) == processor.encode([line.lower() for line in text])


@pytest.mark.parametrize("text, message", [
    ("[PAD]\n[UNK]\n\n[CLS]\n", "line 3: empty"), ("a\nb\na\n", "line 3: 'a' repeats line 1")])
def test_bad_vocab_is_a_clear_error(text, message):
    with pytest.raises(ValueError, match=message):
        vocabulary.parse_vocab(text)
