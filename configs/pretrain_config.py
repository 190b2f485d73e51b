"""Typed, frozen configuration for ELECTRA pre-training.

A `PretrainConfig` is a tree of frozen dataclasses. Presets (`configs.presets`)
differ from the defaults here only where they must. Overrides are dotted keys
(`train.num_steps=100`); unknown keys are errors.
"""
from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any


@dataclasses.dataclass(frozen=True)
class EncoderConfig:
    """Sizes of one Transformer encoder (the discriminator's; see ModelConfig)."""

    vocab_size: int = 30522
    embedding_size: int = 128
    hidden_size: int = 256
    num_layers: int = 12
    num_heads: int = 4
    intermediate_size: int = 1024
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    dropout_rate: float = 0.1
    attention_dropout_rate: float = 0.1
    initializer_range: float = 0.02
    layer_norm_epsilon: float = 1e-12


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Discriminator sizes, generator scale and the RTD objective (ELECTRA paper, sec. 2-3)."""

    encoder: EncoderConfig = EncoderConfig()
    # Generator hidden size, heads and FFN size as a fraction of the
    # discriminator's; all layers are kept.
    generator_size: float = 0.25
    mask_rate: float = 0.15
    # Of the selected positions, this fraction becomes [MASK]; the rest keep
    # their token (ELECTRA uses no random-token replacement).
    mask_token_fraction: float = 0.85
    max_predictions_per_seq: int = 20
    mlm_weight: float = 1.0
    disc_weight: float = 50.0
    temperature: float = 1.0

    def generator_encoder(self) -> EncoderConfig:
        """The generator's encoder sizes: hidden, heads and FFN scaled."""
        e, s = self.encoder, self.generator_size
        return dataclasses.replace(
            e,
            hidden_size=max(1, int(e.hidden_size * s)),
            num_heads=max(1, int(e.num_heads * s)),
            intermediate_size=max(1, int(e.intermediate_size * s)),
        )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation and loop settings (AdamW as in the ELECTRA release)."""

    batch_size: int = 128  # global, across replicas
    num_steps: int = 1_000_000
    learning_rate: float = 5e-4
    warmup_steps: int = 10_000
    weight_decay: float = 0.01
    adam_beta_1: float = 0.9
    adam_beta_2: float = 0.999
    adam_epsilon: float = 1e-6
    clip_norm: float = 1.0
    shuffle_buffer: int = 10_000
    log_every: int = 100
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3
    eval_batches: int = 50
    seed: int = 12345


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)


def from_dict(cls, data: dict):
    """Builds dataclass `cls` from a nested dict; unknown keys raise ValueError."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise ValueError(f"unknown config keys for {cls.__name__}: {sorted(unknown)}; valid: {sorted(names)}")
    kwargs = {}
    for key, value in data.items():
        field_type = hints[key]
        kwargs[key] = from_dict(field_type, value) if dataclasses.is_dataclass(field_type) else value
    return cls(**kwargs)


def _parse_value(text: str, field_type: type) -> Any:
    if field_type is bool:
        if text.lower() in ("1", "true", "yes"):
            return True
        if text.lower() in ("0", "false", "no"):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    return field_type(text)


def apply_overrides(config, overrides: list[str]):
    """Returns `config` with dotted `key=value` overrides applied.

    >>> apply_overrides(PretrainConfig(), ["train.num_steps=10"]).train.num_steps
    10
    """
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override must look like key=value, got {item!r}")
        key, text = item.split("=", 1)
        config = _replace_path(config, key.strip().split("."), text.strip(), key)
    return config


def _replace_path(node, path: list[str], text: str, full_key: str):
    hints = typing.get_type_hints(type(node))
    name = path[0]
    if name not in hints:
        valid = sorted(f.name for f in dataclasses.fields(node))
        raise ValueError(f"unknown config key {full_key!r}: {name!r} is not one of {valid}")
    field_type = hints[name]
    if dataclasses.is_dataclass(field_type):
        if len(path) == 1:
            raise ValueError(f"config key {full_key!r} names a section, not a value")
        value = _replace_path(getattr(node, name), path[1:], text, full_key)
    else:
        if len(path) > 1:
            raise ValueError(f"unknown config key {full_key!r}: {name!r} has no sub-keys")
        try:
            value = _parse_value(text, field_type)
        except ValueError as err:
            raise ValueError(f"bad value for {full_key!r} ({field_type.__name__}): {err}") from None
    return dataclasses.replace(node, **{name: value})
