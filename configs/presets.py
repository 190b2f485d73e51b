"""Named presets: ELECTRA-Small/Base/Large (paper, Table 6), TinyBERT-4, ALBERT base to
xxlarge (the ALBERT paper, Table 1), the causal LMs GPT-2 (its paper, Table 2)
and GPT-3 (its paper, Table 2.1), and tiny demo sizes.

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


def tinybert_4() -> PretrainConfig:
    """TinyBERT-4 (the TinyBERT paper, arXiv:1909.10351): 4 layers, width 312, FFN 1200, 12 heads,
    embeddings of the hidden width; a distillation student (trainers.distill)."""
    return PretrainConfig(
        model=ModelConfig(
            encoder=EncoderConfig(
                embedding_size=312, hidden_size=312, num_layers=4, num_heads=12, intermediate_size=1200
            )
        )
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


def _gpt(num_layers: int, hidden_size: int, num_heads: int, context: int, batch_size: int, learning_rate: float,
         num_steps: int, warmup_steps: int) -> PretrainConfig:
    """A causal LM (models.decoder): GPT-2's 50,257 byte-level BPE tokens (the data's vocabulary
    replaces it), FFN 4H, dropout 0.1, LayerNorm epsilon 1e-5; Adam with beta_2 0.95, epsilon 1e-8,
    bias correction, weight decay 0.1 and clipping at 1.0 (the GPT-3 paper, appendix B); the
    schedule is this project's linear warmup and decay (the paper decays by a cosine to 10%)."""
    return PretrainConfig(
        model=ModelConfig(
            encoder=EncoderConfig(
                vocab_size=50257,
                embedding_size=hidden_size,
                hidden_size=hidden_size,
                num_layers=num_layers,
                num_heads=num_heads,
                intermediate_size=4 * hidden_size,
                max_position_embeddings=context,
                type_vocab_size=0,
                layer_norm_epsilon=1e-5,
            ),
            objective="causal_lm",
        ),
        train=TrainConfig(batch_size=batch_size, num_steps=num_steps, learning_rate=learning_rate,
                          warmup_steps=warmup_steps, weight_decay=0.1, adam_beta_2=0.95, adam_epsilon=1e-8,
                          bias_correction=True),
    )


def _gpt2(num_layers: int, hidden_size: int, num_heads: int) -> PretrainConfig:
    """GPT-2 (its paper, sec. 2.3): context 1,024 tokens, batch 512; the learning rate and warmup
    are GPT-1's (2.5e-4, 2,000 steps; the GPT-2 paper tuned them per size without listing them)."""
    return _gpt(num_layers, hidden_size, num_heads, 1024, 512, 2.5e-4, 800_000, 2000)


def gpt2() -> PretrainConfig:
    """GPT-2 small: 12 layers, width 768, 12 heads (124,439,808 parameters)."""
    return _gpt2(12, 768, 12)


def gpt2_medium() -> PretrainConfig:
    """GPT-2 medium: 24 layers, width 1024, 16 heads (354,823,168)."""
    return _gpt2(24, 1024, 16)


def gpt2_large() -> PretrainConfig:
    """GPT-2 large: 36 layers, width 1280, 20 heads (774,030,080)."""
    return _gpt2(36, 1280, 20)


def gpt2_xl() -> PretrainConfig:
    """GPT-2 XL: 48 layers, width 1600, 25 heads (1,557,611,200)."""
    return _gpt2(48, 1600, 25)


# The GPT-3 paper's Table 2.1: name -> (parameters, layers, width, heads, batch in sequences of 2,048 tokens
# (its 0.5M, 1M, 2M and 3.2M tokens), learning rate). Where its heads x head width is not its width, the
# heads are width / head width: XL (24 x 128 listed with width 2048) has 16 heads; 13B (width 5140,
# 40 x 128) has width 5120.
GPT3_SIZES = {
    "gpt3_small": (125e6, 12, 768, 12, 256, 6.0e-4),
    "gpt3_medium": (350e6, 24, 1024, 16, 256, 3.0e-4),
    "gpt3_large": (760e6, 24, 1536, 16, 256, 2.5e-4),
    "gpt3_xl": (1.3e9, 24, 2048, 16, 512, 2.0e-4),
    "gpt3_2_7b": (2.7e9, 32, 2560, 32, 512, 1.6e-4),
    "gpt3_6_7b": (6.7e9, 32, 4096, 32, 1024, 1.2e-4),
    "gpt3_13b": (13.0e9, 40, 5120, 40, 1024, 1.0e-4),
    "gpt3_175b": (175.0e9, 96, 12288, 96, 1536, 0.6e-4),
}
GPT3_CONTEXT, GPT3_TOKENS, GPT3_WARMUP_TOKENS = 2048, 300e9, 375e6


def _gpt3(name: str) -> PretrainConfig:
    """One GPT-3 size: context 2,048, its batch and learning rate, trained on 300B tokens with warmup
    over the first 375M (dense attention throughout: the paper's alternating locally banded sparse
    layers add no parameters and are not built)."""
    _, layers, width, heads, batch, rate = GPT3_SIZES[name]
    tokens_per_step = batch * GPT3_CONTEXT
    return _gpt(layers, width, heads, GPT3_CONTEXT, batch, rate, round(GPT3_TOKENS / tokens_per_step),
                round(GPT3_WARMUP_TOKENS / tokens_per_step))


def gpt_tiny() -> PretrainConfig:
    """A causal LM that trains on 2 CPU cores in a quarter of an hour: 4 layers, width 128, 4 heads,
    context 128, 2,000 steps of 16 blocks (4.1M tokens)."""
    config = _gpt(4, 128, 4, 128, 16, 1e-3, 2000, 100)
    return apply_overrides(config, ["train.log_every=100", "train.checkpoint_every=500", "train.shuffle_buffer=2000",
                                    "train.eval_batches=50"])


PRESETS = {
    "tiny": tiny,
    "small": small,
    "base": base,
    "large": large,
    "tinybert_4": tinybert_4,
    "albert_base": albert_base,
    "albert_large": albert_large,
    "albert_xlarge": albert_xlarge,
    "albert_xxlarge": albert_xxlarge,
    "gpt2": gpt2,
    "gpt2_medium": gpt2_medium,
    "gpt2_large": gpt2_large,
    "gpt2_xl": gpt2_xl,
    **{name: (lambda name=name: _gpt3(name)) for name in GPT3_SIZES},
    "gpt_tiny": gpt_tiny,
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
