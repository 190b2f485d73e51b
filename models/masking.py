"""Dynamic masking for replaced token detection (ELECTRA paper, sec. 2).

Positions are drawn fresh each time a batch is seen, without replacement,
never on [CLS]/[SEP]/[PAD]; per sequence, count = clamp(round(n * rate), 1, P)
where n is the number of non-padding tokens and P = max_predictions. Of the
selected positions a fraction `mask_token_fraction` becomes [MASK]; the rest
keep their token (no random-token replacement).
"""
from __future__ import annotations

from typing import NamedTuple

import keras
from keras import ops


class MaskedBatch(NamedTuple):
    """input_ids (B, T) with [MASK]s; positions, targets (B, P) int; weights (B, P) float 1/0."""

    input_ids: object
    positions: object
    targets: object
    weights: object


def gather_positions(x, positions):
    """x (B, T) or (B, T, D), positions (B, P) -> (B, P) or (B, P, D)."""
    if len(x.shape) == 3:
        return ops.take_along_axis(x, ops.expand_dims(positions, -1), axis=1)
    return ops.take_along_axis(x, positions, axis=1)


def scatter_positions(ids, positions, values, weights):
    """ids (B, T) with ids[b, positions[b, p]] = values[b, p] where weights[b, p] > 0.

    Positions of one row must be distinct (they are: drawn without replacement).
    """
    length = ops.shape(ids)[1]
    hits = ops.one_hot(positions, length, dtype=ids.dtype) * ops.cast(weights > 0, ids.dtype)[..., None]
    replaced = ops.sum(hits, axis=1) > 0
    new_values = ops.sum(hits * ops.cast(values, ids.dtype)[..., None], axis=1)
    return ops.where(replaced, new_values, ids)


def select_positions(input_ids, input_mask, special_ids, mask_rate: float, max_predictions: int, seed):
    """Chooses positions to predict, without replacement.

    input_ids, input_mask: (B, T) int. special_ids: ids never chosen.
    Returns positions (B, P) int32 and weights (B, P) float32,
    P = min(max_predictions, T); slots past a row's count have weight 0.
    """
    if input_ids.shape[1] is not None:
        max_predictions = min(max_predictions, int(input_ids.shape[1]))
    mask = ops.cast(input_mask, "bool")
    candidate = mask
    for special in special_ids:
        candidate = ops.logical_and(candidate, ops.not_equal(input_ids, special))
    num_tokens = ops.sum(ops.cast(mask, "float32"), axis=1)
    num_candidates = ops.sum(ops.cast(candidate, "int32"), axis=1)
    count = ops.clip(ops.cast(ops.round(num_tokens * mask_rate), "int32"), 1, max_predictions)
    count = ops.minimum(count, num_candidates)
    # Top-k of random scores over candidates is a uniform draw without replacement.
    scores = keras.random.uniform(ops.shape(input_ids), seed=seed)
    scores = ops.where(candidate, scores, -1.0)
    _, positions = ops.top_k(scores, max_predictions)
    weights = ops.arange(max_predictions)[None, :] < count[:, None]
    return ops.cast(positions, "int32"), ops.cast(weights, "float32")


def mask_tokens(input_ids, input_mask, *, special_ids, mask_id: int, mask_rate: float, max_predictions: int,
                mask_token_fraction: float, seed) -> MaskedBatch:
    """Selects positions and puts [MASK] at a `mask_token_fraction` of them. Shapes as MaskedBatch."""
    positions, weights = select_positions(input_ids, input_mask, special_ids, mask_rate, max_predictions, seed)
    to_mask = keras.random.uniform(ops.shape(weights), seed=seed) < mask_token_fraction
    mask_values = ops.full(ops.shape(positions), mask_id, dtype=input_ids.dtype)
    masked_ids = scatter_positions(input_ids, positions, mask_values, weights * ops.cast(to_mask, "float32"))
    return MaskedBatch(masked_ids, positions, gather_positions(input_ids, positions), weights)
