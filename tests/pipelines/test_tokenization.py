"""WordPiece tokenization on a hand-written vocab."""
import pytest
import tensorflow as tf
import tensorflow_text as tf_text

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
    assert tokenization.special_token_ids(VOCAB) == {
        "pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        tokenization.special_token_ids([t for t in VOCAB if t != "[MASK]"])


def test_lowercase_ids(vocab_path):
    tokenizer = tokenization.WordpieceTokenizer(vocab_path)
    assert tokenizer.tokenize_lines(["The cats sat.", "Café UNBELIEVABLE dog", ""]) == [
        [5, 6, 8, 7, 9],  # the cat ##s sat .
        [10, 12, 13, 14, 1],  # cafe (accent stripped) un ##believ ##able [UNK]
        [],
    ]
    assert tokenizer.tokenize_lines([]) == []


def test_cased_ids(vocab_path):
    tokenizer = tokenization.WordpieceTokenizer(vocab_path, lowercase=False)
    assert tokenizer.tokenize_lines(["Cat cats Café"]) == [[11, 6, 8, 1]]


def test_make_text_tokenizer_is_the_tf_text_object_with_same_ids(vocab_path):
    text_tokenizer = tokenization.make_text_tokenizer(vocab_path, lowercase=True)
    assert isinstance(text_tokenizer, tf_text.BertTokenizer)  # what export places in-graph
    ids = text_tokenizer.tokenize(tf.constant(["the cats sat."]))
    assert ids.dtype == tf.int64
    assert ids.merge_dims(-2, -1).to_list() == [[5, 6, 8, 7, 9]]
