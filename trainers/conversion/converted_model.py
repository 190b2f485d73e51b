"""What every reader returns and every writer takes: a built pretrainer with its weights, its
config and its tokenizer settings; and the config of sizes read from a checkpoint."""
from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from configs import EncoderConfig, PretrainConfig
from configs.presets import base, large, small
from models.pretrainer import ElectraPretrainer
from core.vocabulary import special_token_ids
from trainers.conversion.errors import ConversionError


@dataclasses.dataclass(frozen=True)
class ConvertedTokenizer:
    """A WordPiece tokenizer: `vocab` (index = id), BERT's uncased normalisation if `lowercase`
    (lower-case, strip accents), and the longest input in tokens."""
    vocab: tuple[str, ...]
    lowercase: bool
    max_seq_length: int

    def special_ids(self, where: str) -> dict[str, int]:
        """{pad, unk, cls, sep, mask} ids; `where` names the vocabulary's file in the error."""
        try:
            return special_token_ids(list(self.vocab))
        except ValueError as err:
            raise ConversionError(f"{where}: {err}") from None


@dataclasses.dataclass(frozen=True)
class ImportedClassifier:
    """A fine-tuned sequence classifier on the model's pooler: kernel (H, K), bias (K,); `labels`
    the K label names in id order, or None for regression (K = 1)."""
    kernel: np.ndarray
    bias: np.ndarray
    labels: tuple[str, ...] | None


@dataclasses.dataclass
class ConvertedModel:
    config: PretrainConfig
    model: ElectraPretrainer
    tokenizer: ConvertedTokenizer
    notes: list[str] = dataclasses.field(default_factory=list)  # what the user should know
    classifier: ImportedClassifier | None = None  # a BertForSequenceClassification's head


@dataclasses.dataclass(frozen=True)
class GeneratorSizes:
    """An imported generator's encoder sizes."""
    hidden_size: int
    num_heads: int
    intermediate_size: int
    num_layers: int


SIZES = {"small": small, "base": base, "large": large}


def size_name(encoder: EncoderConfig) -> str | None:
    """"small", "base" or "large" if `encoder` has that preset's sizes (vocabulary aside), else None."""
    keys = ("embedding_size", "hidden_size", "num_layers", "num_heads", "intermediate_size")
    for name, preset in SIZES.items():
        if all(getattr(preset().model.encoder, k) == getattr(encoder, k) for k in keys):
            return name
    return None


def imported_config(encoder: EncoderConfig, generator: GeneratorSizes | None, sharing: str,
                    generator_size: float | None, where: str) -> PretrainConfig:
    """The PretrainConfig of a checkpoint's discriminator `encoder` and `generator` sizes.

    Training settings come from the preset of the same sizes (small, base, large; else small's).
    An imported generator's sizes are its own: generator_size is its width's fraction of the
    discriminator's, and where that factor does not give its heads, FFN and layers they are set
    one by one; without a generator, `generator_size` (default: the preset's) sizes the new one.
    """
    preset = SIZES[size_name(encoder) or "small"]()
    if generator is not None and generator_size is not None:
        raise ConversionError(f"{where}: --generator_size sizes a new generator, but this checkpoint has its own "
                              "generator; leave --generator_size out")
    if generator is not None:
        generator_size = generator.hidden_size / encoder.hidden_size
    elif generator_size is None:
        generator_size = preset.model.generator_size
    model = dataclasses.replace(preset.model, encoder=encoder, sharing=sharing, generator_size=generator_size)
    built = model.generator_encoder()
    if generator is not None and GeneratorSizes(built.hidden_size, built.num_heads, built.intermediate_size,
                                                built.num_layers) != generator:
        try:
            model = dataclasses.replace(
                model, generator_hidden_size=generator.hidden_size, generator_num_heads=generator.num_heads,
                generator_intermediate_size=generator.intermediate_size, generator_num_layers=generator.num_layers)
        except ValueError as err:
            raise ConversionError(f"{where}: the generator's sizes {_sizes(generator)}: {err}") from None
    return dataclasses.replace(preset, model=model)


def imported_bert_config(encoder: EncoderConfig, pooler: bool) -> PretrainConfig:
    """The PretrainConfig of a BERT `encoder` (with its pooler if `pooler`): a masked LM (objective
    "mlm"), training settings from the preset of the same sizes (else small's)."""
    preset = SIZES[size_name(encoder) or "small"]()
    return dataclasses.replace(preset, model=dataclasses.replace(preset.model, encoder=encoder, objective="mlm",
                                                                 pooler=pooler))


def _sizes(s: GeneratorSizes) -> str:
    return f"(hidden {s.hidden_size}, {s.num_heads} heads, FFN {s.intermediate_size}, {s.num_layers} layers)"


def build_pretrainer(config: PretrainConfig, special_ids: dict) -> ElectraPretrainer:
    """An ElectraPretrainer of `config.model` with its variables created, initialised as a
    training run of config.train.seed would be (what stays of it is a new generator's weights)."""
    keras.utils.set_random_seed(config.train.seed)
    model = ElectraPretrainer(config.model, special_ids, seed=config.train.seed)
    zeros = tf.zeros((1, 8), tf.int32)
    model({"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros})
    return model


def assign(variable: keras.Variable, value: np.ndarray, where: str, name: str, sizes_from: str,
           transpose: bool = False) -> None:
    """variable <- value (float32; transposed if `transpose`, a (out, in) matrix), or a ConversionError
    naming `where` (the file), `name` (the variable there), both shapes and `sizes_from` (what set
    the expected sizes)."""
    expected = tuple(variable.shape)[::-1] if transpose else tuple(variable.shape)
    if tuple(value.shape) != expected:
        raise ConversionError(f"{where}: {name} has shape {tuple(value.shape)}, but {sizes_from} "
                              f"gives {expected}")
    value = np.asarray(value, np.float32)
    variable.assign(value.T if transpose else value)


def check_vocab_size(tokenizer: ConvertedTokenizer, vocab_file: str, rows: int, where: str) -> None:
    """Raises ConversionError unless the vocabulary has one token per word-embedding row."""
    if len(tokenizer.vocab) != rows:
        raise ConversionError(f"{vocab_file} has {len(tokenizer.vocab)} tokens, but {where} has {rows} rows")

