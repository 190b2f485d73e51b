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

OBJECTIVES = ("electra", "electra_15", "mlm", "replace_mlm", "all_tokens_mlm", "causal_lm")
GENERATORS = ("masked_lm", "uniform", "unigram")
SHARING = ("none", "embeddings", "all", "gdes")
MASKING = ("token", "whole_word", "ngram")
GENERATOR_TRAINING = ("maximum_likelihood", "adversarial")
LAYER_SHARING = ("all", "attention", "ffn")


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
    # ALBERT-style cross-layer sharing (the ALBERT paper): the layers are split
    # into this many consecutive groups that each share one set of weights.
    # 0 means no sharing (one group per layer).
    num_hidden_groups: int = 0
    # What a group shares: "all" (ALBERT), or the paper's ablations (sec. 4.5,
    # Table 4): "attention" (only the self-attention blocks) or "ffn" (only
    # the feed-forward blocks); each block with its add & LayerNorm.
    layer_sharing: str = "all"

    def __post_init__(self):
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}"
            )
        if not 0 <= self.num_hidden_groups <= self.num_layers:
            raise ValueError(
                f"num_hidden_groups must be in [0, num_layers={self.num_layers}], "
                f"got {self.num_hidden_groups}"
            )
        if self.layer_sharing not in LAYER_SHARING:
            raise ValueError(
                f"model.encoder.layer_sharing must be one of {LAYER_SHARING}, "
                f"got {self.layer_sharing!r}"
            )

    @property
    def num_groups(self) -> int:
        """Number of distinct Transformer layers (weight groups)."""
        return self.num_hidden_groups or self.num_layers


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Discriminator sizes, generator, sharing and objective (ELECTRA paper, sec. 2-3).

    objective: "electra" (replaced token detection over all tokens), "electra_15"
      (discriminator loss on the masked positions only), "mlm" (BERT: the
      discriminator-size encoder is a masked LM with 80% [MASK] / 10% random /
      10% kept; no generator, no discriminator), "replace_mlm" (a masked LM on
      inputs whose masked tokens are replaced by generator samples),
      "all_tokens_mlm" (like replace_mlm, but predicting every token, with a
      sigmoid copy gate). Paper, sec. 3.2 and appendix. "causal_lm": a decoder-only
      language model of the encoder's sizes (GPT-2; models.decoder), trained on
      contiguous token blocks; the generator, masking and sharing settings do not apply.
    generator: "masked_lm" (a small BERT-style generator), "uniform" or
      "unigram" (fixed distributions; the unigram counts are set on the model).
    sharing: generator/discriminator weight tying: "none", "embeddings" (word,
      position and segment embeddings and the embedding LayerNorm), "all"
      (the same encoder; needs generator_size 1) or "gdes" (DeBERTaV3's
      gradient-disentangled sharing: the discriminator sees each shared
      embedding weight under stop-gradient plus its own zero-initialised
      residual; models.gdes).
    masking: "token" (positions drawn uniformly), "whole_word" (whole words)
      or "ngram" (ALBERT: spans of 1..max_ngram whole words, length
      probability proportional to 1 / length; models.span_masking).
    sentence_order: ALBERT's sentence-order prediction on two-segment examples
      (models.sentence_order), weighted by sop_weight.
    generator_training: "maximum_likelihood" or "adversarial" (REINFORCE to
      maximise the discriminator's loss; paper, appendix F; models.adversarial).
    """

    encoder: EncoderConfig = EncoderConfig()
    # Generator hidden size, heads and FFN size as a fraction of the
    # discriminator's; all layers are kept.
    generator_size: float = 0.25
    # The generator's sizes given one by one (0: derived from generator_size as
    # above), for a generator that is not the discriminator scaled by one factor
    # (an imported one: the release sets its FFN to 4x its own width and its heads
    # to width / 64, whatever the discriminator's proportions).
    generator_hidden_size: int = 0
    generator_num_heads: int = 0
    generator_intermediate_size: int = 0
    generator_num_layers: int = 0
    # BERT's pooler (dense + tanh on [CLS]) on the kept encoder: carried for
    # fine-tuning, which classifies from it (an imported BERT's); not trained by
    # the pre-training objectives.
    pooler: bool = False
    mask_rate: float = 0.15
    # ELECTRA objectives: of the selected positions this fraction becomes
    # [MASK]; the rest keep their token (no random-token replacement). The mlm
    # objective uses BERT's 80/10/10 split instead.
    mask_token_fraction: float = 0.85
    # Prediction slots per sequence. The ELECTRA release uses
    # int((mask_rate + 0.005) * max_seq_length): 19 for 128 tokens at 15%.
    max_predictions_per_seq: int = 20
    mlm_weight: float = 1.0
    disc_weight: float = 50.0
    temperature: float = 1.0
    objective: str = "electra"
    generator: str = "masked_lm"
    sharing: str = "embeddings"
    # Weight of the discriminator-size masked LM's loss in replace_mlm and
    # all_tokens_mlm (their main loss is a softmax cross-entropy, not RTD).
    main_mlm_weight: float = 1.0
    # Two-stage training (paper, sec. 3.2): if > 0, train only the generator
    # (MLM loss) for this many steps, then initialise the discriminator from it
    # and train only the discriminator (RTD loss) with the generator frozen.
    # Needs sharing "none" and generator_size 1.
    two_stage_generator_steps: int = 0
    masking: str = "token"
    max_ngram: int = 3
    sentence_order: bool = False
    sop_weight: float = 1.0
    generator_training: str = "maximum_likelihood"

    def __post_init__(self):
        for name, allowed in (
            ("objective", OBJECTIVES),
            ("generator", GENERATORS),
            ("sharing", SHARING),
            ("masking", MASKING),
            ("generator_training", GENERATOR_TRAINING),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"model.{name} must be one of {allowed}, got {getattr(self, name)!r}"
                )
        sizes = ("generator_hidden_size", "generator_num_heads", "generator_intermediate_size",
                 "generator_num_layers")
        if min(getattr(self, name) for name in sizes) < 0:
            raise ValueError(f"model.{', '.join(sizes)} must be >= 0 (0: from generator_size)")
        if any(getattr(self, name) for name in sizes):
            self.generator_encoder()  # a width its heads do not divide is a ValueError
        if self.sharing == "all" and (self.generator_size != 1 or self.generator_encoder() != self.encoder):
            raise ValueError(
                "sharing 'all' ties every generator weight to the discriminator; "
                f"it needs generator_size 1 and the discriminator's sizes, got {self.generator_size}"
            )
        if self.two_stage_generator_steps < 0:
            raise ValueError("two_stage_generator_steps must be >= 0")
        if self.two_stage_generator_steps:
            if (self.sharing, self.generator_size, self.generator) != ("none", 1, "masked_lm") or (
                    self.generator_encoder() != self.encoder):
                raise ValueError(
                    "two-stage training initialises the discriminator from the generator: "
                    "it needs sharing 'none', generator_size 1 and generator 'masked_lm'"
                )
            if self.objective not in ("electra", "electra_15"):
                raise ValueError("two-stage training needs an ELECTRA objective")
        if not 0 < self.mask_rate < 1 or not 0 <= self.mask_token_fraction <= 1:
            raise ValueError("mask_rate must be in (0, 1) and mask_token_fraction in [0, 1]")
        if self.max_ngram < 1:
            raise ValueError(f"model.max_ngram must be >= 1, got {self.max_ngram}")
        if self.sentence_order and not self.sop_weight > 0:
            raise ValueError(f"model.sentence_order needs model.sop_weight > 0, got {self.sop_weight}")
        separate_generator = self.generator == "masked_lm" and self.objective != "mlm"
        if self.sharing == "gdes" and not separate_generator:
            raise ValueError(
                "sharing 'gdes' gives the discriminator the generator's embeddings plus a "
                "residual: it needs a separate generator (generator 'masked_lm', objective not 'mlm')"
            )
        if self.objective == "causal_lm":
            e = self.encoder
            if e.embedding_size != e.hidden_size or e.num_hidden_groups:
                raise ValueError("model.objective 'causal_lm' ties its logits to the word embeddings and shares no "
                                 "layers: it needs encoder.embedding_size == encoder.hidden_size and "
                                 "encoder.num_hidden_groups 0")
            if self.sentence_order or self.two_stage_generator_steps or self.generator_training != "maximum_likelihood":
                raise ValueError("model.objective 'causal_lm' has no sentence order, two stages or adversarial training")
        if self.generator_training == "adversarial":
            if not separate_generator or self.objective not in ("electra", "electra_15"):
                raise ValueError(
                    "adversarial training rewards a trainable generator with the discriminator's "
                    "loss: it needs generator 'masked_lm' and objective 'electra' or 'electra_15'"
                )
            if self.sharing == "all" or self.two_stage_generator_steps:
                raise ValueError(
                    "adversarial training needs a generator of its own: not sharing 'all', "
                    "not two-stage training"
                )

    def generator_encoder(self) -> EncoderConfig:
        """The generator's encoder sizes: hidden, heads and FFN scaled (rounded), all layers kept,
        unless given one by one (generator_hidden_size, ...).

        Without embedding sharing the generator's own embeddings keep the
        discriminator's embedding width, so that two-stage training can copy them
        (the release's untied generator embeddings take the generator's hidden width).
        """
        e, s = self.encoder, self.generator_size
        return dataclasses.replace(
            e,
            hidden_size=self.generator_hidden_size or max(1, round(e.hidden_size * s)),
            num_heads=self.generator_num_heads or max(1, round(e.num_heads * s)),
            intermediate_size=self.generator_intermediate_size or max(1, round(e.intermediate_size * s)),
            num_layers=self.generator_num_layers or e.num_layers,
        )


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation, precision and loop settings (AdamW as in the ELECTRA release)."""

    batch_size: int = 128  # global, across replicas and accumulation steps
    num_steps: int = 1_000_000
    learning_rate: float = 5e-4
    warmup_steps: int = 10_000
    optimizer: str = "adamw"  # adamw | lamb
    weight_decay: float = 0.01
    adam_beta_1: float = 0.9
    adam_beta_2: float = 0.999
    adam_epsilon: float = 1e-6
    bias_correction: bool = False  # the release's AdamW has none
    clip_norm: float = 1.0
    # The batch is processed in this many equal micro-batches whose gradients
    # are averaged before one update (less memory, same global batch).
    grad_accumulation_steps: int = 1
    precision: str = "float32"  # float32 | mixed_bfloat16 | mixed_float16 (dynamic loss scaling)
    jit_compile: bool = False  # XLA-compile the per-replica train step
    steps_per_loop: int = 100  # train steps per tf.function call (fewer host round trips)
    shuffle_buffer: int = 10_000
    log_every: int = 100
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3  # the last N
    milestone_every: int = 0  # also keep every checkpoint at a multiple of this step (0: none)
    eval_every: int = 0  # evaluate on held-out data every N steps (0: only at the end)
    eval_batches: int = 50
    seed: int = 12345

    def __post_init__(self):
        choices = {
            "optimizer": ("adamw", "lamb"),
            "precision": ("float32", "mixed_bfloat16", "mixed_float16"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"train.{name}={getattr(self, name)!r}; choose one of {allowed}")
        positive = (
            "batch_size",
            "num_steps",
            "grad_accumulation_steps",
            "steps_per_loop",
            "log_every",
            "checkpoint_every",
            "keep_checkpoints",
            "eval_batches",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size % self.grad_accumulation_steps:
            raise ValueError(
                f"train.batch_size={self.batch_size} is not divisible by "
                f"train.grad_accumulation_steps={self.grad_accumulation_steps}"
            )


@dataclasses.dataclass(frozen=True)
class PretrainConfig:
    model: ModelConfig = ModelConfig()
    train: TrainConfig = TrainConfig()

    def __post_init__(self):
        if self.model.two_stage_generator_steps >= self.train.num_steps:
            raise ValueError(
                f"model.two_stage_generator_steps ({self.model.two_stage_generator_steps}) "
                f"must be below train.num_steps ({self.train.num_steps})"
            )

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
        raise ValueError(
            f"unknown config keys for {cls.__name__}: {sorted(unknown)}; valid: {sorted(names)}"
        )
    kwargs = {}
    for key, value in data.items():
        field_type = hints[key]
        kwargs[key] = (
            from_dict(field_type, value) if dataclasses.is_dataclass(field_type) else value
        )
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
    """Returns `config` with dotted `key=value` overrides applied, validated once all are set.

    >>> apply_overrides(PretrainConfig(), ["train.num_steps=10"]).train.num_steps
    10
    """
    data = dataclasses.asdict(config)
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override must look like key=value, got {item!r}")
        key, text = item.split("=", 1)
        _set_path(type(config), data, key.strip().split("."), text.strip(), key.strip())
    return from_dict(type(config), data)


def _set_path(cls, data: dict, path: list[str], text: str, full_key: str) -> None:
    hints = typing.get_type_hints(cls)
    name = path[0]
    if name not in hints:
        valid = sorted(f.name for f in dataclasses.fields(cls))
        raise ValueError(f"unknown config key {full_key!r}: {name!r} is not one of {valid}")
    field_type = hints[name]
    if dataclasses.is_dataclass(field_type):
        if len(path) == 1:
            raise ValueError(f"config key {full_key!r} names a section, not a value")
        _set_path(field_type, data[name], path[1:], text, full_key)
        return
    if len(path) > 1:
        raise ValueError(f"unknown config key {full_key!r}: {name!r} has no sub-keys")
    try:
        data[name] = _parse_value(text, field_type)
    except ValueError as err:
        raise ValueError(f"bad value for {full_key!r} ({field_type.__name__}): {err}") from None
