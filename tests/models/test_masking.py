import keras
import numpy as np
import pytest

from models.masking import gather_positions, mask_tokens, scatter_positions

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


@pytest.fixture(scope="module")
def masked():
    ids, mask = random_batch(10_000, 128)
    out = mask_tokens(ids, mask, special_ids=(PAD, CLS, SEP), mask_id=MASK, mask_rate=0.15, max_predictions=20,
                      mask_token_fraction=0.85, seed=keras.random.SeedGenerator(7))
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
    chosen_rate = w.sum() / np.minimum(np.clip(np.round(mask.sum(1) * 0.15), 1, 20), 1e9).sum()
    assert chosen_rate == pytest.approx(1.0, abs=0.005)
    # Overall selection rate is 15% of tokens, within 0.5 points (rounding per row aside).
    assert w.sum() / mask.sum() == pytest.approx(0.15, abs=0.005)
    at_positions = np.take_along_axis(out["input_ids"], out["positions"], axis=1)[w]
    became_mask = at_positions == MASK
    assert became_mask.mean() == pytest.approx(0.85, abs=0.01)
    # The rest keep their original token: no random-token replacement.
    np.testing.assert_array_equal(at_positions[~became_mask], out["targets"][w][~became_mask])


def test_never_special_never_duplicate_and_nothing_else_changes(masked):
    ids, mask, out = masked
    w = out["weights"] > 0
    chosen_ids = np.take_along_axis(ids, out["positions"], axis=1)[w]
    assert not np.isin(chosen_ids, [PAD, CLS, SEP]).any()
    for positions, weights in zip(out["positions"][:2000], w[:2000]):
        chosen = positions[weights]
        assert len(set(chosen.tolist())) == len(chosen)
    np.testing.assert_array_equal(out["targets"], np.take_along_axis(ids, out["positions"], axis=1))
    changed = out["input_ids"] != ids
    assert changed.sum() == (np.take_along_axis(out["input_ids"], out["positions"], axis=1)[w] == MASK).sum()


def test_masks_are_drawn_anew_each_call():
    ids, mask = random_batch(4, 64)
    seed = keras.random.SeedGenerator(1)
    kwargs = dict(special_ids=(PAD, CLS, SEP), mask_id=MASK, mask_rate=0.15, max_predictions=10,
                  mask_token_fraction=0.85, seed=seed)
    first, second = mask_tokens(ids, mask, **kwargs), mask_tokens(ids, mask, **kwargs)
    assert not np.array_equal(np.asarray(first.positions), np.asarray(second.positions))


def test_scatter_and_gather():
    ids = np.arange(12, dtype="int32").reshape(2, 6)
    positions = np.array([[4, 1], [0, 5]], dtype="int32")
    values = np.array([[40, 10], [99, 50]], dtype="int32")
    weights = np.array([[1.0, 1.0], [0.0, 1.0]], dtype="float32")
    out = np.asarray(scatter_positions(ids, positions, values, weights))
    np.testing.assert_array_equal(out, [[0, 10, 2, 3, 40, 5], [6, 7, 8, 9, 10, 50]])
    np.testing.assert_array_equal(np.asarray(gather_positions(ids, positions)), [[4, 1], [6, 11]])
    hidden = np.arange(24, dtype="float32").reshape(2, 6, 2)
    np.testing.assert_array_equal(np.asarray(gather_positions(hidden, positions))[1, 1], [22.0, 23.0])
