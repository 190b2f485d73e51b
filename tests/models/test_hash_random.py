import keras
import numpy as np
import pytest

from models.hash_random import MASK_SCORES, mix32, random_bits, row_keys, to_uniform


def mix32_reference(x):
    """The finaliser in exact integer arithmetic: what every backend must compute."""
    x = np.asarray(x, dtype=np.uint64)
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x.astype(np.uint32)


@pytest.fixture(scope="module")
def uniforms():
    """1,000 consecutive keys x 1,000 consecutive counters -> (1000, 1000) uniforms."""
    keys = np.arange(1000, dtype="uint32")[:, None]
    counters = np.arange(1000, dtype="uint32")[None, :]
    return np.asarray(to_uniform(random_bits(keys, counters, MASK_SCORES)), dtype=np.float64)


def test_mix32_wraps_like_exact_uint32_arithmetic():
    x = np.random.default_rng(0).integers(0, 2**32, size=10_000, dtype=np.uint64).astype("uint32")
    x[:3] = [0, 1, 2**32 - 1]
    np.testing.assert_array_equal(np.asarray(mix32(x)), mix32_reference(x))
    # Flipping one input bit flips each of the 32 output bits half the time
    # (avalanche); 10,000 inputs: standard error 0.005.
    flips = np.stack([mix32_reference(x) ^ mix32_reference(x ^ np.uint32(1 << b)) for b in range(32)])
    rates = np.unpackbits(flips[..., None].view(np.uint8), axis=-1).mean(axis=1)  # (32, 4, 8)
    np.testing.assert_allclose(rates, 0.5, atol=0.025)


def test_uniform_moments_and_chi_square(uniforms):
    u = uniforms.ravel()
    assert u.min() >= 0 and u.max() < 1
    # 1e6 draws: standard errors 2.9e-4 (mean) and 3e-5 (variance 1/12).
    assert u.mean() == pytest.approx(0.5, abs=0.0015)
    assert u.var() == pytest.approx(1 / 12, abs=2e-4)
    counts = np.bincount((u * 100).astype(int), minlength=100)
    chi2 = ((counts - 1e4) ** 2 / 1e4).sum()
    print(f"mean {u.mean():.5f} var {u.var():.5f} chi-square(99 df) {chi2:.1f}")
    assert chi2 < 148.2  # the 99.9th percentile of chi-square with 99 degrees of freedom


def test_neighbouring_keys_and_counters_are_uncorrelated(uniforms):
    # 1e6 pairs: standard error of a correlation 1e-3.
    along_counters = np.corrcoef(uniforms[:, :-1].ravel(), uniforms[:, 1:].ravel())[0, 1]
    along_keys = np.corrcoef(uniforms[:-1].ravel(), uniforms[1:].ravel())[0, 1]
    assert abs(along_counters) < 0.005 and abs(along_keys) < 0.005


def test_row_keys_depend_on_content_and_seed_state_only():
    ids = np.random.default_rng(0).integers(0, 30522, size=(6, 128)).astype("int32")
    ids[5] = ids[0]
    ids[4, 127] = ids[3, 127] + 1  # one token apart
    keys = np.asarray(row_keys(ids, keras.random.SeedGenerator(1)))
    assert keys[5] == keys[0] and len(set(keys[:5])) == 5
    reversed_half = np.asarray(row_keys(ids[3::-1], keras.random.SeedGenerator(1)))
    np.testing.assert_array_equal(reversed_half, keys[3::-1])
    seed = keras.random.SeedGenerator(1)
    first, second = (np.asarray(row_keys(ids, seed)) for _ in range(2))
    np.testing.assert_array_equal(first, keys)
    assert not np.isin(second, first).any()  # the next call draws a new word
    # Swapping two tokens changes the key: positions count, not just the multiset of ids.
    swapped = ids[:1].copy()
    swapped[0, [1, 2]] = swapped[0, [2, 1]]
    assert np.asarray(row_keys(swapped, keras.random.SeedGenerator(1)))[0] != keys[0]
