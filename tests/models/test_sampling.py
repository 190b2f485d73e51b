import keras
import numpy as np

from models.sampling import gumbel_max_sample, replace_tokens


def test_gumbel_max_frequencies_follow_softmax():
    probs = np.array([0.5, 0.3, 0.15, 0.05], dtype="float32")
    logits = np.tile(np.log(probs), (40_000, 1))
    ids = np.asarray(gumbel_max_sample(logits, 1.0, keras.random.SeedGenerator(3)))
    freq = np.bincount(ids, minlength=4) / len(ids)
    # Standard error of a frequency of 0.5 over 40k draws is 0.0025.
    np.testing.assert_allclose(freq, probs, atol=0.01)


def test_temperature_sharpens():
    logits = np.tile(np.log(np.array([0.6, 0.4], dtype="float32")), (20_000, 1))
    ids = np.asarray(gumbel_max_sample(logits, 0.5, keras.random.SeedGenerator(0)))
    # softmax(log p / 0.5) = p^2 / sum p^2 = 0.36 / 0.52.
    assert abs((ids == 0).mean() - 0.36 / 0.52) < 0.015


def test_gumbel_max_with_fixed_noise_matches_numpy():
    """Same uniform draws (same seed): argmax(logits / T - log(-log(u + 1e-9) + 1e-9))."""
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(5, 3, 11)).astype("float32") * 2
    uniform = np.asarray(keras.random.uniform((5, 3, 11), seed=keras.random.SeedGenerator(9)))
    expected = np.argmax(logits / 0.7 - np.log(-np.log(uniform + 1e-9) + 1e-9), axis=-1)
    got = np.asarray(gumbel_max_sample(logits, 0.7, keras.random.SeedGenerator(9)))
    np.testing.assert_array_equal(got, expected)


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
