"""GPT-2 in Hugging Face's layout to and from this project's causal LM run directory.

A Hugging Face GPT-2 directory (GPT2LMHeadModel or GPT2Model): config.json
with model_type gpt2, model.safetensors, and the tokenizer's vocab.json and
merges.txt. Its weights use the Conv1D layout, kernels (in, out) like Keras
Dense kernels; each block's attention holds query, key and value side by side
in one c_attn (H, 3H). The run directory gets config.json (the gpt2 preset's
training settings with the imported sizes), spm.model (the tokenizer as a
SentencePiece model: conversion/gpt2_tokenizer.py) with vocab.txt and
data.json, GPT-2's own vocab.json and merges.txt (written back on export),
and ckpt-0, the weights only (trainers.pretrain --model_dir continues
training from it on a fresh schedule).
"""
from __future__ import annotations

import dataclasses
import os
import re

import numpy as np
import safetensors.numpy
import tensorflow as tf

from configs import EncoderConfig, PretrainConfig, get_config
from core import run_files
from models.decoder import CausalLM
from trainers.checkpointing import model_state
from trainers.conversion import gpt2_tokenizer
from trainers.conversion.errors import ConversionError
from trainers.conversion.files import read_json, write_json
from trainers.model_loading import load_causal_lm

CONFIG, WEIGHTS, VOCAB_JSON, MERGES = "config.json", "model.safetensors", "vocab.json", "merges.txt"
PREFIX = "transformer."  # GPT2LMHeadModel's; a GPT2Model's keys have none
BUFFER = re.compile(r"h\.\d+\.attn\.(bias|masked_bias)")  # causal-mask buffers in older files
TANH_GELU = ("gelu_new", "gelu_pytorch_tanh")  # Hugging Face's names of GELU's tanh approximation


def is_gpt2(path: str) -> bool:
    """Whether `path` is a Hugging Face GPT-2 directory or a causal LM run directory."""
    if tf.io.gfile.exists(os.path.join(path, run_files.TOKENIZER)) and run_files.has_config(path):
        config = run_files.read_config(path)
        return isinstance(config, PretrainConfig) and config.model.objective == "causal_lm"
    return read_json(os.path.join(path, CONFIG)).get("model_type") == "gpt2"


def encoder_config(hf: dict, where: str) -> EncoderConfig:
    """The sizes of a GPT2Config's dict; settings this model cannot reproduce are a ConversionError."""
    if hf.get("activation_function", "gelu_new") not in TANH_GELU:
        raise ConversionError(f"{where}: activation_function {hf['activation_function']!r}; GPT-2's is gelu_new")
    if not hf.get("scale_attn_weights", True) or hf.get("scale_attn_by_inverse_layer_idx", False):
        raise ConversionError(f"{where}: attention scaled other than by 1/sqrt(head size) cannot be represented")
    h = hf["n_embd"]
    return EncoderConfig(
        vocab_size=hf["vocab_size"], embedding_size=h, hidden_size=h, num_layers=hf["n_layer"], num_heads=hf["n_head"],
        intermediate_size=hf.get("n_inner") or 4 * h, max_position_embeddings=hf["n_positions"], type_vocab_size=0,
        dropout_rate=hf.get("resid_pdrop", 0.1), attention_dropout_rate=hf.get("attn_pdrop", 0.1),
        initializer_range=hf.get("initializer_range", 0.02), layer_norm_epsilon=hf.get("layer_norm_epsilon", 1e-5))


def hf_config(e: EncoderConfig, eos_id: int) -> dict:
    """config.json of a GPT2LMHeadModel of the sizes `e`."""
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": e.vocab_size,
            "n_embd": e.hidden_size, "n_layer": e.num_layers, "n_head": e.num_heads,
            "n_positions": e.max_position_embeddings,
            "n_inner": e.intermediate_size, "activation_function": "gelu_new", "resid_pdrop": e.dropout_rate,
            "embd_pdrop": e.dropout_rate, "attn_pdrop": e.attention_dropout_rate,
            "layer_norm_epsilon": e.layer_norm_epsilon, "initializer_range": e.initializer_range,
            "bos_token_id": eos_id, "eos_token_id": eos_id, "tie_word_embeddings": True, "dtype": "float32"}


