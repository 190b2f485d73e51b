"""Dynamic masking (ELECTRA paper, sec. 2; the BERT paper, sec. 3.1).

Positions are drawn fresh each time a batch is seen, without replacement,
never on [CLS]/[SEP]/[PAD]; per sequence, count = clamp(round(n * rate), 1, P)
(and at most the number of candidates) where n is the number of non-padding
tokens and P = max_predictions. Each selected position then becomes [MASK]
with probability `mask_token_fraction`, a uniformly random id with
probability `random_token_fraction`, and keeps its token otherwise: ELECTRA
uses 85/0/15, BERT 80/10/10.

The ELECTRA release draws positions with replacement (tf.random.categorical)
and merges duplicates; here they are drawn without replacement, as the
design asks, so every sequence gets exactly its count.

Every draw is a hash of the row's key, a stream and the token position
(models.hash_random), so an example is masked alike whichever replica or
batch row holds it.
"""

from __future__ import annotations

from typing import NamedTuple

from keras import ops

from models import hash_random

# BERT's split of the selected positions: [MASK], random token (the rest are kept).
BERT_MASK_FRACTION, BERT_RANDOM_FRACTION = 0.8, 0.1


class MaskedBatch(NamedTuple):
    """input_ids (B, T) after masking; positions, targets (B, P) int; weights (B, P) float 1/0."""

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
    hits = ops.one_hot(positions, length, dtype=ids.dtype)
    hits = hits * ops.cast(weights > 0, ids.dtype)[..., None]
    replaced = ops.sum(hits, axis=1) > 0
    new_values = ops.sum(hits * ops.cast(values, ids.dtype)[..., None], axis=1)
    return ops.where(replaced, new_values, ids)


def positions_indicator(positions, weights, length: int):
    """(B, T) float: 1 at the selected positions (weights > 0), 0 elsewhere."""
    hits = (
        ops.one_hot(positions, length, dtype="float32")
        * ops.cast(weights > 0, "float32")[..., None]
    )
    return ops.minimum(ops.sum(hits, axis=1), 1.0)


def select_positions(
    input_ids, input_mask, special_ids, mask_rate: float, max_predictions: int, keys
):
    """Chooses positions to predict, uniformly without replacement.

    input_ids, input_mask: (B, T) int; keys (B,) uint32 (hash_random.row_keys).
    special_ids: ids never chosen.
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
    # Top-k of random scores over candidates is a uniform draw without replacement;
    # 31-bit integer scores make ties (broken by position) negligible.
    length = ops.shape(input_ids)[1]
    bits = hash_random.random_bits(
        keys[:, None], ops.arange(length)[None, :], hash_random.MASK_SCORES
    )
    scores = ops.cast(ops.right_shift(bits, hash_random.u32(1)), "int32")
    scores = ops.where(candidate, scores, -1)
    _, positions = ops.top_k(scores, max_predictions)
    weights = ops.arange(max_predictions)[None, :] < count[:, None]
    return ops.cast(positions, "int32"), ops.cast(weights, "float32")


def apply_masking(
    input_ids,
    positions,
    weights,
    draws,
    random_ids,
    *,
    mask_id: int,
    mask_token_fraction: float,
    random_token_fraction: float = 0.0,
):
    """input_ids (B, T) with the selected positions masked, given the random draws.

    draws (B, P) uniform in [0, 1): < mask_token_fraction -> [MASK]; below
    mask_token_fraction + random_token_fraction -> random_ids (B, P); else kept.
    """
    targets = gather_positions(input_ids, positions)
    random_ids = ops.cast(random_ids, input_ids.dtype)
    values = ops.where(draws < mask_token_fraction + random_token_fraction, random_ids, targets)
    values = ops.where(draws < mask_token_fraction, ops.cast(mask_id, input_ids.dtype), values)
    return scatter_positions(input_ids, positions, values, weights)


def mask_tokens(
    input_ids,
    input_mask,
    *,
    special_ids,
    mask_id: int,
    mask_rate: float,
    max_predictions: int,
    mask_token_fraction: float,
    keys,
    random_token_fraction: float = 0.0,
    vocab_size: int = 1,
    selection=None,
) -> MaskedBatch:
    """Selects positions and masks them (see module doc). Shapes as MaskedBatch;
    keys (B,) uint32 from hash_random.row_keys. selection: (positions, weights)
    chosen elsewhere (e.g. models.span_masking) instead of select_positions.

    Random replacement ids are uniform over [0, vocab_size), as in BERT
    (bits mod vocab_size: bias below vocab_size / 2**32).
    """
    if selection is None:
        selection = select_positions(
            input_ids, input_mask, special_ids, mask_rate, max_predictions, keys
        )
    positions, weights = selection
    draws = hash_random.to_uniform(
        hash_random.random_bits(keys[:, None], positions, hash_random.MASK_CHOICE)
    )
    random_ids = ops.zeros_like(positions)
    if random_token_fraction > 0:
        bits = hash_random.random_bits(keys[:, None], positions, hash_random.RANDOM_IDS)
        random_ids = ops.cast(ops.mod(bits, hash_random.u32(vocab_size)), "int32")
    masked_ids = apply_masking(
        input_ids,
        positions,
        weights,
        draws,
        random_ids,
        mask_id=mask_id,
        mask_token_fraction=mask_token_fraction,
        random_token_fraction=random_token_fraction,
    )
    return MaskedBatch(masked_ids, positions, gather_positions(input_ids, positions), weights)
