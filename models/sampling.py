"""Sampling replacement tokens from the generator (ELECTRA paper, sec. 2)."""

from __future__ import annotations

from keras import ops

from models import hash_random
from models.masking import scatter_positions


def gumbel_noise_uniforms(keys, vocab_size: int):
    """keys (...) uint32 -> uniforms (..., vocab_size) float32 in [0, 1), one stream per key."""
    vocab = ops.arange(vocab_size)
    bits = hash_random.random_bits(keys[..., None], vocab, hash_random.GUMBEL_NOISE)
    return hash_random.to_uniform(bits)


def gumbel_max_sample(logits, temperature: float, keys):
    """One token per row from softmax(logits / temperature), by the Gumbel-max trick.

    logits (..., V) float, keys (...) uint32 (one per sample, e.g. from
    hash_random.random_bits) -> ids (...,) int32. No gradient flows to
    `logits`: the generator is trained by maximum likelihood only. Noise as in
    the ELECTRA release: g = -log(-log(u + 1e-9) + 1e-9), u ~ U[0, 1), here u
    a hash of (key, vocabulary index).
    """
    logits = ops.stop_gradient(ops.cast(logits, "float32")) / temperature
    uniform = gumbel_noise_uniforms(keys, logits.shape[-1])
    gumbel = -ops.log(-ops.log(uniform + 1e-9) + 1e-9)
    return ops.cast(ops.argmax(logits + gumbel, axis=-1), "int32")


def replace_tokens(input_ids, input_mask, positions, weights, sampled_ids):
    """Puts the generator's samples into the original sequence and labels it.

    input_ids, input_mask (B, T) int; positions, sampled_ids (B, P) int;
    weights (B, P) float. Returns (corrupted ids (B, T), labels (B, T) int32),
    label 1 = replaced. A sample equal to the original token is labelled
    original (paper, sec. 2); padding is labelled 0.
    """
    corrupted = scatter_positions(
        input_ids, positions, ops.cast(sampled_ids, input_ids.dtype), weights
    )
    labels = ops.cast(ops.not_equal(corrupted, input_ids), "int32") * ops.cast(input_mask, "int32")
    return corrupted, labels