def tensors_of(model: CausalLM) -> dict[str, np.ndarray]:
    """The model's weights under GPT2LMHeadModel's names (the output layer is the tied wte)."""
    def value(variable):
        return np.asarray(variable.numpy(), np.float32)

    out = {"wte.weight": value(model.embeddings.word_embeddings),
           "wpe.weight": value(model.embeddings.position_embeddings),
           "ln_f.weight": value(model.final_norm.gamma), "ln_f.bias": value(model.final_norm.beta)}
    for i, block in enumerate(model.blocks):
        attention = (block.query, block.key, block.value)
        parts = {"ln_1": block.attention_norm, "ln_2": block.output_norm}
        for name, norm in parts.items():
            out[f"h.{i}.{name}.weight"], out[f"h.{i}.{name}.bias"] = value(norm.gamma), value(norm.beta)
        out[f"h.{i}.attn.c_attn.weight"] = np.concatenate([value(d.kernel) for d in attention], axis=1)
        out[f"h.{i}.attn.c_attn.bias"] = np.concatenate([value(d.bias) for d in attention])
        for name, dense in (("attn.c_proj", block.attention_output), ("mlp.c_fc", block.intermediate),
                            ("mlp.c_proj", block.output_dense)):
            out[f"h.{i}.{name}.weight"], out[f"h.{i}.{name}.bias"] = value(dense.kernel), value(dense.bias)
    return {PREFIX + k: np.ascontiguousarray(v) for k, v in out.items()}


def assign_tensors(model: CausalLM, tensors: dict[str, np.ndarray], where: str) -> None:
    """Sets the model's weights from GPT-2's tensors (keys with or without `transformer.`); a missing,
    misshapen or unknown tensor is a ConversionError naming it."""
    found = {k[len(PREFIX):] if k.startswith(PREFIX) else k: v for k, v in tensors.items()}
    tied = found.pop("lm_head.weight", None)
    if tied is not None and "wte.weight" in found and not np.array_equal(tied, found["wte.weight"]):
        raise ConversionError(f"{where}: lm_head.weight differs from wte.weight: an untied output layer cannot be "
                              "represented (GPT-2 ties them)")
    found = {k: v for k, v in found.items() if not BUFFER.fullmatch(k)}
    expected = tensors_of(model)
    names = {k[len(PREFIX):] for k in expected}
    missing, unknown = sorted(names - set(found)), sorted(set(found) - names)
    if missing or unknown:
        raise ConversionError(f"{where}: not GPT-2's layout for {model.config.num_layers} layers: "
                              f"missing {missing[:3]}, unexpected {unknown[:3]}")
    for name in names:
        if found[name].shape != expected[PREFIX + name].shape:
            raise ConversionError(f"{where}: {name} has shape {found[name].shape}, config.json gives "
                                  f"{expected[PREFIX + name].shape}")
    h = model.config.hidden_size
    model.embeddings.word_embeddings.assign(found["wte.weight"])
    model.embeddings.position_embeddings.assign(found["wpe.weight"])
    model.final_norm.gamma.assign(found["ln_f.weight"])
    model.final_norm.beta.assign(found["ln_f.bias"])
    for i, block in enumerate(model.blocks):
        for name, norm in (("ln_1", block.attention_norm), ("ln_2", block.output_norm)):
            norm.gamma.assign(found[f"h.{i}.{name}.weight"])
            norm.beta.assign(found[f"h.{i}.{name}.bias"])
        for j, dense in enumerate((block.query, block.key, block.value)):
            dense.kernel.assign(found[f"h.{i}.attn.c_attn.weight"][:, j * h:(j + 1) * h])
            dense.bias.assign(found[f"h.{i}.attn.c_attn.bias"][j * h:(j + 1) * h])
        for name, dense in (("attn.c_proj", block.attention_output), ("mlp.c_fc", block.intermediate),
                            ("mlp.c_proj", block.output_dense)):
            dense.kernel.assign(found[f"h.{i}.{name}.weight"])
            dense.bias.assign(found[f"h.{i}.{name}.bias"])


