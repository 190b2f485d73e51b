import numpy as np

from models.sampling import gumbel_max_sample, gumbel_noise_uniforms, replace_tokens


def keys(n: int, start: int = 0):
    """Consecutive keys: structured input, harder for the hash than random ones."""
    return np.arange(start, start + n, dtype="uint32")


def test_gumbel_max_frequencies_follow_softmax():
    probs = np.array([0.5, 0.3, 0.15, 0.05], dtype="float32")
    logits = np.tile(np.log(probs), (40_000, 1))
    ids = np.asarray(gumbel_max_sample(logits, 1.0, keys(40_000)))
    freq = np.bincount(ids, minlength=4) / len(ids)
    # Standard error of a frequency of 0.5 over 40k draws is 0.0025.
    np.testing.assert_allclose(freq, probs, atol=0.01)


def test_temperature_sharpens():
    logits = np.tile(np.log(np.array([0.6, 0.4], dtype="float32")), (20_000, 1))
    ids = np.asarray(gumbel_max_sample(logits, 0.5, keys(20_000, 7)))
    # softmax(log p / 0.5) = p^2 / sum p^2 = 0.36 / 0.52.
    assert abs((ids == 0).mean() - 0.36 / 0.52) < 0.015


def test_gumbel_max_with_fixed_noise_matches_numpy():
    """Same uniform draws (same keys): argmax(logits / T - log(-log(u + 1e-9) + 1e-9))."""
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(5, 3, 11)).astype("float32") * 2
    sample_keys = rng.integers(0, 2**32, size=(5, 3), dtype=np.uint64).astype("uint32")
    uniform = np.asarray(gumbel_noise_uniforms(sample_keys, 11))
    assert uniform.shape == (5, 3, 11) and len(np.unique(uniform)) == uniform.size
    expected = np.argmax(logits / 0.7 - np.log(-np.log(uniform + 1e-9) + 1e-9), axis=-1)
    got = np.asarray(gumbel_max_sample(logits, 0.7, sample_keys))
    np.testing.assert_array_equal(got, expected)
    # A sample depends on its own key only, not on its row or the rest of the batch.
    np.testing.assert_array_equal(
        np.asarray(gumbel_max_sample(logits[3:1:-1], 0.7, sample_keys[3:1:-1])), got[3:1:-1]
    )


def test_replace_tokens_labels_with_fixed_samples():
    ids = np.array([[2, 10, 11, 12, 3, 0], [2, 20, 21, 3, 0, 0]], dtype="int32")
    mask = (ids != 0).astype("int32")
    positions = np.array([[1, 3, 2], [2, 1, 0]], dtype="int32")
    weights = np.array([[1, 1, 0], [1, 0, 0]], dtype="float32")
    sampled = np.array([[15, 12, 99], [7, 99, 99]], dtype="int32")  # 12 == the original at 3
    corrupted, labels = replace_tokens(ids, mask, positions, weights, sampled)
    np.testing.assert_array_equal(
        np.asarray(corrupted), [[2, 15, 11, 12, 3, 0], [2, 20, 7, 3, 0, 0]]
    )
    np.testing.assert_array_equal(np.asarray(labels), [[0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0]])
