import dataclasses
import json

import pytest

from configs import PRESETS, ModelConfig, PretrainConfig, apply_overrides, from_dict, get_config


def test_presets_have_the_paper_sizes():
    """ELECTRA paper, Table 6."""
    small, base, large = (get_config(n).model for n in ("small", "base", "large"))
    e = small.encoder
    assert (e.num_layers, e.hidden_size, e.num_heads, e.intermediate_size, e.embedding_size) == (
        12,
        256,
        4,
        1024,
        128,
    )
    g = small.generator_encoder()
    assert (g.hidden_size, g.num_heads, g.intermediate_size, g.num_layers, g.embedding_size) == (
        64,
        1,
        256,
        12,
        128,
    )
    e, g = base.encoder, base.generator_encoder()
    assert (e.num_layers, e.hidden_size, e.num_heads, e.intermediate_size, e.embedding_size) == (
        12,
        768,
        12,
        3072,
        768,
    )
    assert (g.hidden_size, g.num_heads, g.intermediate_size, g.num_layers) == (256, 4, 1024, 12)
    e, g = large.encoder, large.generator_encoder()
    assert (e.num_layers, e.hidden_size, e.num_heads, e.intermediate_size, e.embedding_size) == (
        24,
        1024,
        16,
        4096,
        1024,
    )
    assert (g.hidden_size, g.num_heads, g.intermediate_size, g.num_layers) == (256, 4, 1024, 24)
    assert (small.mask_rate, base.mask_rate, large.mask_rate) == (0.15, 0.15, 0.25)
    # The release's int((mask_rate + 0.005) * max_seq_length), 512 tokens for Base and Large.
    assert (base.max_predictions_per_seq, large.max_predictions_per_seq) == (79, 130)
    train = [get_config(n).train for n in ("small", "base", "large")]
    assert [(t.batch_size, t.learning_rate, t.num_steps) for t in train] == [
        (128, 5e-4, 1_000_000),
        (256, 2e-4, 766_000),
        (2048, 2e-4, 400_000),
    ]
    for name in ("tiny", "small", "base", "large"):
        m = get_config(name).model
        assert (m.disc_weight, m.mlm_weight, m.mask_token_fraction, m.temperature) == (
            50.0,
            1.0,
            0.85,
            1.0,
        )
        assert (m.objective, m.generator, m.sharing, m.encoder.num_hidden_groups) == (
            "electra",
            "masked_lm",
            "embeddings",
            0,
        )
        assert m.encoder.dropout_rate == m.encoder.attention_dropout_rate == 0.1
        assert m.encoder.initializer_range == 0.02


def test_albert_presets_have_the_paper_sizes_and_training():
    """ALBERT, Table 1 (sizes) and sec. 4.1 (training); dropout 0 as sec. 4.8."""
    sizes = {"albert_base": (12, 768, 12), "albert_large": (24, 1024, 16),
             "albert_xlarge": (24, 2048, 16), "albert_xxlarge": (12, 4096, 64)}
    assert set(sizes) < set(PRESETS)
    for name, (layers, hidden, heads) in sizes.items():
        config = get_config(name)
        m, e, t = config.model, config.model.encoder, config.train
        assert (e.num_layers, e.hidden_size, e.num_heads, e.intermediate_size) == (
            layers, hidden, heads, 4 * hidden)
        assert (e.embedding_size, e.num_hidden_groups, e.layer_sharing, e.vocab_size) == (128, 1, "all", 30000)
        assert e.dropout_rate == e.attention_dropout_rate == 0.0
        assert (m.objective, m.masking, m.max_ngram, m.sentence_order, m.sop_weight) == (
            "mlm", "ngram", 3, True, 1.0)
        assert (m.mask_rate, m.max_predictions_per_seq) == (0.15, 20)
        assert (t.optimizer, t.learning_rate, t.batch_size, t.num_steps, t.warmup_steps) == (
            "lamb", 0.00176, 4096, 125_000, 3125)


