import itertools

import numpy as np
import pytest
import tensorflow as tf

from pipelines.tokenization import Tokenizer
from tests.trainers.conftest import VOCAB
from trainers.serving import text_encoder
from trainers.serving.text_encoder import TextEncoder
from trainers.serving.warmup import sample_texts, warmup_inputs
from trainers.text_features import encode_texts, truncated_lengths

SEQ = 12
TEXTS_A = ["w1 w2 w3", "", "W4 w5 w6 w7 w8 w9 w10 w11 w12 w13 w14 w15", "w1 Ünï, w2 東京", "w3", "w7 w8 w9 w10 w11"]
TEXTS_B = ["w5", "w6 w7", "w1 w2", "", "w9 w10 w11 w12 w13 w14 w15 w16 w17 w18 w19", "w20 w21 w22 w23 w24"]


@pytest.fixture(scope="module")
def vocab_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def tokenizer(vocab_path):
    return Tokenizer(vocab_path, lowercase=True)


@pytest.fixture(scope="module")
def encoder(vocab_path, tokenizer):
    return TextEncoder(vocab_path, True, tokenizer.special_ids, SEQ)


def test_graph_truncation_equals_berts_pop_from_the_longer_rule():
    pairs = list(itertools.product(range(13), range(13)))
    for budget in (5, 6, 9):
        a, b = text_encoder.truncated_lengths(tf.constant([p[0] for p in pairs], tf.int64),
                                              tf.constant([p[1] for p in pairs], tf.int64), budget)
        assert list(zip(a.numpy().tolist(), b.numpy().tolist())) == [truncated_lengths(x, y, budget) for x, y in pairs]


@pytest.mark.parametrize("pair", [False, True])
def test_in_graph_inputs_equal_the_fine_tuning_features(tokenizer, encoder, pair):
    # Texts, pairs, truncation (rows 2, 4, 5), empty strings, non-ASCII ([UNK]) text.
    texts_b = TEXTS_B if pair else None
    expected, truncated = encode_texts(tokenizer, TEXTS_A, texts_b, SEQ)
    assert truncated == (3 if pair else 1)
    encode = tf.function(encoder.encode, autograph=False)  # as in the SavedModel: batch size unknown
    got = encode(tf.constant(TEXTS_A), None if texts_b is None else tf.constant(texts_b))
    got = {k: v.numpy() for k, v in got.items()}
    length = got["input_ids"].shape[1]
    assert length == SEQ  # the longest example fills max_seq_length; padding to it
    for name in expected:
        np.testing.assert_array_equal(got[name], expected[name], err_msg=name)
    if pair:
        assert got["input_ids"][4].tolist() == [2, 8, 3, 14, 15, 16, 17, 18, 19, 20, 21, 3]  # a kept, b cut
        assert got["segment_ids"][4].tolist() == [0, 0, 0] + [1] * 9
    # A short batch is padded only to its own longest example.
    short = encoder.encode(tf.constant(["w1", ""]), None if not pair else tf.constant(["", "w2"]))
    assert short["input_ids"].numpy().tolist() == ([[2, 6, 3, 3], [2, 3, 7, 3]] if pair else [[2, 6, 3], [2, 3, 0]])
    empty = encode(tf.constant([], tf.string), None if not pair else tf.constant([], tf.string))
    assert {k: tuple(v.shape) for k, v in empty.items()} == {k: (0, 2) for k in expected}


def test_pairs_of_unequal_batch_sizes_are_refused(encoder):
    with pytest.raises(tf.errors.InvalidArgumentError, match="same number of texts"):
        tf.function(encoder.encode, autograph=False)(tf.constant(["w1", "w2"]), tf.constant(["w3"]))


def test_warmup_inputs_cover_empty_non_ascii_and_overlong_texts(tokenizer):
    texts = sample_texts(SEQ)
    assert "" in texts and any(not t.isascii() for t in texts)
    assert max(len(ids) for ids in tokenizer.tokenize_lines(texts)) > SEQ
    single, batch = warmup_inputs(["text_a", "text_b"], SEQ)
    assert single == {"text_a": texts[:1], "text_b": texts[:1]}
    assert batch["text_a"] == texts and batch["text_b"] == texts[1:] + texts[:1]
