"""Whole-word and n-gram masking on 10,000 packed sequences, and the word-boundary tables."""

import keras
import numpy as np
import pytest

from models import hash_random
from models.hash_random import row_keys
from models.span_masking import ngram_length_probabilities, select_span_positions, tile_spans
from models.word_boundaries import continuation_flags

PAD, CLS, SEP = 0, 2, 3
V, FIRST_CONTINUATION = 1000, 700  # ids >= 700 continue a word, like WordPiece's "##" pieces
CONTINUATION = (np.arange(V) >= FIRST_CONTINUATION).astype("float32")


def word_pieces(rng, count):
    """`count` pieces of whole words: a start piece and 0-2 continuation pieces each."""
    extra = rng.choice(3, size=count, p=[0.75, 0.2, 0.05])
    is_start = np.zeros(count + extra.sum(), bool)
    is_start[np.cumsum(1 + extra) - 1 - extra] = True
    pieces = np.where(is_start, rng.integers(5, FIRST_CONTINUATION, size=is_start.size),
                      rng.integers(FIRST_CONTINUATION, V, size=is_start.size))
    return pieces[:count].tolist()


def packed_batch(num, length, seed=0):
    """Like the pipeline's examples: 90% full length, 10% single-segment; (ids, mask)."""
    rng = np.random.default_rng(seed)
    ids = np.zeros((num, length), np.int32)
    for row in range(num):
        n = length if rng.random() < 0.9 else int(rng.integers(8, length))
        if rng.random() < 0.1:
            tokens = [CLS] + word_pieces(rng, n - 2) + [SEP]
        else:
            a = int(rng.integers(1, n - 3))
            tokens = [CLS] + word_pieces(rng, a) + [SEP] + word_pieces(rng, n - a - 3) + [SEP]
        ids[row, :n] = tokens
    return ids, (ids != PAD).astype(np.int32)


def spans(starts, candidate):
    """Per row, the token ranges [start, end) of the tiling's spans."""
    out = []
    for row_starts, row_candidate in zip(starts, candidate):
        row = []
        for s in np.flatnonzero(row_starts):
            e = s + 1
            while e < len(row_candidate) and row_candidate[e] and not row_starts[e]:
                e += 1
            row.append((s, e))
        out.append(row)
    return out


@pytest.fixture(scope="module")
def batch():
    ids, mask = packed_batch(10_000, 128)
    return ids, mask, row_keys(ids, keras.random.SeedGenerator(1))


def draw(ids, mask, keys, max_ngram, max_predictions=40):
    kwargs = dict(special_ids=(PAD, CLS, SEP), continuation=CONTINUATION, max_ngram=max_ngram, keys=keys)
    positions, weights = select_span_positions(
        ids, mask, mask_rate=0.15, max_predictions=max_predictions, **kwargs
    )
    candidate, starts = tile_spans(ids, mask, **kwargs)
    positions, weights = np.asarray(positions), np.asarray(weights) > 0
    selected = np.zeros(ids.shape, bool)
    for row in range(len(ids)):
        selected[row, positions[row][weights[row]]] = True
    assert (weights.sum(1) == selected.sum(1)).all()  # no position twice
    return selected, np.asarray(candidate), np.asarray(starts)


@pytest.mark.parametrize("max_ngram", [1, 3])
def test_rate_is_the_target_on_average_and_spans_stay_whole(batch, max_ngram):
    ids, mask, keys = batch
    selected, candidate, starts = draw(ids, mask, keys, max_ngram)
    # Budget K per sequence: 15% of its tokens, at least 1, at most the slots and candidates.
    budget = np.minimum(np.clip(mask.sum(1) * 0.15, 1, 40), candidate.sum(1))
    rate = selected.sum() / mask.sum()
    print(f"n={max_ngram}: rate {rate:.5f}, target {budget.sum() / mask.sum():.5f}")
    # Each sequence's count has variance below (3 tokens)^2 / 4: standard error ~1.3e-4.
    assert rate == pytest.approx(budget.sum() / mask.sum(), abs=6e-4)
    assert budget.sum() / mask.sum() == pytest.approx(0.15, abs=1e-9)
    assert not (selected & ~candidate).any()  # never [CLS], [SEP], [PAD]
    words = candidate & ((CONTINUATION[ids] == 0) | ~np.pad(candidate[:, :-1], ((0, 0), (1, 0))))
    assert not (starts & ~words).any()  # spans start at word starts
    for row in range(0, len(ids), 10):
        for s, e in spans(starts[row:row + 1], candidate[row:row + 1])[0]:
            assert selected[row, s:e].all() or not selected[row, s:e].any()  # whole spans only
            if max_ngram == 1:
                assert words[row, s:e].sum() == 1  # whole-word masking: one word per span


