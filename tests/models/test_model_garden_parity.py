"""Parity with TF Model Garden (tf-models-official), an implementation written elsewhere.

Weights are copied by hand (Model Garden layers are tf_keras / Keras 2 objects)
and outputs compared in inference mode. Where Model Garden differs from the
ELECTRA release, and so from this package, the test sets it up to match:
- BertEncoder's default activation is tanh-approximated GELU; ELECTRA uses the
  exact erf GELU, so the test passes it explicitly.
- Model Garden's ELECTRA task ties only the generator's *word* embeddings to
  the discriminator's (`embedding_layer`); the release (and `sharing="embeddings"`
  here) also shares position and segment embeddings and the embedding
  LayerNorm. The test builds Model Garden's way and copies the shared values
  into both of its encoders.
- Model Garden's heads use one initializer for every kernel; the release
  leaves the RTD logit layer and the embedding projection at Glorot uniform.
  Initialisation does not matter here: weights are copied.
- Model Garden expects unused prediction slots at position 0 and never
  replaces position 0 ([CLS]); slots with weight 0 are set to position 0 here.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_keras
from official.nlp.modeling.models import ElectraPretrainer as GardenPretrainer
from official.nlp.modeling.networks import BertEncoder

from configs import get_config, with_vocab_size
from models.pretrainer import ElectraPretrainer
from tests.models.test_pretrainer import SPECIAL

V = 120
OVERRIDES = [
    "model.encoder.embedding_size=24",
    "model.encoder.hidden_size=32",
    "model.encoder.num_layers=2",
    "model.encoder.num_heads=4",
    "model.encoder.intermediate_size=64",
    "model.encoder.max_position_embeddings=24",
    "model.generator_size=0.5",
]


def exact_gelu(x):
    return tf_keras.activations.gelu(x, approximate=False)


def garden_encoder(c, embedding_layer=None):
    return BertEncoder(
        vocab_size=c.vocab_size,
        hidden_size=c.hidden_size,
        num_layers=c.num_layers,
        num_attention_heads=c.num_heads,
        max_sequence_length=c.max_position_embeddings,
        type_vocab_size=c.type_vocab_size,
        inner_dim=c.intermediate_size,
        inner_activation=exact_gelu,
        output_dropout=c.dropout_rate,
        attention_dropout=c.attention_dropout_rate,
        embedding_width=c.embedding_size,
        embedding_layer=embedding_layer,
        dict_outputs=True,
    )


def copy_weights(ours: list, theirs: list):
    """Assigns our variables to theirs pairwise (same order and sizes). Model Garden keeps
    attention weights per head: query/key/value (H, N, H/N), output (N, H/N, H); ours are
    (H, H) with head i in columns (query/key/value) or rows (output) i*H/N..(i+1)*H/N,
    which is the same array in row-major order."""
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs):
        assert np.prod(mine.shape) == np.prod(other.shape), (mine.path, other.name)
        other.assign(mine.numpy().reshape(other.shape))


def encoder_variables(encoder, with_embeddings=True):
    """Our trainable variables in Model Garden's order (embeddings, projection, layers)."""
    variables = list(encoder.trainable_variables)
    return variables if with_embeddings else variables[5:]


def garden_variables(encoder, with_word_embeddings=True):
    variables = [v for v in encoder.trainable_weights if "pooler" not in v.name]
    return variables if with_word_embeddings else variables[1:]


def features(batch=3, length=20, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, V, size=(batch, length)).astype("int32")
    lengths = [length, 13, 7][:batch]
    for b, n in enumerate(lengths):
        ids[b, 0], ids[b, n - 1], ids[b, n:] = 2, 3, 0
    mask = (ids != 0).astype("int32")
    segments = ((np.arange(length)[None] >= 5) * mask).astype("int32")
    return ids, mask, segments


@pytest.fixture(scope="module")
def ours():
    config = with_vocab_size(get_config("tiny", OVERRIDES), V).model
    keras.utils.set_random_seed(1)
    model = ElectraPretrainer(config, SPECIAL, seed=3)
    ids, mask, segments = features()
    model({"input_ids": ids, "input_mask": mask, "segment_ids": segments}, training=False)
    # Non-zero biases and LayerNorm offsets, so that copying them is tested too.
    rng = np.random.default_rng(2)
    for v in model.trainable_variables:
        if len(v.shape) <= 2 and "embeddings" not in v.path:
            v.assign(v.numpy() + rng.normal(0, 0.05, v.shape).astype("float32"))
    return config, model


