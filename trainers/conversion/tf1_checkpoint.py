"""The ELECTRA release's TF1 checkpoints (name-based; written by the original run_pretraining.py).

Variable names and shapes: model_weights.py. A checkpoint holds no config: sizes come from the
shapes, the number of attention heads from `hparams.json` beside it (the original code's
--hparams file, `model_hparam_overrides.num_attention_heads`) or --num_heads, else hidden / 64
as the original code sets it; a generator has max(1, hidden / 64) heads there. Sharing: a
`generator/encoder` with `generator/embeddings` is sharing "none" (untied_generator_embeddings),
without them "embeddings"; `generator_predictions` without a generator encoder is "all"
(untied_generator=False). Optimizer slots (`.../adam_m`, `.../adam_v`) and `global_step` are
not weights and are skipped.
"""
from __future__ import annotations

import os
import re

import numpy as np
import tensorflow as tf

from configs import EncoderConfig
from trainers.conversion.converted_model import (ConvertedModel, GeneratorSizes, ConvertedTokenizer, assign,
                                                 build_pretrainer, check_vocab_size, imported_config,
                                                 size_name)
from trainers.conversion.files import read_json, read_vocab, write_json, write_vocab
from trainers.conversion.errors import ConversionError
from trainers.conversion.model_weights import DISCRIMINATOR, GENERATOR, is_bert, named_variables

WORD_EMBEDDINGS = f"{DISCRIMINATOR}/embeddings/word_embeddings"
HPARAMS, VOCAB, PREFIX = "hparams.json", "vocab.txt", "model.ckpt"
_NOT_WEIGHTS = re.compile(r"(/adam_[mv]$|^global_step$)")


def checkpoint_prefix(path: str) -> str:
    """The checkpoint prefix of `path`: a prefix, or a directory with a `checkpoint` file or one *.index."""
    if tf.io.gfile.isdir(path):
        latest = tf.train.latest_checkpoint(path)  # None, or possibly where the checkpoint was written
        if latest and tf.io.gfile.exists(latest + ".index"):
            return latest
        indexes = tf.io.gfile.glob(os.path.join(path, "*.index"))
        if len(indexes) == 1:
            return indexes[0][: -len(".index")]
        raise ConversionError(f"{path}: no checkpoint in the directory (a 'checkpoint' file or one *.index file)")
    if not tf.io.gfile.exists(path + ".index"):
        raise ConversionError(f"{path}.index not found: --from is neither a checkpoint prefix nor a directory")
    return path


def _reader(prefix: str):
    try:
        return tf.train.load_checkpoint(prefix)
    except tf.errors.OpError as err:
        raise ConversionError(f"{prefix}: not a readable checkpoint ({err})") from None


def _tensor(reader, prefix: str, name: str) -> np.ndarray:
    try:
        return reader.get_tensor(name)
    except (tf.errors.OpError, IndexError) as err:  # IndexError: a data file shorter than its index says
        raise ConversionError(f"{prefix}: {name} cannot be read, the checkpoint is damaged ({err})") from None


def _encoder_sizes(shapes: dict, scope: str, prefix: str) -> tuple[int, int, int]:
    """(hidden, FFN, layers) of the encoder under `scope`."""
    layers = {int(m.group(1)) for n in shapes if (m := re.match(rf"{scope}/encoder/layer_(\d+)/", n))}
    query, intermediate = (f"{scope}/encoder/layer_0/{n}/kernel" for n in ("attention/self/query", "intermediate/dense"))
    for name in (query, intermediate):
        if name not in shapes:
            raise ConversionError(f"{prefix}: no variable {name}")
    return shapes[query][1], shapes[intermediate][1], len(layers)


