import keras
import numpy as np

from models.sampling import gumbel_max_sample


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