def test_encoder_equals_model_garden_bert_encoder(ours):
    config, model = ours
    garden = garden_encoder(config.encoder)
    ids, mask, segments = features()
    garden(dict(input_word_ids=ids, input_mask=mask, input_type_ids=segments))
    copy_weights(encoder_variables(model.discriminator), garden_variables(garden))
    expected = garden(dict(input_word_ids=ids, input_mask=mask, input_type_ids=segments))[
        "sequence_output"
    ]
    got = model.discriminator(ids, mask, segments, training=False)
    diff = np.abs(np.asarray(got) - expected.numpy())[mask > 0].max()
    print(f"BertEncoder parity (E=24, H=32): max |diff| = {diff:.2e}")
    assert diff < 1e-5
    assert np.abs(expected.numpy()).max() > 1  # the comparison is not between zeros


def test_generator_and_discriminator_logits_equal_model_garden_electra(ours):
    config, model = ours
    ids, mask, segments = features()
    disc = garden_encoder(config.encoder)
    gen = garden_encoder(config.generator_encoder(), embedding_layer=disc.get_embedding_layer())
    batch = dict(input_word_ids=ids, input_mask=mask, input_type_ids=segments)
    disc(batch), gen(batch)
    garden = GardenPretrainer(
        gen,
        disc,
        vocab_size=V,
        num_classes=2,
        num_token_predictions=config.max_predictions_per_seq,
        mlm_activation=exact_gelu,
    )
    # Mask with our own masking, then feed Model Garden the same masked input and positions.
    out = {
        k: np.asarray(v)
        for k, v in model(
            {"input_ids": ids, "input_mask": mask, "segment_ids": segments}, training=False
        ).items()
    }
    w = out["mlm_weights"]
    positions = np.where(w > 0, out["mlm_positions"], 0).astype("int32")
    inputs = dict(
        input_word_ids=out["generator_input_ids"],
        input_mask=mask,
        input_type_ids=segments,
        masked_lm_positions=positions,
        masked_lm_ids=np.where(w > 0, out["mlm_targets"], 0),
    )
    garden(inputs)
    copy_weights(encoder_variables(model.discriminator), garden_variables(disc))
    copy_weights(
        encoder_variables(model.generator, with_embeddings=False),
        garden_variables(gen, with_word_embeddings=False)[4:],
    )
    copy_weights(model.embeddings.trainable_variables[1:], garden_variables(gen)[1:5])
    head = model.generator_head
    by_name = {
        v.name.split("generator_masked_lm/")[-1]: v for v in garden.masked_lm.trainable_weights
    }
    copy_weights(
        [
            head.dense.kernel,
            head.dense.bias,
            head.layer_norm.gamma,
            head.layer_norm.beta,
            head.output_bias,
        ],
        [
            by_name[n]
            for n in (
                "transform/dense/kernel:0",
                "transform/dense/bias:0",
                "transform/LayerNorm/gamma:0",
                "transform/LayerNorm/beta:0",
                "output_bias/bias:0",
            )
        ],
    )
    d = model.discriminator_head
    copy_weights([d.dense.kernel, d.dense.bias], garden.discriminator_projection.trainable_weights)
    copy_weights([d.logit.kernel, d.logit.bias], garden.discriminator_head.trainable_weights)

    tf.random.set_seed(11)
    result = garden(inputs)
    tf.random.set_seed(11)  # Model Garden's first random op in inference is the Gumbel noise
    uniform = tf.random.uniform((3, config.max_predictions_per_seq, V)).numpy()

    lm = result["lm_outputs"].numpy()
    our_lm = np.asarray(
        model.generator_logits(out["generator_input_ids"], mask, segments, positions)
    )
    lm_diff = np.abs(our_lm - lm).max()
    sampled = np.argmax(lm - np.log(-np.log(uniform + 1e-9) + 1e-9), axis=-1)
    corrupted = ids.copy()
    for b in range(len(ids)):
        corrupted[b, positions[b][w[b] > 0]] = sampled[b][w[b] > 0]
    np.testing.assert_array_equal(result["disc_label"].numpy(), (corrupted != ids).astype(int))
    assert (corrupted != ids).sum() > 5
    disc_diff = np.abs(
        np.asarray(model.discriminate(corrupted, mask, segments)) - result["disc_logits"].numpy()
    )
    disc_diff = disc_diff[mask > 0].max()
    print(
        f"ElectraPretrainer parity: generator logits max |diff| = {lm_diff:.2e}, "
        f"discriminator logits max |diff| = {disc_diff:.2e}"
    )
    assert lm_diff < 1e-5 and disc_diff < 1e-5
    assert np.abs(lm).max() > 0.1 and np.abs(result["disc_logits"].numpy()).max() > 0.1