def read(path: str, vocab: str | None = None, lowercase: bool | None = None, num_heads: int | None = None,
         generator_size: float | None = None) -> ConvertedModel:
    """Imports the TF1 checkpoint at `path` (prefix or directory) with its vocab.txt (or `vocab`)."""
    prefix = checkpoint_prefix(path)
    reader = _reader(prefix)
    shapes = {n: tuple(s) for n, s in reader.get_variable_to_shape_map().items() if not _NOT_WEIGHTS.search(n)}
    if WORD_EMBEDDINGS not in shapes:
        scopes = sorted({n.split("/")[0] for n in shapes})
        raise ConversionError(f"{prefix}: no variable {WORD_EMBEDDINGS}: not an ELECTRA checkpoint (its "
                              f"variables are under {', '.join(scopes[:6]) or 'nothing'})")
    hparams = read_json(os.path.join(os.path.dirname(prefix), HPARAMS))
    vocab_size, width = shapes[WORD_EMBEDDINGS]
    hidden, ffn, layers = _encoder_sizes(shapes, DISCRIMINATOR, prefix)
    heads = num_heads or hparams.get("model_hparam_overrides", {}).get("num_attention_heads")
    notes = [] if heads else [f"the checkpoint does not record its attention heads: {max(1, hidden // 64)} (hidden "
                              f"{hidden} / 64, as the original code sets them); give --num_heads if it had others"]
    heads = heads or max(1, hidden // 64)
    try:
        encoder = EncoderConfig(
            vocab_size=vocab_size, embedding_size=width, hidden_size=hidden, num_layers=layers, num_heads=heads,
            intermediate_size=ffn, max_position_embeddings=shapes[f"{DISCRIMINATOR}/embeddings/position_embeddings"][0],
            type_vocab_size=shapes[f"{DISCRIMINATOR}/embeddings/token_type_embeddings"][0])
    except (KeyError, ValueError) as err:
        raise ConversionError(f"{prefix}: {err}") from None
    generator, sharing = None, "embeddings"
    if any(n.startswith(f"{GENERATOR}/encoder/") for n in shapes):
        g_hidden, g_ffn, g_layers = _encoder_sizes(shapes, GENERATOR, prefix)
        generator = GeneratorSizes(g_hidden, max(1, g_hidden // 64), g_ffn, g_layers)
        own = shapes.get(f"{GENERATOR}/embeddings/word_embeddings")
        if own is not None:
            sharing = "none"
            if own[1] != width:
                raise ConversionError(
                    f"{prefix}: {GENERATOR}/embeddings/word_embeddings is {own}: the generator's own embeddings "
                    f"must have the discriminator's width {width} here (this project cannot represent {own[1]})")
    elif "generator_predictions/output_bias" in shapes:
        sharing = "all"
        generator = GeneratorSizes(hidden, heads, ffn, layers)
    else:
        notes.append("the checkpoint has no generator: continuing pre-training starts a new one "
                     "(random weights) sharing the imported embeddings")
    vocab_file = vocab or os.path.join(os.path.dirname(prefix), VOCAB)
    tokenizer = ConvertedTokenizer(read_vocab(vocab_file),
                                  hparams.get("do_lower_case", True) if lowercase is None else lowercase,
                                  int(hparams.get("max_seq_length", encoder.max_position_embeddings)))
    check_vocab_size(tokenizer, vocab_file, vocab_size, f"{prefix}: {WORD_EMBEDDINGS}")
    config = imported_config(encoder, generator, sharing, generator_size, prefix)
    model = build_pretrainer(config, tokenizer.special_ids(vocab_file))
    names = named_variables(model, prefix)
    for name, variable in names.items():
        if generator is None and name.startswith(GENERATOR):
            continue  # the new generator keeps its initial weights
        if name not in shapes:
            raise ConversionError(f"{prefix}: no variable {name}")
        assign(variable, _tensor(reader, prefix, name), prefix, name, "the sizes of the checkpoint's first layer")
    unused = sorted(set(shapes) - set(names))
    if unused:
        raise ConversionError(f"{prefix}: variables not in an ELECTRA layout this converter knows: "
                              f"{', '.join(unused[:5])}{' ...' if len(unused) > 5 else ''}")
    return ConvertedModel(config, model, tokenizer, notes)


def hparams(converted: ConvertedModel) -> dict:
    """The original run_pretraining.py's --hparams for this model (sizes as model_hparam_overrides)."""
    model, tokenizer = converted.config.model, converted.tokenizer
    e = model.encoder
    return {
        "model_size": size_name(e) or "small", "vocab_size": e.vocab_size, "embedding_size": e.embedding_size,
        "model_hparam_overrides": {
            "hidden_size": e.hidden_size, "num_hidden_layers": e.num_layers, "num_attention_heads": e.num_heads,
            "intermediate_size": e.intermediate_size, "max_position_embeddings": e.max_position_embeddings,
            "type_vocab_size": e.type_vocab_size},
        "generator_hidden_size": model.generator_size, "untied_generator_embeddings": model.sharing == "none",
        "untied_generator": model.sharing != "all", "do_lower_case": tokenizer.lowercase,
        "max_seq_length": tokenizer.max_seq_length,
    }


def write(converted: ConvertedModel, out_dir: str) -> list[str]:
    """Writes OUT/model.ckpt (+ `checkpoint`), vocab.txt and hparams.json; returns notes for the user."""
    if is_bert(converted.config.model):
        raise ConversionError(f"{out_dir}: the tf1 format is the ELECTRA release's; a BERT run (a masked LM) "
                              "converts to huggingface")
    prefix = os.path.join(out_dir, PREFIX)
    if tf.io.gfile.exists(prefix + ".index"):
        raise ConversionError(f"{prefix}.index exists; convert into a new directory")
    names = named_variables(converted.model)
    tf.io.gfile.makedirs(out_dir)
    tf.raw_ops.SaveV2(prefix=prefix, tensor_names=list(names), shape_and_slices=[""] * len(names),
                      tensors=[tf.constant(np.asarray(v.numpy())) for v in names.values()])
    with tf.io.gfile.GFile(os.path.join(out_dir, "checkpoint"), "w") as f:
        f.write(f'model_checkpoint_path: "{PREFIX}"\nall_model_checkpoint_paths: "{PREFIX}"\n')
    write_vocab(os.path.join(out_dir, VOCAB), converted.tokenizer.vocab)
    write_json(os.path.join(out_dir, HPARAMS), hparams(converted))
    generator = converted.config.model.generator_encoder()
    if converted.config.model.sharing != "all" and (
            generator.intermediate_size != 4 * generator.hidden_size
            or generator.num_heads != max(1, generator.hidden_size // 64)
            or generator.num_layers != converted.config.model.encoder.num_layers):
        return ["the original code builds a generator with FFN 4 x hidden, hidden / 64 heads and every layer; "
                "this one differs, so there only its discriminator can be used"]
    return []
