"""Causal language modelling (GPT-2) as a task of the one loop.

Blocks of T + 1 tokens from `pipelines.build_pretraining_data --objective=causal_lm`
in (x = tokens[:-1], y = tokens[1:]); next-token cross-entropy summed per
replica out (models.lm_loss). Held-out metrics: loss, perplexity, accuracy and
bits per byte, beside a unigram and a bigram model fitted on the training
split (trainers.baselines). Corrupt-record handling is the pre-training task's.
"""
from __future__ import annotations

import math

import numpy as np

from configs import PretrainConfig
from models.decoder import CausalLM
from models.lm_loss import LM_COUNTS, lm_metrics, next_token_statistics
from trainers import baselines
from trainers.input_data import BLOCK_FEATURES
from trainers.tasks.pretraining import PretrainingTask


class CausalLMTask(PretrainingTask):
    """config: a PretrainConfig with objective causal_lm; max_seq_length: T, the blocks holding
    T + 1 tokens; byte_lengths (V,): UTF-8 bytes of each token's text (core.vocabulary.piece_byte_lengths)."""

    count_names = LM_COUNTS
    features, extra_tokens = BLOCK_FEATURES, 1

    def __init__(self, config: PretrainConfig, train_pattern: str, max_seq_length: int, byte_lengths,
                 eval_pattern: str = "", skip_corrupt_records: bool = False, shard_examples: dict | None = None):
        super().__init__(config, {}, train_pattern, max_seq_length, eval_pattern, skip_corrupt_records,
                         shard_examples)
        self.byte_lengths = np.asarray(byte_lengths, np.float32)
        self._baselines = {}  # held-out blocks evaluated -> ngram_baselines

    def build_model(self):
        return CausalLM(self.config.model.encoder, name="causal_lm")

    # -- training ------------------------------------------------------------

    def statistics(self, model, batch, training):
        ids = batch["input_ids"]
        stats = next_token_statistics(model(ids[:, :-1], training=training), ids[:, 1:], self.byte_lengths)
        stats["tokens"] = stats["targets"]
        return stats

    def loss(self, stats, counts, stage):
        return stats["loss_sum"] / counts["targets"]

    def metrics(self, totals, stage):
        return lm_metrics(totals)

    def describe(self, metrics):
        return f"loss {metrics['loss']:.3f} ppl {metrics['perplexity']:.1f} acc {metrics['accuracy']:.3f}"

    # -- evaluation ------------------------------------------------------------

    def eval_step(self, model, batch):
        return self.statistics(model, batch, training=False), {}

    def ngram_baselines(self, num_blocks: int) -> dict:
        """Cross-entropy sums (nats) of the unigram and bigram models of the training split on the
        first `num_blocks` held-out blocks (those an evaluation of that many blocks reads), and
        those blocks' target bytes."""
        if num_blocks not in self._baselines:
            heldout = self._blocks(self.eval_pattern)[:num_blocks]
            fitted = baselines.ngram_cross_entropies(self._blocks(self.train_pattern), heldout,
                                                     self.config.model.encoder.vocab_size)
            self._baselines[num_blocks] = dict(fitted, bytes=float(self.byte_lengths[heldout[:, 1:]].sum()))
        return self._baselines[num_blocks]

    def _blocks(self, pattern) -> np.ndarray:
        batches = [b["input_ids"].numpy() for b in self._dataset(pattern, 4096, False)]
        return np.concatenate(batches) if batches else np.zeros((0, self.max_seq_length + 1), np.int32)

    def evaluation_metrics(self, sums, rows, step, split):
        metrics = lm_metrics(sums)
        metrics["tokens"] = float(sums["targets"])
        fitted = self.ngram_baselines(round(float(sums["targets"]) / self.max_seq_length))
        for name in ("unigram", "bigram"):
            loss = fitted[name] / max(fitted["targets"], 1)
            metrics.update({f"{name}_loss": loss, f"{name}_perplexity": math.exp(loss),
                            f"{name}_bits_per_byte": fitted[name] / math.log(2) / max(fitted["bytes"], 1.0)})
        return metrics

    def describe_evaluation(self, metrics):
        return (f"loss {metrics['loss']:.4f} perplexity {metrics['perplexity']:.2f} bits/byte "
                f"{metrics['bits_per_byte']:.4f} (unigram {metrics['unigram_perplexity']:.2f}, bigram "
                f"{metrics['bigram_perplexity']:.2f})")
