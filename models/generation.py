"""Text generation from a causal LM (models.decoder) with a key/value cache, in Keras 3 ops.

Prompts are left-padded, so every row's last prompt token sits in the same
slot; each token's position embedding counts only the row's real tokens.
The prompt runs through the model once, filling the cache; every new token
then costs one position. Decoding is greedy (temperature 0) or samples from
softmax(logits / temperature) restricted to the top_k most likely tokens
and/or the smallest set whose probability reaches top_p (nucleus sampling,
"The Curious Case of Neural Text Degeneration", arXiv:1904.09751), by the
Gumbel-max trick on counter-based random numbers (models.sampling,
models.hash_random): a (seed, row, step) gives the same draw in any batch
layout. A row stops at the end-of-text token.
"""

from __future__ import annotations

from keras import ops

from models import hash_random
from models.sampling import gumbel_max_sample

MASKED = -1e9  # the logit of a token filtered out


def filter_logits(logits, top_k, top_p):
    """logits (B, V) float32 -> the same with every token outside the top_k (0: no limit) and
    outside the nucleus of probability top_p (>= 1: no limit) set to MASKED. Tokens tied with
    the last one kept are kept too; the most likely token always is."""
    ranked = -ops.sort(-logits, axis=-1)  # descending
    vocab = ops.shape(logits)[-1]
    k = ops.where(top_k > 0, ops.minimum(top_k, vocab), vocab)
    kth = ops.take(ranked, ops.cast(k - 1, "int32"), axis=-1)[:, None]
    probs = ops.softmax(ranked, axis=-1)
    before = ops.cumsum(probs, axis=-1) - probs  # probability of the more likely tokens
    inside = ops.sum(ops.cast(before < ops.cast(top_p, "float32"), "int32"), axis=-1)
    pth = ops.take_along_axis(ranked, ops.maximum(inside, 1)[:, None] - 1, axis=-1)
    keep = ops.logical_and(logits >= kth, ops.logical_or(logits >= pth, top_p >= 1.0))
    return ops.where(keep, logits, MASKED)


def choose_tokens(logits, temperature, top_k, top_p, keys):
    """logits (B, V) float32, keys (B,) uint32 -> (token ids (B,) int32, their log-probabilities
    (B,) under the model's softmax(logits)). temperature <= 0: the argmax."""
    greedy = ops.cast(ops.argmax(logits, axis=-1), "int32")
    scaled = filter_logits(logits / ops.maximum(ops.cast(temperature, "float32"), 1e-6), top_k, top_p)
    sampled = gumbel_max_sample(scaled, 1.0, keys)
    tokens = ops.where(temperature > 0, sampled, greedy)
    log_probs = ops.take_along_axis(ops.log_softmax(logits, axis=-1), tokens[:, None], axis=-1)[:, 0]
    return tokens, log_probs


def step_keys(seed, step):
    """(B,) uint32 sampling keys of step `step` from the rows' seeds `seed` (B,) uint32."""
    return hash_random.random_bits(seed, ops.cast(step, "uint32"), hash_random.GENERATION)


def prompt_positions(prompt_mask):
    """prompt_mask (B, P) 1/0, left-padded -> position ids (B, P) int32 (0 on padding)."""
    return ops.maximum(ops.cumsum(ops.cast(prompt_mask, "int32"), axis=1) - 1, 0)


def generate(model, prompt_ids, prompt_mask, max_new_tokens, eos_id: int, temperature, top_k, top_p, seed):
    """Continues left-padded prompts.

    model: a models.decoder.CausalLM; prompt_ids, prompt_mask (B, P) int
    (P + max_new_tokens must not exceed its positions); max_new_tokens: int
    scalar; temperature, top_p float and top_k int scalars; seed (B,) uint32 ->
    (tokens (B, max_new_tokens) int32, log-probabilities (B, max_new_tokens)
    float32 of each chosen token, lengths (B,) int32: tokens before the
    end-of-text token, which ends a row; later slots hold eos_id, log-probability 0).
    """
    batch, prompt_length = ops.shape(prompt_ids)[0], ops.shape(prompt_ids)[1]
    key_mask = ops.concatenate([ops.cast(prompt_mask, "int32"), ops.ones((batch, max_new_tokens), "int32")], axis=1)
    positions = prompt_positions(prompt_mask)
    cache = model.empty_cache(batch, prompt_length + max_new_tokens)
    logits, cache = model.decode(prompt_ids, positions, key_mask, cache, 0)
    state = (
        ops.convert_to_tensor(0, "int32"),
        logits[:, -1],
        positions[:, -1] + 1,
        cache,
        ops.full((batch, max_new_tokens), eos_id, "int32"),
        ops.zeros((batch, max_new_tokens), "float32"),
        ops.zeros((batch,), "bool"),
    )

    def more(step, last, position, cache, tokens, log_probs, done):
        return ops.logical_and(step < max_new_tokens, ops.logical_not(ops.all(done)))

    def one_token(step, last, position, cache, tokens, log_probs, done):
        token, log_prob = choose_tokens(last, temperature, top_k, top_p, step_keys(seed, step))
        token = ops.where(done, eos_id, token)
        log_prob = ops.where(done, 0.0, log_prob)
        tokens = ops.slice_update(tokens, (0, step), token[:, None])
        log_probs = ops.slice_update(log_probs, (0, step), log_prob[:, None])
        done = ops.logical_or(done, ops.equal(token, eos_id))
        logits, cache = model.decode(token[:, None], position[:, None], key_mask, cache, prompt_length + step)
        return step + 1, logits[:, -1], position + 1, cache, tokens, log_probs, done

    _, _, _, _, tokens, log_probs, _ = ops.while_loop(more, one_token, state)
    ended = ops.equal(tokens, eos_id)
    lengths = ops.where(ops.any(ended, axis=1), ops.argmax(ops.cast(ended, "int32"), axis=1), max_new_tokens)
    return tokens, log_probs, ops.cast(lengths, "int32")
