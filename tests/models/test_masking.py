import keras
import numpy as np
import pytest

from models.hash_random import row_keys
from models.masking import (
    apply_masking,
    gather_positions,
    mask_tokens,
    positions_indicator,
    scatter_positions,
)

PAD, CLS, SEP, MASK = 0, 2, 3, 4


def random_batch(num: int, length: int, seed: int = 0):
    """Rows of [CLS] words [SEP] words [SEP] [PAD]..., random lengths in [3, length]."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 1000, size=(num, length))
    lengths = rng.integers(3, length + 1, size=num)
    ids[:, 0] = CLS
    for row, n in enumerate(lengths):
        ids[row, n - 1] = SEP
        ids[row, rng.integers(1, n - 1)] = SEP if n > 4 else ids[row, 1]
        ids[row, n:] = PAD
    mask = (np.arange(length)[None, :] < lengths[:, None]).astype("int32")
    return ids.astype("int32"), mask


# ELECTRA-Small's masking of 128-token sequences; the tests add the [MASK]/random split.
LARGE = dict(special_ids=(PAD, CLS, SEP), mask_id=MASK, mask_rate=0.15, max_predictions=20)


@pytest.fixture(scope="module")
def masked():
    ids, mask = random_batch(10_000, 128)
    out = mask_tokens(ids, mask, keys=row_keys(ids, keras.random.SeedGenerator(7)),
                      **LARGE, mask_token_fraction=0.85)
    return ids, mask, {k: np.asarray(v) for k, v in out._asdict().items()}


def test_count_per_sequence_is_clamped_rounded_rate(masked):
    ids, mask, out = masked
    n = mask.sum(1)
    candidates = (mask.astype(bool) & ~np.isin(ids, [PAD, CLS, SEP])).sum(1)
    expected = np.minimum(np.clip(np.round(n * 0.15), 1, 20), candidates)
    np.testing.assert_array_equal(out["weights"].sum(1), expected)


def test_rate_and_mask_split(masked):
    ids, mask, out = masked
    w = out["weights"] > 0
    rate = w.sum() / mask.sum()
    at_positions = np.take_along_axis(out["input_ids"], out["positions"], axis=1)[w]
    became_mask = at_positions == MASK
    print(
        f"10,000 sequences: {w.sum()} positions, rate {rate:.4f}, [MASK] {became_mask.mean():.4f}"
    )
    # Overall selection rate is 15% of tokens, within 0.5 points (rounding per row aside).
    assert rate == pytest.approx(0.15, abs=0.005)
    # ~100k positions: the standard error of 0.85 is 0.0011.
    assert became_mask.mean() == pytest.approx(0.85, abs=0.005)
    # The rest keep their original token: no random-token replacement.
    np.testing.assert_array_equal(at_positions[~became_mask], out["targets"][w][~became_mask])


def test_never_special_never_duplicate_and_nothing_else_changes(masked):
    ids, mask, out = masked
    w = out["weights"] > 0
    chosen_ids = np.take_along_axis(ids, out["positions"], axis=1)[w]
    assert not np.isin(chosen_ids, [PAD, CLS, SEP]).any()
    # No duplicate positions in any of the 10,000 rows: sort the chosen slots, compare neighbours.
    chosen = np.sort(np.where(w, out["positions"], -1 - np.arange(w.shape[1])[None]), axis=1)
    assert not (np.diff(chosen, axis=1) == 0).any()
    np.testing.assert_array_equal(out["targets"], np.take_along_axis(ids, out["positions"], axis=1))
    changed = out["input_ids"] != ids
    at_positions = np.take_along_axis(out["input_ids"], out["positions"], axis=1)
    assert changed.sum() == (at_positions[w] == MASK).sum()


def test_bert_split_is_80_10_10():
    ids, mask = random_batch(10_000, 128, seed=1)
    out = mask_tokens(ids, mask, keys=row_keys(ids, keras.random.SeedGenerator(3)), **LARGE,
                      mask_token_fraction=0.8, random_token_fraction=0.1, vocab_size=1000)
    w = np.asarray(out.weights) > 0
    new = np.take_along_axis(np.asarray(out.input_ids), np.asarray(out.positions), axis=1)[w]
    old = np.asarray(out.targets)[w]
    masked, kept = new == MASK, new == old
    other = ~masked & ~kept
    assert masked.mean() == pytest.approx(0.8, abs=0.005)
    # A random id equals the original with probability 1/1000: kept = 0.1 + 0.1 / 1000.
    assert kept.mean() == pytest.approx(0.1, abs=0.004)
    assert other.mean() == pytest.approx(0.1, abs=0.004)
    # Random ids are uniform over the vocabulary: mean (V - 1) / 2 with sd 288.
    assert new[other].mean() == pytest.approx(499.5, abs=10)


def test_apply_masking_with_fixed_draws_matches_numpy():
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 50, size=(6, 12)).astype("int32")
    positions = np.stack([rng.permutation(12)[:5] for _ in range(6)]).astype("int32")
    weights = (np.arange(5)[None] < rng.integers(0, 6, size=(6, 1))).astype("float32")
    draws = rng.random((6, 5)).astype("float32")
    random_ids = rng.integers(0, 50, size=(6, 5)).astype("int32")
    got = np.asarray(
        apply_masking(
            ids,
            positions,
            weights,
            draws,
            random_ids,
            mask_id=MASK,
            mask_token_fraction=0.8,
            random_token_fraction=0.1,
        )
    )
    expected = ids.copy()
    for b in range(6):
        for p in range(5):
            if weights[b, p]:
                i = positions[b, p]
                if draws[b, p] < 0.8:
                    expected[b, i] = MASK
                elif draws[b, p] < 0.9:
                    expected[b, i] = random_ids[b, p]
    np.testing.assert_array_equal(got, expected)
    indicator = np.zeros((6, 12))
    for b in range(6):
        indicator[b, positions[b][weights[b] > 0]] = 1
    np.testing.assert_array_equal(
        np.asarray(positions_indicator(positions, weights, 12)), indicator
    )


SMALL = dict(
    special_ids=(PAD, CLS, SEP),
    mask_id=MASK,
    mask_rate=0.15,
    max_predictions=10,
    mask_token_fraction=0.8,
    random_token_fraction=0.1,
    vocab_size=1000,
)


def test_masks_are_drawn_anew_each_call():
    ids, mask = random_batch(4, 64)
    seed = keras.random.SeedGenerator(1)
    first = mask_tokens(ids, mask, keys=row_keys(ids, seed), **SMALL)
    second = mask_tokens(ids, mask, keys=row_keys(ids, seed), **SMALL)
    assert not np.array_equal(np.asarray(first.positions), np.asarray(second.positions))


def test_an_example_is_masked_alike_in_any_row_or_batch():
    """What replicas rely on: the same seed state masks an example identically
    whether it is in the full batch, in a slice of it, or in another row."""
    ids, mask = random_batch(8, 64, seed=2)
    full = mask_tokens(ids, mask, keys=row_keys(ids, keras.random.SeedGenerator(5)), **SMALL)
    order = np.array([6, 7, 5, 4])  # the second half, shuffled
    part = mask_tokens(
        ids[order], mask[order], keys=row_keys(ids[order], keras.random.SeedGenerator(5)), **SMALL
    )
    for got, expected in zip(part, full):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected)[order])


def test_scatter_and_gather():
    ids = np.arange(12, dtype="int32").reshape(2, 6)
    positions = np.array([[4, 1], [0, 5]], dtype="int32")
    values = np.array([[40, 10], [99, 50]], dtype="int32")
    weights = np.array([[1.0, 1.0], [0.0, 1.0]], dtype="float32")
    out = np.asarray(scatter_positions(ids, positions, values, weights))
    np.testing.assert_array_equal(out, [[0, 10, 2, 3, 40, 5], [6, 7, 8, 9, 10, 50]])
    np.testing.assert_array_equal(np.asarray(gather_positions(ids, positions)), [[4, 1], [6, 11]])
    hidden = np.arange(24, dtype="float32").reshape(2, 6, 2)
    np.testing.assert_array_equal(
        np.asarray(gather_positions(hidden, positions))[1, 1], [22.0, 23.0]
    )