def test_ngram_span_lengths_follow_one_over_length(batch):
    ids, mask, keys = batch
    selected, candidate, starts = draw(ids, mask, keys, 3)
    target = ngram_length_probabilities(3)
    np.testing.assert_allclose(target, np.array([6, 3, 2]) / 11)
    # The drawn lengths: at every span start a draw with P(l) proportional to 1/l; a span has
    # that many words unless its run ([CLS]/[SEP]-delimited) ends first.
    u = np.asarray(hash_random.to_uniform(hash_random.random_bits(
        np.asarray(keys)[:, None], np.arange(128)[None, :], hash_random.SPAN_LENGTHS)))
    drawn = 1 + (u[..., None] >= np.cumsum(target)[:-1]).sum(-1)
    words = candidate & ((CONTINUATION[ids] == 0) | ~np.pad(candidate[:, :-1], ((0, 0), (1, 0))))
    drawn_at_starts, taken = [], np.zeros(4)
    for row, row_spans in enumerate(spans(starts, candidate)):
        for s, e in row_spans:
            length = words[row, s:e].sum()
            run_ends = e == 128 or not candidate[row, e]
            assert length == drawn[row, s] or (run_ends and length < drawn[row, s])
            drawn_at_starts.append(drawn[row, s])
            if selected[row, s]:
                taken[length] += 1
    counts = np.bincount(drawn_at_starts, minlength=4)[1:]
    expected = target * counts.sum()
    chi2 = ((counts - expected) ** 2 / expected).sum()  # 2 degrees of freedom: 99.9% below 13.8
    taken = taken[1:] / taken.sum()
    print(f"{counts.sum()} spans drawn {counts / counts.sum()}; {taken} of those masked")
    assert chi2 < 13.8
    # Spans cut by a run's end and the budget's last span favour short spans a little.
    np.testing.assert_allclose(taken, target, atol=0.025)


def test_prediction_slots_are_never_exceeded_and_nearly_filled(batch):
    """ELECTRA-Small's 20 slots for 128 tokens leave room for less than one span at K = 19.2."""
    ids, mask, keys = batch
    for max_ngram, low in ((1, 0.1495), (3, 0.148)):
        selected, _, _ = draw(ids, mask, keys, max_ngram, max_predictions=20)
        assert selected.sum(1).max() <= 20
        assert low < selected.sum() / mask.sum() <= 0.1502


def test_an_example_is_masked_alike_in_any_row_or_batch(batch):
    ids, mask, _ = batch
    kwargs = dict(special_ids=(PAD, CLS, SEP), continuation=CONTINUATION, mask_rate=0.15,
                  max_predictions=20, max_ngram=3)
    full = select_span_positions(ids[:8], mask[:8], keys=row_keys(ids[:8], keras.random.SeedGenerator(5)),
                                 **kwargs)
    order = np.array([6, 7, 5, 4])
    part = select_span_positions(ids[order], mask[order],
                                 keys=row_keys(ids[order], keras.random.SeedGenerator(5)), **kwargs)
    for got, expected in zip(part, full):
        np.testing.assert_array_equal(np.asarray(got), np.asarray(expected)[order])


def test_word_boundaries_of_wordpiece_and_sentencepiece_vocabularies():
    wordpiece = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "run", "##ning", "##s", ",", "#"]
    np.testing.assert_array_equal(continuation_flags(wordpiece, "wordpiece"), [0] * 6 + [1, 1, 0, 0])
    sentencepiece = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]", "\u2581run", "ning", "s", ",",
                     "\u2581", "()", "'s"]
    np.testing.assert_array_equal(continuation_flags(sentencepiece, "sentencepiece"),
                                  [0] * 6 + [1, 1, 0, 0, 1, 1])
    with pytest.raises(ValueError, match="unknown tokenizer kind"):
        continuation_flags(wordpiece, "bpe")


def test_sentencepiece_words_are_masked_whole():
    """`▁run ning s` is one word, `,` another; with every word masked, nothing splits."""
    pieces = ["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]", "\u2581run", "ning", "s", ",", "\u2581the"]
    flags = continuation_flags(pieces, "sentencepiece")
    ids = np.array([[2, 9, 5, 6, 7, 8, 9, 5, 3, 0]], np.int32)
    mask = (ids != 0).astype(np.int32)
    seen = set()
    for seed in range(40):
        positions, weights = select_span_positions(
            ids, mask, special_ids=(0, 2, 3), continuation=flags, mask_rate=0.3, max_predictions=10,
            max_ngram=1, keys=row_keys(ids, keras.random.SeedGenerator(seed)))
        chosen = tuple(sorted(np.asarray(positions)[0][np.asarray(weights)[0] > 0]))
        seen.add(chosen)
    # Words: (1) "▁the", (2, 3, 4) "▁run ning s", (5) ",", (6) "▁the", (7) "▁run"; budget
    # 0.3 * 9 = 2.7 tokens: whole words only, never part of "▁run ning s".
    words = [(1,), (2, 3, 4), (5,), (6,), (7,)]
    for chosen in seen:
        assert all(set(w) <= set(chosen) or not set(w) & set(chosen) for w in words)
    assert any({2, 3, 4} <= set(chosen) for chosen in seen)
