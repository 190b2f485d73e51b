"""Named presets: ELECTRA-Small/Base/Large (paper, Table 6), ALBERT base to
xxlarge (the ALBERT paper, Table 1) and a tiny demo size.

The paper trains Small on 128-token sequences and Base/Large on 512; the
max_predictions_per_seq values follow from that.
"""

from __future__ import annotations

import dataclasses

from configs.pretrain_config import (
    EncoderConfig,
    ModelConfig,
    PretrainConfig,
    TrainConfig,
    apply_overrides,
)


def tiny() -> PretrainConfig:
    """Trains on a laptop CPU in minutes; for tests and the demo.

    The learning rate is ELECTRA-Small's 5e-4: at 2e-3 the discriminator's
    first-layer attention collapsed onto single tokens (entropy ~1% of
    uniform) and its held-out AUC stayed at 0.50; at 5e-4 it reaches ~0.54
    on the demo corpus in 800 steps.
    """
    return PretrainConfig(
        model=ModelConfig(
            encoder=EncoderConfig(
                embedding_size=64,
                hidden_size=128,
                num_layers=2,
                num_heads=4,
                intermediate_size=512,
                max_position_embeddings=128,
            )
        ),
        train=TrainConfig(
            batch_size=32,
            num_steps=800,
            learning_rate=5e-4,
            warmup_steps=100,
            shuffle_buffer=2000,
            log_every=50,
            checkpoint_every=200,
            eval_batches=20,
        ),
    )


def small() -> PretrainConfig:
    """ELECTRA-Small: 12 layers, hidden 256, embedding 128, generator 1/4."""
    return PretrainConfig()


def base() -> PretrainConfig:
    """ELECTRA-Base: hidden 768, 12 heads, generator 1/3, batch 256, lr 2e-4."""
    return PretrainConfig(
        model=ModelConfig(
            encoder=EncoderConfig(
                embedding_size=768, hidden_size=768, num_heads=12, intermediate_size=3072
            ),
            generator_size=1 / 3,
            max_predictions_per_seq=79,  # int((0.15 + 0.005) * 512), as in the ELECTRA release
        ),
        train=TrainConfig(batch_size=256, num_steps=766_000, learning_rate=2e-4),
    )


def large() -> PretrainConfig:
    """ELECTRA-Large: 24 layers, hidden 1024, generator 1/4, mask rate 0.25."""
    return PretrainConfig(
        model=ModelConfig(
            encoder=EncoderConfig(
                embedding_size=1024,
                hidden_size=1024,
                num_layers=24,
                num_heads=16,
                intermediate_size=4096,
            ),
            mask_rate=0.25,
            max_predictions_per_seq=130,  # int((0.25 + 0.005) * 512)
        ),
        train=TrainConfig(batch_size=2048, num_steps=400_000, learning_rate=2e-4),
    )


def _albert(hidden_size: int, num_layers: int, num_heads: int) -> PretrainConfig:
    """ALBERT (its paper, sec. 3-4): embedding size 128, every layer shared,
    FFN 4H, no dropout (sec. 4.8); MLM with n-gram masking (n <= 3) plus
    sentence-order prediction (weight 1); LAMB, batch 4096, learning rate
    0.00176, 125k steps (sec. 4.1) with the release's 3,125 warmup steps.
    512-token sequences with 20 predictions, as the release's data builder;
    30,000 SentencePiece pieces (the data's vocabulary replaces it)."""
    return PretrainConfig(
        model=ModelConfig(
            encoder=EncoderConfig(
                vocab_size=30000,
                embedding_size=128,
                hidden_size=hidden_size,
                num_layers=num_layers,
                num_heads=num_heads,
                intermediate_size=4 * hidden_size,
                dropout_rate=0.0,
                attention_dropout_rate=0.0,
                num_hidden_groups=1,
            ),
            objective="mlm",
            masking="ngram",
            max_ngram=3,
            sentence_order=True,
            sop_weight=1.0,
            max_predictions_per_seq=20,
        ),
        train=TrainConfig(
            batch_size=4096,
            num_steps=125_000,
            learning_rate=0.00176,
            warmup_steps=3125,
            optimizer="lamb",
        ),
    )


def albert_base() -> PretrainConfig:
    """ALBERT-base: 12 layers, hidden 768, 12 heads (12M parameters in Table 1)."""
    return _albert(768, 12, 12)


def albert_large() -> PretrainConfig:
    """ALBERT-large: 24 layers, hidden 1024, 16 heads (18M)."""
    return _albert(1024, 24, 16)


def albert_xlarge() -> PretrainConfig:
    """ALBERT-xlarge: 24 layers, hidden 2048, 16 heads (60M)."""
    return _albert(2048, 24, 16)


def albert_xxlarge() -> PretrainConfig:
    """ALBERT-xxlarge: 12 layers, hidden 4096, 64 heads (235M in Table 1; the
    sizes give 223M, see tests/models/test_parameter_count.py)."""
    return _albert(4096, 12, 64)


PRESETS = {
    "tiny": tiny,
    "small": small,
    "base": base,
    "large": large,
    "albert_base": albert_base,
    "albert_large": albert_large,
    "albert_xlarge": albert_xlarge,
    "albert_xxlarge": albert_xxlarge,
}


def get_config(name: str, overrides: list[str] = ()) -> PretrainConfig:
    """The preset `name` with dotted `key=value` overrides applied."""
    if name not in PRESETS:
        raise ValueError(f"unknown config preset {name!r}; choose one of {sorted(PRESETS)}")
    return apply_overrides(PRESETS[name](), list(overrides))


def with_vocab_size(config: PretrainConfig, vocab_size: int) -> PretrainConfig:
    """`config` with the encoder's vocabulary size set (it comes from the data)."""
    encoder = dataclasses.replace(config.model.encoder, vocab_size=vocab_size)
    return dataclasses.replace(config, model=dataclasses.replace(config.model, encoder=encoder))
