import json

import pytest

from configs import PRESETS, PretrainConfig, apply_overrides, from_dict, get_config


def test_presets_have_the_paper_sizes():
    small, base, large = get_config("small").model, get_config("base").model, get_config("large").model
    assert (small.encoder.num_layers, small.encoder.hidden_size, small.encoder.num_heads,
            small.encoder.intermediate_size, small.encoder.embedding_size) == (12, 256, 4, 1024, 128)
    g = small.generator_encoder()
    assert (g.hidden_size, g.num_heads, g.intermediate_size, g.num_layers) == (64, 1, 256, 12)
    g = base.generator_encoder()
    assert (g.hidden_size, g.num_heads, g.intermediate_size) == (256, 4, 1024)
    assert (large.encoder.num_layers, large.encoder.hidden_size, large.mask_rate) == (24, 1024, 0.25)
    assert large.generator_encoder().hidden_size == 256
    for name in PRESETS:
        m = get_config(name).model
        assert (m.disc_weight, m.mask_token_fraction, m.temperature) == (50.0, 0.85, 1.0)


def test_overrides_are_typed_and_unknown_keys_rejected():
    config = apply_overrides(PretrainConfig(), ["train.num_steps=10", "model.encoder.dropout_rate=0",
                                                "model.generator_size=0.5"])
    assert config.train.num_steps == 10 and isinstance(config.train.num_steps, int)
    assert config.model.encoder.dropout_rate == 0.0
    assert config.model.generator_encoder().hidden_size == 128
    with pytest.raises(ValueError, match="unknown config key 'train.nmu_steps'"):
        apply_overrides(PretrainConfig(), ["train.nmu_steps=3"])
    with pytest.raises(ValueError, match="bad value"):
        apply_overrides(PretrainConfig(), ["train.num_steps=many"])
    with pytest.raises(ValueError, match="names a section"):
        apply_overrides(PretrainConfig(), ["model=3"])
    with pytest.raises(ValueError, match="unknown config preset"):
        get_config("huge")


def test_json_round_trip_and_frozen():
    config = get_config("base", ["train.seed=3"])
    assert from_dict(PretrainConfig, json.loads(config.to_json())) == config
    with pytest.raises(Exception):
        config.train.seed = 4
    with pytest.raises(ValueError, match="unknown config keys"):
        from_dict(PretrainConfig, {"trian": {}})
