"""The causal LM (GPT-2): causality, loss at initialisation, overfitting a batch, parameter counts."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import EncoderConfig, get_config, with_vocab_size
from configs.presets import GPT3_SIZES
from models.decoder import CausalLM
from models.parameter_count import parameter_counts

V = 97
CONFIG = EncoderConfig(vocab_size=V, embedding_size=32, hidden_size=32, num_layers=2, num_heads=4,
                       intermediate_size=128, max_position_embeddings=24, type_vocab_size=0,
                       layer_norm_epsilon=1e-5, dropout_rate=0.0, attention_dropout_rate=0.0)


def _loss(model, ids, training=False):
    logits = model(ids[:, :-1], training=training)
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(ids[:, 1:], logits))


def test_logits_up_to_t_do_not_depend_on_later_tokens():
    keras.utils.set_random_seed(0)
    model = CausalLM(CONFIG)
    ids = np.random.default_rng(0).integers(0, V, (3, 20))
    logits = model(ids).numpy()
    for t in (0, 7, 18):
        changed = ids.copy()
        changed[:, t + 1:] = (changed[:, t + 1:] + 1 + np.arange(19 - t)) % V
        other = model(changed).numpy()
        np.testing.assert_array_equal(logits[:, :t + 1], other[:, :t + 1])
        assert np.abs(logits[:, t + 1:] - other[:, t + 1:]).max() > 1e-3


def test_loss_at_initialisation_is_about_log_vocabulary():
    keras.utils.set_random_seed(1)
    model = CausalLM(CONFIG)
    ids = np.random.default_rng(1).integers(0, V, (8, 24))
    assert abs(float(_loss(model, ids)) - math.log(V)) < 0.05 * math.log(V)


def test_a_small_batch_overfits():
    keras.utils.set_random_seed(2)
    model = CausalLM(CONFIG)
    ids = tf.constant(np.random.default_rng(2).integers(0, V, (4, 16)))
    optimizer = keras.optimizers.Adam(1e-2)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = _loss(model, ids, training=True)
        optimizer.apply(tape.gradient(loss, model.trainable_variables), model.trainable_variables)

    for _ in range(60):
        step()
    assert float(_loss(model, ids)) < 0.05


def test_the_built_model_has_the_counted_parameters_and_gpt2_residual_init():
    config = with_vocab_size(get_config("gpt_tiny", ["model.encoder.num_layers=3"]), 301).model
    model = CausalLM(config.encoder)
    model(np.zeros((1, 4), "int32"))
    assert sum(int(np.prod(v.shape)) for v in model.trainable_variables) == parameter_counts(config)["total"]
    kernel = model.blocks[0].output_dense.kernel.numpy()
    assert abs(kernel.std() / 0.88 - 0.02 / math.sqrt(6)) < 0.1 * 0.02 / math.sqrt(6)  # truncated at 2 std: x0.88
    assert abs(model.blocks[0].intermediate.kernel.numpy().std() / 0.88 - 0.02) < 0.002


def test_gpt2_presets_have_the_released_parameter_counts():
    released = {"gpt2": 124_439_808, "gpt2_medium": 354_823_168, "gpt2_large": 774_030_080,
                "gpt2_xl": 1_557_611_200}
    assert {name: parameter_counts(get_config(name).model)["total"] for name in released} == released


@pytest.mark.parametrize("name", sorted(GPT3_SIZES))
def test_gpt3_presets_are_within_two_percent_of_the_paper(name):
    config = get_config(name)
    published = GPT3_SIZES[name][0]
    assert config.model.encoder.max_position_embeddings == 2048 and config.model.encoder.vocab_size == 50257
    assert abs(parameter_counts(config.model)["total"] / published - 1) < 0.02
