"""Whole-word and n-gram masking (the ALBERT paper, sec. 4.1, after
SpanBERT and BERT's whole-word masking), drawn in the graph like models.masking.

A word is a piece that does not continue a word (models.word_boundaries)
with the continuation pieces after it. The candidate tokens (not [CLS],
[SEP], [PAD]) of each run between special tokens are tiled into spans of
consecutive whole words: at a span's first word its length l in words is
drawn with probability proportional to 1 / l over 1..n (6/11, 3/11, 2/11 for
n = 3, as ALBERT), cut short where the run ends; whole-word masking is n = 1.
Spans are taken in a random order while their tokens fit the sequence's
budget K = min(clamp(n_tokens * mask_rate, 1, P), candidates); then the next
span that fits the P prediction slots is taken with probability
(K - tokens taken) / its length, so a sequence gets exactly K masked tokens
on average, unless that span is shorter than what is left of K (then it is
always taken). That happens only where K is within a span's length of P: at
K = P (e.g. ALBERT's 20 predictions for 512 tokens) the count falls short of
P by what the spans cannot fill.

Spans never overlap and never hold special tokens. ALBERT's data builder
starts n-grams at shuffled word positions, drops those that overlap and may
cross [SEP]; the tiling gives disjoint spans without a sequential loop, and
the lengths of the spans taken keep the 1 / l distribution except for spans
cut by a run's end and the budget's last span.

Every draw is a hash of the row's key (models.hash_random), so an example is
masked alike on any replica.
"""

from __future__ import annotations

import numpy as np
from keras import ops

from models import hash_random


def ngram_length_probabilities(max_ngram: int) -> np.ndarray:
    """(max_ngram,) P(l) for l = 1..max_ngram, proportional to 1 / l."""
    weights = 1.0 / np.arange(1, max_ngram + 1)
    return weights / weights.sum()


def _static_length(input_ids) -> int:
    length = input_ids.shape[1]
    if length is None:
        raise ValueError("span masking needs a static sequence length")
    return int(length)


def tile_spans(input_ids, input_mask, *, special_ids, continuation, max_ngram: int, keys):
    """The span tiling of each sequence.

    input_ids, input_mask (B, T) int; continuation (V,) float, 1 for pieces that
    continue a word; keys (B,) uint32. Returns (candidate, starts), (B, T) bool:
    the tokens that may be masked, and the first token of every span (each
    candidate token belongs to the span of the last start at or before it).
    """
    length = _static_length(input_ids)
    candidate = ops.cast(input_mask, "bool")
    for special in special_ids:
        candidate = ops.logical_and(candidate, ops.not_equal(input_ids, special))
    continues = ops.take(continuation, ops.cast(input_ids, "int32"), axis=0) > 0
    after_candidate = ops.pad(candidate[:, :-1], [[0, 0], [1, 0]])
    word_start = candidate & (ops.logical_not(continues) | ops.logical_not(after_candidate))
    if max_ngram == 1:
        return candidate, word_start
    cdf = np.cumsum(ngram_length_probabilities(max_ngram))[:-1]
    draws = hash_random.to_uniform(
        hash_random.random_bits(keys[:, None], ops.arange(length)[None, :], hash_random.SPAN_LENGTHS)
    )
    lengths = 1 + sum(ops.cast(draws >= float(c), "int32") for c in cdf)
    # State before a token: words still to come in the current span (0: a span starts
    # at the next word). Each token maps the state: a word start opens a span of its
    # drawn length when the state is 0 and counts down otherwise; continuation pieces
    # keep it; special tokens and padding reset it. The state before every token is
    # the composition of all earlier maps applied to 0, a prefix scan (Hillis-Steele).
    state = ops.arange(max_ngram, dtype="int32")[None, None, :]
    opened = ops.where(state == 0, lengths[..., None] - 1, state - 1)
    maps = ops.where(word_start[..., None], opened, ops.where(candidate[..., None], state, 0))
    identity = ops.broadcast_to(state, (ops.shape(maps)[0], length, max_ngram))
    shift = 1
    while shift < length:
        earlier = ops.concatenate([identity[:, :shift], maps[:, :-shift]], axis=1)
        maps = ops.take_along_axis(maps, earlier, axis=-1)
        shift *= 2
    before = ops.pad(maps[:, :-1, 0], [[0, 0], [1, 0]])
    return candidate, word_start & (before == 0)


