import math
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf

from configs import EncoderConfig
from models.embeddings import EmbeddingBlock
from models.encoder import Encoder, attention_bias, gelu, layer_groups
from models.heads import ReplacedTokenHead
from tests.models.test_pretrainer import make_features


def small_encoder(**sizes):
    config = EncoderConfig(
        **{
            **dict(
                vocab_size=200,
                embedding_size=16,
                hidden_size=32,
                num_layers=4,
                num_heads=4,
                intermediate_size=64,
                max_position_embeddings=32,
            ),
            **sizes,
        }
    )
    keras.utils.set_random_seed(0)
    return Encoder(config, EmbeddingBlock(config))


def test_gelu_is_exact_erf():
    x = np.linspace(-6, 6, 1001).astype("float32")
    exact = x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
    np.testing.assert_allclose(np.asarray(gelu(x)), exact, atol=1e-6)
    tanh_approx = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    assert np.abs(exact - tanh_approx).max() > 1e-4  # so the test tells them apart


def test_gelu_gradient_is_cdf_plus_x_times_density():
    x = tf.constant(np.linspace(-6, 6, 1001).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = gelu(x)
    grad = tape.gradient(y, x).numpy()
    v = x.numpy().astype(np.float64)
    cdf = 0.5 * (1 + np.vectorize(math.erf)(v / math.sqrt(2)))
    np.testing.assert_allclose(grad, cdf + v * np.exp(-v * v / 2) / math.sqrt(2 * math.pi), atol=1e-6)


def test_explicit_attention_equals_the_fused_path():
    """Training with attention dropout takes the explicit path; with its mask switched
    off it gives what dot_product_attention gives (inference)."""
    encoder = small_encoder(dropout_rate=0.0, attention_dropout_rate=0.1)
    f = make_features(batch=2)
    layer = encoder.layers[0]
    x = encoder.projection(encoder.embeddings(f["input_ids"], f["segment_ids"]))
    bias = attention_bias(f["input_mask"])
    fused = np.asarray(layer(x, bias, training=False))
    dropped = np.asarray(layer(x, bias, training=True))
    assert np.abs(dropped - fused).max() > 1e-3  # attention dropout is applied in training
    layer.attention_probs_dropout.call = lambda probs, training=None: probs
    np.testing.assert_allclose(np.asarray(layer(x, bias, training=True)), fused, atol=2e-6)


def test_return_layers_gives_each_level_and_each_layer_s_attention_probabilities_and_scores():
    encoder = small_encoder(num_layers=2, dropout_rate=0.0)
    f = make_features(batch=2)
    ids, mask, segments = f["input_ids"], f["input_mask"], f["segment_ids"]
    out = np.asarray(encoder(ids, mask, segments))
    layers = encoder(ids, mask, segments, return_layers=True)
    states, probabilities = layers["hidden_states"], layers["attention_probabilities"]
    assert len(states) == 3 and len(probabilities) == 2
    np.testing.assert_allclose(np.asarray(states[-1]), out, atol=1e-6)
    x = np.asarray(encoder.projection(encoder.embeddings(ids, segments)))
    np.testing.assert_allclose(np.asarray(states[0]), x, atol=1e-6)
    bias = attention_bias(mask)
    np.testing.assert_allclose(np.asarray(states[1]), np.asarray(encoder.layers[0](x, bias)), atol=1e-6)
    # Layer 0's by hand: per head (4 of width 8), softmax over the keys of q.k / sqrt(8), padding excluded.
    layer = encoder.layers[0]
    q, k = ((x @ np.asarray(d.kernel) + np.asarray(d.bias)).reshape(2, 32, 4, 8) for d in (layer.query, layer.key))
    raw = np.einsum("btnd,bsnd->bnts", q, k) / np.sqrt(8)
    scores = raw + np.where(mask > 0, 0, -np.inf)[:, None, None, :]
    expected = np.exp(scores - scores.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    assert probabilities[0].shape == (2, 4, 32, 32)
    np.testing.assert_allclose(np.asarray(probabilities[0]), expected, atol=1e-6)
    # Pre-softmax scores (TinyBERT's attention loss), padding not masked.
    assert len(layers["attention_scores"]) == 2
    np.testing.assert_allclose(np.asarray(layers["attention_scores"][0]), raw, atol=1e-5)


def test_albert_groups_share_layers_across_the_stack():
    assert layer_groups(12, 12) == list(range(12))
    assert layer_groups(12, 1) == [0] * 12
    assert layer_groups(4, 2) == [0, 0, 1, 1]
    assert layer_groups(12, 3) == [0] * 4 + [1] * 4 + [2] * 4
    encoder = small_encoder(num_hidden_groups=2)
    f = make_features(batch=2)
    out = np.asarray(encoder(f["input_ids"], f["input_mask"], f["segment_ids"]))
    assert len(encoder.layers) == 2 and len(encoder.trainable_variables) == 5 + 2 + 2 * 16
    # The same computation by hand: each distinct layer applied twice, in order.
    x = encoder.projection(encoder.embeddings(f["input_ids"], f["segment_ids"]))
    bias = attention_bias(f["input_mask"])
    for layer in (encoder.layers[0], encoder.layers[0], encoder.layers[1], encoder.layers[1]):
        x = layer(x, bias)
    np.testing.assert_allclose(out, np.asarray(x), atol=1e-6)
    with pytest.raises(ValueError, match="num_hidden_groups"):
        EncoderConfig(num_layers=4, num_hidden_groups=5)


def test_factorized_embeddings_project_only_when_widths_differ():
    assert small_encoder().projection is not None
    assert small_encoder(embedding_size=32).projection is None
    f = make_features(batch=2)
    encoder = small_encoder(embedding_size=32)
    assert np.asarray(encoder(f["input_ids"], f["input_mask"], f["segment_ids"])).shape == (
        2,
        32,
        32,
    )


def test_initialisation_follows_the_release():
    encoder = small_encoder(
        hidden_size=256, num_heads=4, intermediate_size=1024, num_layers=1, embedding_size=128
    )
    f = make_features(batch=2)
    hidden = encoder(f["input_ids"], f["input_mask"], f["segment_ids"])
    head = ReplacedTokenHead(encoder.config)
    head(hidden)
    layer = encoder.layers[0]
    for weight in (
        layer.intermediate.kernel,
        layer.query.kernel,
        encoder.embeddings.word_embeddings,
    ):
        w = weight.numpy()
        # Normal(0, 0.02) truncated at 2 sd: sd 0.02 * 0.880, nothing beyond 0.04.
        assert np.abs(w).max() <= 0.04 and w.std() == pytest.approx(0.0176, rel=0.05)
    assert not layer.intermediate.bias.numpy().any()
    np.testing.assert_array_equal(layer.output_norm.gamma.numpy(), 1.0)
    # Glorot uniform for the embedding projection and the RTD logit layer, as in the release.
    limit = math.sqrt(6 / (128 + 256))
    assert encoder.projection.kernel.numpy().std() == pytest.approx(limit / math.sqrt(3), rel=0.05)
    assert np.abs(head.logit.kernel.numpy()).max() <= math.sqrt(6 / 257)


def test_models_do_not_import_tensorflow():
    for path in pathlib.Path(__file__).parents[2].joinpath("models").glob("*.py"):
        text = path.read_text()
        assert "import tensorflow" not in text and "tf_keras" not in text, path
