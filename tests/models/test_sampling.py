import numpy as np

from models.sampling import GUMBEL_BLOCK, gumbel_max_sample, gumbel_noise, replace_tokens


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


def test_two_stage_frequencies_follow_softmax_over_many_blocks():
    """V = 300: two full blocks of 128 and a padded one of 44; every token's frequency
    matches its probability, including tokens in different blocks and the last block."""
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.full(300, 0.3)).astype("float64")
    logits = np.tile(np.log(probs).astype("float32"), (200_000, 1))
    ids = np.asarray(gumbel_max_sample(logits, 1.0, keys(200_000, 11)))
    counts = np.bincount(ids, minlength=300)
    expected = probs * len(ids)
    big = expected > 20  # chi-square over the tokens with enough expected draws
    chi2 = (((counts - expected) ** 2 / expected)[big]).sum()
    assert big.sum() > 100 and chi2 < big.sum() + 5 * np.sqrt(2 * big.sum())
    for block in range(3):  # each block's share, to a few standard errors
        members = slice(block * GUMBEL_BLOCK, (block + 1) * GUMBEL_BLOCK)
        share = probs[members].sum()
        se = np.sqrt(share * (1 - share) / len(ids))
        assert abs(counts[members].sum() / len(ids) - share) < 4 * se


def test_two_stage_gumbel_max_matches_numpy_with_the_same_noise():
    """argmax over blocks of log(sum of block probabilities) + noise, then over the chosen
    block's logits + noise, with the noise of keys' counters 0..n-1 and n..n+127."""
    rng = np.random.default_rng(1)
    v = 2 * GUMBEL_BLOCK + 7
    logits = rng.normal(size=(5, 3, v)).astype("float32") * 2
    sample_keys = rng.integers(0, 2**32, size=(5, 3), dtype=np.uint64).astype("uint32")
    blocks = 3
    block_noise = np.asarray(gumbel_noise(sample_keys, 0, blocks), dtype=np.float64)
    token_noise = np.asarray(gumbel_noise(sample_keys, blocks, GUMBEL_BLOCK), dtype=np.float64)
    assert np.isfinite(token_noise).all() and len(np.unique(token_noise)) == token_noise.size
    scaled = logits.astype(np.float64) / 0.7
    probs = np.exp(scaled - scaled.max(-1, keepdims=True))
    probs = np.pad(probs / probs.sum(-1, keepdims=True), [(0, 0), (0, 0), (0, blocks * GUMBEL_BLOCK - v)])
    probs = probs.reshape(5, 3, blocks, GUMBEL_BLOCK)
    block = np.argmax(np.log(probs.sum(-1)) + block_noise, axis=-1)
    chosen = np.take_along_axis(probs, block[..., None, None], axis=2)[:, :, 0]
    with np.errstate(divide="ignore"):
        expected = block * GUMBEL_BLOCK + np.argmax(np.log(chosen) + token_noise, axis=-1)
    got = np.asarray(gumbel_max_sample(logits, 0.7, sample_keys))
    np.testing.assert_array_equal(got, expected)
    assert (got < v).all() and len(np.unique(block)) > 1
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