def select_span_positions(
    input_ids,
    input_mask,
    *,
    special_ids,
    continuation,
    mask_rate: float,
    max_predictions: int,
    max_ngram: int,
    keys,
):
    """Chooses whole spans to predict (see module doc).

    Shapes as models.masking.select_positions: positions (B, P) int32 in
    ascending order and weights (B, P) float32, P = min(max_predictions, T).
    """
    length = _static_length(input_ids)
    slots = min(max_predictions, length)
    candidate, starts = tile_spans(
        input_ids,
        input_mask,
        special_ids=special_ids,
        continuation=continuation,
        max_ngram=max_ngram,
        keys=keys,
    )
    position = ops.arange(length, dtype="int32")[None, :]
    # Span j of a row starts at start_at[:, j] (ascending; length T past its last span).
    order_scores, start_at = ops.top_k(ops.where(starts, length - position, -1), length)
    start_at = ops.where(order_scores > 0, ops.cast(start_at, "int32"), length)
    next_start = ops.pad(start_at[:, 1:], [[0, 0], [0, 1]], constant_values=length)
    # Every candidate token between two starts belongs to the first one's span.
    taken_before = ops.pad(ops.cumsum(ops.cast(candidate, "float32"), axis=1), [[0, 0], [1, 0]])
    span_tokens = ops.take_along_axis(taken_before, next_start, axis=1) - ops.take_along_axis(
        taken_before, start_at, axis=1
    )
    # Spans in a random order, taken while they fit the budget.
    bits = hash_random.random_bits(keys[:, None], start_at, hash_random.SPAN_ORDER)
    priority = ops.where(start_at < length, ops.cast(ops.right_shift(bits, hash_random.u32(1)), "int32"), -1)
    _, order = ops.top_k(priority, length)
    ordered_tokens = ops.take_along_axis(span_tokens, order, axis=1)
    num_tokens = ops.sum(ops.cast(input_mask, "float32"), axis=1)
    budget = ops.minimum(
        ops.clip(num_tokens * mask_rate, 1.0, float(slots)), taken_before[:, -1]
    )[:, None]
    full = ops.cumsum(ordered_tokens, axis=1) <= budget  # a prefix of the order
    taken = ops.sum(ops.where(full, ordered_tokens, 0.0), axis=1, keepdims=True)
    # The last span: the first of the others that fits the slots, taken with probability
    # (budget - taken) / its length (always if it is shorter than that).
    fits = ops.logical_not(full) & (ordered_tokens > 0) & (taken + ordered_tokens <= slots)
    last = fits & (ops.cumsum(ops.cast(fits, "int32"), axis=1) == 1)
    draw = hash_random.to_uniform(hash_random.random_bits(keys, 0, hash_random.SPAN_BOUNDARY))
    chosen = full | (last & (draw[:, None] * ordered_tokens < budget - taken))
    # Back to span order, then to tokens.
    chosen = ops.take_along_axis(chosen, ops.argsort(order, axis=1), axis=1)
    span_of_token = ops.maximum(ops.cumsum(ops.cast(starts, "int32"), axis=1) - 1, 0)
    selected = ops.take_along_axis(chosen, span_of_token, axis=1) & candidate
    _, positions = ops.top_k(ops.where(selected, length - position, -1), slots)
    count = ops.sum(ops.cast(selected, "int32"), axis=1)
    weights = ops.arange(slots)[None, :] < count[:, None]
    return ops.cast(positions, "int32"), ops.cast(weights, "float32")