def _read_bytes(path: str) -> bytes:
    if not tf.io.gfile.exists(path):
        raise ConversionError(f"{path} not found: a GPT-2 directory holds {CONFIG}, {WEIGHTS}, {VOCAB_JSON} and "
                              f"{MERGES}")
    with tf.io.gfile.GFile(path, "rb") as f:
        return f.read()


def import_huggingface(source: str, run_dir: str) -> list[str]:
    """Writes the run directory of the GPT-2 in `source` (see the module doc); returns notes."""
    config_path = os.path.join(source, CONFIG)
    encoder = encoder_config(read_json(config_path, required=True), config_path)
    try:
        tensors = safetensors.numpy.load(_read_bytes(os.path.join(source, WEIGHTS)))
        vocab, merges = gpt2_tokenizer.read_gpt2_files(_read_bytes(os.path.join(source, VOCAB_JSON)),
                                                       _read_bytes(os.path.join(source, MERGES)))
        model_proto = gpt2_tokenizer.from_gpt2(vocab, merges)
    except (ValueError, UnicodeDecodeError) as err:
        raise ConversionError(f"{source}: {err}") from None
    if len(vocab) != encoder.vocab_size:
        raise ConversionError(f"{source}/{VOCAB_JSON} has {len(vocab)} tokens, {config_path} a vocab_size of "
                              f"{encoder.vocab_size}")
    model = CausalLM(encoder, name="causal_lm")
    model(tf.zeros((1, 1), tf.int32))
    assign_tensors(model, tensors, os.path.join(source, WEIGHTS))
    preset = get_config("gpt2")
    config = dataclasses.replace(preset, model=dataclasses.replace(preset.model, encoder=encoder))
    run_files.write_config(run_dir, config)
    run_files.write_sentencepiece(run_dir, model_proto, lowercase=False, max_seq_length=encoder.max_position_embeddings)
    for name in (VOCAB_JSON, MERGES):
        tf.io.gfile.copy(os.path.join(source, name), os.path.join(run_dir, name), overwrite=True)
    checkpoint = tf.train.Checkpoint(model=model_state(model))
    tf.train.CheckpointManager(checkpoint, run_dir, max_to_keep=1).save(checkpoint_number=0)
    return ["the tokenizer is GPT-2's byte-level BPE as a SentencePiece model (spm.model), in-graph like every run's"]


def export_huggingface(run_dir: str, target: str) -> list[str]:
    """Writes the causal LM of run `run_dir` as a GPT2LMHeadModel directory `target`; returns notes."""
    model, settings = load_causal_lm(run_dir)
    tf.io.gfile.makedirs(target)
    with tf.io.gfile.GFile(os.path.join(target, WEIGHTS), "wb") as f:
        f.write(safetensors.numpy.save(tensors_of(model), metadata={"format": "pt"}))
    write_json(os.path.join(target, CONFIG), hf_config(model.config, settings.special_token_ids["eos"]))
    if all(tf.io.gfile.exists(os.path.join(run_dir, name)) for name in (VOCAB_JSON, MERGES)):
        for name in (VOCAB_JSON, MERGES):
            tf.io.gfile.copy(os.path.join(run_dir, name), os.path.join(target, name))
        return []
    tf.io.gfile.copy(os.path.join(run_dir, settings.file), os.path.join(target, run_files.SENTENCEPIECE_MODEL))
    return [f"the run's own byte-level BPE has no GPT-2 {VOCAB_JSON} / {MERGES}: its SentencePiece model is written "
            f"as {target}/{run_files.SENTENCEPIECE_MODEL}, for a SentencePiece-based tokenizer"]
