"""Prompt strings -> generated text in the graph: a causal LM run's tokenizer and models.generation.

Used alike by `trainers.generate` and by the exported SavedModel, so both
produce the same text. A prompt starts a document: it is tokenized after
<|endoftext|> (as documents follow one another in the training data), and
its oldest tokens are left out when it and the new tokens exceed the
model's positions.
"""
from __future__ import annotations

import tensorflow as tf

from models import hash_random
from models.generation import generate
from pipelines.tokenization import make_text_tokenizer


class TextGenerator(tf.Module):
    """model: a CausalLM; tokenizer_path: the run's byte-level BPE (spm.model); eos_id: its
    <|endoftext|>; max_new_tokens: what `serve` generates (greedily)."""

    def __init__(self, model, tokenizer_path: str, lowercase: bool, eos_id: int, max_new_tokens: int = 32):
        super().__init__()
        self.model = model
        self.tokenizer = make_text_tokenizer(tokenizer_path, lowercase)
        self.eos_id, self.max_new_tokens = int(eos_id), int(max_new_tokens)
        self.max_positions = model.config.max_position_embeddings
        if self.max_new_tokens >= self.max_positions:
            raise ValueError(f"max_new_tokens {self.max_new_tokens} leaves no room for a prompt in "
                             f"{self.max_positions} positions")

    def encode(self, prompts, max_new_tokens):
        """(B,) strings -> left-padded ids, mask (B, P) int32: <|endoftext|> and the prompt's
        tokens, at most max_positions - max_new_tokens of them (the last ones)."""
        ids = self.tokenizer.tokenize(prompts)
        eos = tf.fill([tf.shape(prompts)[0], 1], tf.constant(self.eos_id, tf.int64))
        ids = tf.concat([eos, ids], axis=1)
        lengths = ids.row_lengths()
        keep = tf.minimum(lengths, tf.cast(self.max_positions - max_new_tokens, tf.int64))
        ids = tf.ragged.boolean_mask(ids, tf.ragged.range(lengths) >= (lengths - keep)[:, None])  # the last ones
        dense = ids.to_tensor(default_value=self.eos_id)  # right-padded
        width, keep = tf.shape(dense)[1], tf.cast(keep, tf.int32)
        source = tf.range(width)[None, :] - (width - keep)[:, None]  # column of each slot in `dense`
        mask = tf.cast(source >= 0, tf.int32)
        left = tf.gather(dense, tf.maximum(source, 0), batch_dims=1)
        return tf.where(mask > 0, tf.cast(left, tf.int32), self.eos_id), mask

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32),
                                  tf.TensorSpec([], tf.float32), tf.TensorSpec([], tf.int32)])
    def generate(self, prompt, max_new_tokens, temperature, top_k, top_p, seed):
        """prompt (B,) strings; max_new_tokens; temperature (0: greedy); top_k (0: all); top_p (1: all);
        seed -> {"text": (B,) the continuations, "tokens" (B, max_new_tokens) int32 (<|endoftext|>
        after the end), "lengths" (B,) int32, "log_probability" (B,) float32 of each continuation}."""
        max_new_tokens = tf.clip_by_value(max_new_tokens, 1, self.max_positions - 1)
        ids, mask = self.encode(prompt, max_new_tokens)
        rows = tf.cast(tf.range(tf.shape(prompt)[0]), tf.uint32)
        seeds = hash_random.random_bits(tf.cast(seed, tf.uint32), rows, hash_random.GENERATION)
        tokens, log_probs, lengths = generate(self.model, ids, mask, max_new_tokens, self.eos_id, temperature,
                                              top_k, top_p, seeds)
        text = self.tokenizer.detokenize(tf.RaggedTensor.from_tensor(tokens, lengths))
        return {"text": text, "tokens": tokens, "lengths": lengths,
                "log_probability": tf.reduce_sum(log_probs, axis=1)}

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="prompt")])
    def serve(self, prompt):
        """The serving signature: prompt (B,) strings -> greedy continuations of max_new_tokens."""
        return self.generate(prompt, self.max_new_tokens, 0.0, 0, 1.0, 0)