def test_family_options_that_cannot_work_are_errors():
    cases = [
        (["model.sharing=gdes", "model.generator=unigram"], "needs a separate generator"),
        (["model.sharing=gdes", "model.objective=mlm"], "needs a separate generator"),
        (["model.generator_training=adversarial", "model.generator=uniform"], "needs generator 'masked_lm'"),
        (["model.generator_training=adversarial", "model.objective=replace_mlm"], "objective 'electra'"),
        (["model.generator_training=adversarial", "model.sharing=all", "model.generator_size=1"],
         "not sharing 'all'"),
        (["model.generator_training=adversarial", "model.sharing=none", "model.generator_size=1",
          "model.two_stage_generator_steps=5"], "not two-stage"),
        (["model.generator_training=reinforce"], "model.generator_training must be one of"),
        (["model.masking=span"], "model.masking must be one of"),
        (["model.max_ngram=0"], "max_ngram must be >= 1"),
        (["model.sentence_order=true", "model.sop_weight=0"], "sop_weight > 0"),
        (["model.encoder.layer_sharing=heads"], "layer_sharing must be one of"),
    ]
    for overrides, message in cases:
        with pytest.raises(ValueError, match=message):
            get_config("small", overrides)
    config = get_config("small", ["model.generator_training=adversarial", "model.sharing=gdes",
                                  "model.masking=whole_word", "model.sentence_order=true"])
    assert config.model.generator_training == "adversarial" and config.model.sharing == "gdes"


def test_overrides_are_typed_and_unknown_keys_rejected():
    config = apply_overrides(
        PretrainConfig(),
        [
            "train.num_steps=10",
            "model.encoder.dropout_rate=0",
            "model.generator_size=0.5",
            "model.objective=replace_mlm",
        ],
    )
    assert config.train.num_steps == 10 and isinstance(config.train.num_steps, int)
    assert config.model.encoder.dropout_rate == 0.0 and isinstance(
        config.model.encoder.dropout_rate, float
    )
    assert config.model.generator_encoder().hidden_size == 128
    assert config.model.objective == "replace_mlm"
    with pytest.raises(ValueError, match="unknown config key 'train.nmu_steps'"):
        apply_overrides(PretrainConfig(), ["train.nmu_steps=3"])
    with pytest.raises(ValueError, match="bad value"):
        apply_overrides(PretrainConfig(), ["train.num_steps=many"])
    with pytest.raises(ValueError, match="names a section"):
        apply_overrides(PretrainConfig(), ["model=3"])
    with pytest.raises(ValueError, match="has no sub-keys"):
        apply_overrides(PretrainConfig(), ["model.objective.x=3"])
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides(PretrainConfig(), ["model.objective"])
    with pytest.raises(ValueError, match="unknown config preset"):
        get_config("huge")


def test_values_are_validated_after_all_overrides():
    # Each override alone would be invalid; together they are fine (order does not matter).
    config = get_config("small", ["model.sharing=all", "model.generator_size=1"])
    assert config.model.sharing == "all"
    with pytest.raises(ValueError, match="model.objective must be one of"):
        get_config("small", ["model.objective=electric"])
    with pytest.raises(ValueError, match="model.sharing must be one of"):
        get_config("small", ["model.sharing=some"])
    with pytest.raises(ValueError, match="model.generator must be one of"):
        get_config("small", ["model.generator=bigram"])
    with pytest.raises(ValueError, match="not divisible"):
        get_config("small", ["model.encoder.num_heads=3"])
    with pytest.raises(ValueError, match="mask_rate"):
        get_config("small", ["model.mask_rate=1.5"])


def test_json_round_trip_frozen_and_old_files_load():
    config = get_config("base", ["train.seed=3", "model.objective=all_tokens_mlm"])
    assert from_dict(PretrainConfig, json.loads(config.to_json())) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.train.seed = 4
    with pytest.raises(ValueError, match="unknown config keys"):
        from_dict(PretrainConfig, {"trian": {}})
    # A config.json written before the variant fields existed loads with their defaults.
    old = json.loads(get_config("tiny").to_json())
    for key in (
        "objective",
        "generator",
        "sharing",
        "main_mlm_weight",
        "two_stage_generator_steps",
        "masking",
        "max_ngram",
        "sentence_order",
        "sop_weight",
        "generator_training",
    ):
        del old["model"][key]
    del old["model"]["encoder"]["num_hidden_groups"]
    del old["model"]["encoder"]["layer_sharing"]
    assert from_dict(PretrainConfig, old) == get_config("tiny")
    assert ModelConfig().generator_encoder().hidden_size == 64
