"""Generation with a key/value cache equals recomputing the whole prefix at every step."""

import keras
import numpy as np
import pytest
from keras import ops

from configs import EncoderConfig
from models.decoder import CausalLM
from models.generation import MASKED, choose_tokens, filter_logits, generate, prompt_positions, step_keys

V, EOS = 61, 60
CONFIG = EncoderConfig(vocab_size=V, embedding_size=32, hidden_size=32, num_layers=2, num_heads=4,
                       intermediate_size=64, max_position_embeddings=32, type_vocab_size=0, layer_norm_epsilon=1e-5)


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    lm = CausalLM(CONFIG)
    lm(np.zeros((1, 2), "int32"))
    return lm


def _prompts():
    ids = np.array([[EOS, EOS, EOS, 5, 9, 11], [EOS, 7, 3, 8, 2, 30]], "int32")  # left-padded
    mask = np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]], "int32")
    return ids, mask


def _recomputed(model, ids, mask, steps, temperature, top_k, top_p, seeds):
    """The reference: every step runs the model over the whole prefix (a fresh cache of its length)."""
    ids, mask, tokens, log_probs = ids.copy(), mask.copy(), [], []
    for step in range(steps):
        logits, _ = model.decode(ids, prompt_positions(mask), mask, model.empty_cache(len(ids), ids.shape[1]), 0)
        token, log_prob = choose_tokens(logits[:, -1], temperature, top_k, top_p, step_keys(seeds, step))
        tokens.append(np.asarray(token))
        log_probs.append(np.asarray(log_prob))
        ids = np.concatenate([ids, np.asarray(token)[:, None]], axis=1)
        mask = np.concatenate([mask, np.ones((len(ids), 1), "int32")], axis=1)
    return np.stack(tokens, 1), np.stack(log_probs, 1)


@pytest.mark.parametrize("temperature,top_k,top_p", [(0.0, 0, 1.0), (1.0, 0, 1.0), (0.8, 7, 0.9)])
def test_cached_generation_equals_full_recomputation(model, temperature, top_k, top_p):
    ids, mask = _prompts()
    seeds = np.array([11, 12], "uint32")
    tokens, log_probs, lengths = generate(model, ids, mask, 10, -1, temperature, top_k, top_p, seeds)
    expected_tokens, expected_log_probs = _recomputed(model, ids, mask, 10, temperature, top_k, top_p, seeds)
    np.testing.assert_array_equal(np.asarray(tokens), expected_tokens)
    np.testing.assert_allclose(np.asarray(log_probs), expected_log_probs, atol=1e-5)
    assert list(np.asarray(lengths)) == [10, 10]


def test_a_row_generates_the_same_alone_as_beside_a_longer_prompt_and_stops_at_end_of_text(model):
    ids, mask = _prompts()
    seeds = np.array([5, 6], "uint32")
    batch, _, _ = generate(model, ids, mask, 6, -1, 0.0, 0, 1.0, seeds)
    alone, _, _ = generate(model, ids[:1, 2:], mask[:1, 2:], 6, -1, 0.0, 0, 1.0, seeds[:1])
    np.testing.assert_array_equal(np.asarray(batch)[:1], np.asarray(alone))
    stop = int(np.asarray(batch)[1, 2])  # the second row's third token ends it
    tokens, log_probs, lengths = generate(model, ids, mask, 6, stop, 0.0, 0, 1.0, seeds)
    row = np.asarray(tokens)[1]
    assert np.asarray(lengths)[1] == list(row).index(stop) <= 2 and set(row[np.asarray(lengths)[1]:]) == {stop}
    assert np.asarray(log_probs)[1, np.asarray(lengths)[1] + 1:].tolist() == [0.0] * (5 - np.asarray(lengths)[1])


def test_top_k_and_top_p_keep_the_most_likely_tokens():
    logits = np.log(np.array([[0.5, 0.05, 0.3, 0.15]], "float32"))
    kept = lambda k, p: (np.asarray(filter_logits(logits, k, p)) > MASKED / 2).astype(int).tolist()  # noqa: E731
    assert kept(2, 1.0) == [[1, 0, 1, 0]]
    assert kept(0, 0.8) == [[1, 0, 1, 0]]  # 0.5 + 0.3 reaches 0.8
    assert kept(0, 0.81) == [[1, 0, 1, 1]]
    assert kept(1, 0.99) == [[1, 0, 0, 0]] and kept(0, 1.0) == [[1, 1, 1, 1]]


def test_sampling_follows_the_filtered_distribution():
    logits = np.tile(np.log(np.array([[0.5, 0.05, 0.3, 0.15]], "float32")), (4000, 1))
    tokens, _ = choose_tokens(logits, 1.0, 0, 0.8, ops.cast(np.arange(4000), "uint32"))
    counts = np.bincount(np.asarray(tokens), minlength=4) / 4000
    np.testing.assert_allclose(counts, [0.5 / 0.8, 0, 0.3 / 0.8, 0], atol=0.03)
