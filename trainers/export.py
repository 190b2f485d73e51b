"""Exports the discriminator as a SavedModel for TF Serving.

`python -m trainers.export --model_dir=DIR --output=DIR`. The `serving_default`
signature takes raw text, tokenizes it in the graph with the tokenizer the
data pipeline used, and returns per-token replaced probabilities:

  text: (B,) string ->
    tokens (B, L) string ("" at padding), token_ids (B, L) int32,
    input_mask (B, L) int32, replaced_probability (B, L) float32 (0 at padding),
  with L <= max_seq_length ([CLS] and [SEP] included; longer texts are truncated).
"""
from __future__ import annotations

import argparse
import os
import sys

import tensorflow as tf

from configs import PretrainConfig
from models.pretrainer import ElectraPretrainer
from pipelines import cli
from pipelines.tokenization import load_vocab, make_text_tokenizer
from trainers import run_directory
from trainers.checkpointing import restore_weights


class ReplacedTokenDetector(tf.Module):
    """The discriminator with in-graph tokenization; holds no generator weights."""

    def __init__(self, pretrainer: ElectraPretrainer, vocab_path: str, tokenizer_path: str, lowercase: bool,
                 max_seq_length: int):
        super().__init__()
        self.discriminator = pretrainer.discriminator
        self.discriminator_head = pretrainer.discriminator_head
        self.tokenizer = make_text_tokenizer(tokenizer_path, lowercase)
        self.vocab = tf.constant(load_vocab(vocab_path))
        self.special_ids = dict(pretrainer.special_ids)
        self.max_seq_length = max_seq_length

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        pieces = self.tokenizer.tokenize(text)[:, : self.max_seq_length - 2]
        pieces = tf.cast(pieces, tf.int32)
        batch = tf.shape(text)[0]
        cls = tf.fill([batch, 1], self.special_ids["cls"])
        sep = tf.fill([batch, 1], self.special_ids["sep"])
        ids = tf.concat([cls, pieces, sep], axis=1)
        input_ids = ids.to_tensor(default_value=self.special_ids["pad"])
        input_mask = tf.ones_like(ids).to_tensor(default_value=0)
        segment_ids = tf.zeros_like(input_ids)
        hidden = self.discriminator(input_ids, input_mask, segment_ids, training=False)
        logits = self.discriminator_head(hidden)
        probability = tf.sigmoid(tf.cast(logits, tf.float32)) * tf.cast(input_mask, tf.float32)
        tokens = tf.where(input_mask > 0, tf.gather(self.vocab, input_ids), "")
        return {"tokens": tokens, "token_ids": input_ids, "input_mask": input_mask,
                "replaced_probability": probability}


def load_pretrainer(model_dir: str, checkpoint: str | None = None) -> tuple[ElectraPretrainer, dict]:
    """The pretrainer with the weights of model_dir's latest checkpoint (or of `checkpoint`, a
    prefix in it), and data.json."""
    config = run_directory.read_config(model_dir)
    if not isinstance(config, PretrainConfig):
        raise run_directory.RunDirectoryError(f"{model_dir} is a fine-tuning run, not a pre-training run")
    data = run_directory.read_data(model_dir)
    run_directory.require_checkpoint(model_dir)
    pretrainer = ElectraPretrainer(config.model, data["special_token_ids"])
    zeros = tf.zeros((1, data["max_seq_length"]), tf.int32)
    pretrainer({"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros})
    latest = restore_weights(pretrainer, checkpoint or model_dir)
    print(f"restored {latest}")
    return pretrainer, data


def export(model_dir: str, output: str) -> str:
    pretrainer, data = load_pretrainer(model_dir)
    if getattr(pretrainer, "discriminator_head", None) is None:
        raise cli.UserError(f"{model_dir} was trained with objective {pretrainer.config.objective!r}, which "
                         "has no replaced-token head to export")
    tokenizer_file = data.get("tokenizer", {}).get("file", "vocab.txt")  # older runs: WordPiece
    module = ReplacedTokenDetector(pretrainer, os.path.join(model_dir, "vocab.txt"),
                                   os.path.join(model_dir, tokenizer_file), data["lowercase"],
                                   data["max_seq_length"])
    tf.saved_model.save(module, output, signatures={"serving_default": module.serve})
    print(f"wrote SavedModel to {output}")
    return output


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model_dir", required=True, help="a trainers.pretrain model directory")
    p.add_argument("--output", required=True, help="SavedModel directory to write")
    args = p.parse_args(argv)
    export(args.model_dir, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
