"""Sampling replacement tokens from the generator (ELECTRA paper, sec. 2)."""

from __future__ import annotations

from keras import ops

from models import hash_random
from models.masking import scatter_positions


GUMBEL_BLOCK = 128  # vocabulary ids per block in the first stage of gumbel_max_sample


def gumbel_noise(keys, start: int, count: int):
    """keys (...) uint32 -> Gumbel(0, 1) noise (..., count) float32 for counters start..start+count-1.

    As in the ELECTRA release, g = -log(-log(u + 1e-9) + 1e-9) with u ~ U[0, 1),
    here u a hash of (key, counter) (models.hash_random).
    """
    bits = hash_random.random_bits(
        keys[..., None], ops.arange(start, start + count), hash_random.GUMBEL_NOISE
    )
    return -ops.log(-ops.log(hash_random.to_uniform(bits) + 1e-9) + 1e-9)


def gumbel_max_sample(logits, temperature: float, keys):
    """One token per row from softmax(logits / temperature), exactly, by the Gumbel-max trick.

    logits (..., V) float, keys (...) uint32 (one per sample, e.g. from
    hash_random.random_bits) -> ids (...,) int32. No gradient flows to
    `logits`: the generator is trained by maximum likelihood only.

    Gumbel-max in two stages, over the whole vocabulary cut into blocks of
    GUMBEL_BLOCK ids (the last one padded with probability 0):
      1. a block, by Gumbel-max over the logs of the blocks' total
         probabilities (the maximum of independent Gumbel(l_i) is
         Gumbel(logsumexp(l_i)), so this is the block that one Gumbel-max
         over all V logits would fall in, with its probability);
      2. a token of that block, by Gumbel-max over its logits.
    P(token) = P(block) P(token | block) = softmax(logits)[token], the
    distribution of the ELECTRA release's one Gumbel-max over all V logits,
    from V / 128 + 128 noise draws per sample instead of V: the (..., V)
    work is one softmax and a block sum. Noise counters: blocks 0..n-1, then
    n + the position in the chosen block. Tokens with probability below
    e^-87 of the most likely one (float32 underflow) are never drawn.
    """
    logits = ops.stop_gradient(ops.cast(logits, "float32"))
    if temperature != 1:
        logits = logits / temperature
    vocab_size = logits.shape[-1]
    size = min(GUMBEL_BLOCK, vocab_size)
    count = -(-vocab_size // size)
    probs = ops.softmax(logits, axis=-1)
    if count * size > vocab_size:
        padding = [[0, 0]] * (len(logits.shape) - 1) + [[0, count * size - vocab_size]]
        probs = ops.pad(probs, padding)
    rows = ops.reshape(probs, (-1, count, size))  # (N, count, size), N samples
    block = ops.argmax(
        ops.log(ops.sum(rows, axis=-1)) + ops.reshape(gumbel_noise(keys, 0, count), (-1, count)),
        axis=-1,
    )
    flat = ops.arange(ops.shape(rows)[0]) * count + ops.cast(block, "int32")
    chosen = ops.take(ops.reshape(rows, (-1, size)), flat, axis=0)  # (N, size)
    noise = ops.reshape(gumbel_noise(keys, count, size), (-1, size))
    within = ops.argmax(ops.log(chosen) + noise, axis=-1)
    ids = ops.cast(block, "int32") * size + ops.cast(within, "int32")
    return ops.reshape(ids, ops.shape(keys))


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
