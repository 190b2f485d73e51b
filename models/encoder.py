"""Post-LayerNorm Transformer encoder (BERT/ELECTRA), in Keras 3 ops.

Initialisation follows the ELECTRA release: truncated normal(0.02) for
embeddings and Transformer kernels, zero biases; the embedding projection
(`embeddings_project` there) is a plain dense layer with Glorot-uniform init.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from configs import EncoderConfig
from models.dropout import Dropout
from models.embeddings import EmbeddingBlock, truncated_normal
from models.layer_sharing import tie_sublayers
from models.layer_norm import LayerNorm

INV_SQRT2, INV_SQRT_2PI = 0.5**0.5, (2 * math.pi) ** -0.5


@ops.custom_gradient
def gelu(x):
    """Exact GELU x * Phi(x) (Hendrycks & Gimpel, 2016), Phi the standard normal CDF via erf,
    as in the ELECTRA release (Keras defaults to the tanh approximation).

    The derivative Phi(x) + x * phi(x) is written out: on CPU, erf is about
    half the cost of the erfc that `keras.activations.gelu` uses, and the
    derivative is a few passes over x fewer than its automatic one.
    """
    z = x * INV_SQRT2
    cdf = 0.5 + 0.5 * ops.erf(z)

    def grad(*args, upstream=None):
        upstream = args[0] if upstream is None else upstream
        return upstream * (cdf + x * INV_SQRT_2PI * ops.exp(-ops.square(z)))

    return x * cdf, grad


def gelu_tanh(x):
    """GELU's tanh approximation 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), as in GPT-2."""
    return keras.activations.gelu(x, approximate=True)


class TransformerLayer(keras.layers.Layer):
    """Self-attention and feed-forward blocks, each followed by add + LayerNorm (BERT's post-LN);
    with `pre_norm`, each block reads a LayerNorm of its input and is added to it (GPT-2's pre-LN:
    x + attention(norm(x)), then x + ffn(norm(x))).

    Call: x (B, T, H), attention_bias (B, 1, 1, T) float (0 for tokens to
    attend to, -1e9 for padding; `attention_bias`), or (B, 1, T, S) for a
    causal mask over S keys -> (B, T, H).
    activation: of the feed-forward block (default exact GELU); residual_stddev:
    the init std of the two kernels whose output is added to the residual
    stream (attention_output, output), default config.initializer_range.

    Weights in BERT's layout (as the ELECTRA release and Hugging Face name
    them): `query`, `key`, `value` and `attention_output` Dense layers, each
    kernel (H, H) and bias (H,); head i uses columns [i * H / N, (i + 1) * H / N)
    of query/key/value (N = num_heads) and the same rows of attention_output's
    kernel; then `attention_norm` (LayerNorm), `intermediate` (H, F),
    `output` (F, H) and `output_norm`.

    Attention dropout (on the attention probabilities, as in BERT) needs the
    probabilities, so training with attention_dropout_rate > 0 computes them
    explicitly; otherwise attention is one `keras.ops.dot_product_attention`
    call (fused kernels where the backend has them).
    """

    def __init__(self, config: EncoderConfig, pre_norm: bool = False, activation=gelu,
                 residual_stddev: float | None = None, **kwargs):
        super().__init__(**kwargs)
        h, init = config.hidden_size, truncated_normal(config.initializer_range)
        residual_init = init if residual_stddev is None else truncated_normal(residual_stddev)
        eps = config.layer_norm_epsilon
        self.num_heads, self.head_size = config.num_heads, h // config.num_heads
        self.pre_norm, self.activation = pre_norm, activation

        def dense(units, name, initializer=init):
            return keras.layers.Dense(units, kernel_initializer=initializer, name=name)

        self.query, self.key, self.value = dense(h, "query"), dense(h, "key"), dense(h, "value")
        self.attention_probs_dropout = Dropout(config.attention_dropout_rate)
        self.attention_output = dense(h, "attention_output", residual_init)
        self.attention_dropout = Dropout(config.dropout_rate)
        self.attention_norm = LayerNorm(epsilon=eps, name="attention_norm")
        self.intermediate = dense(config.intermediate_size, "intermediate")
        self.output_dense = dense(h, "output", residual_init)
        self.output_dropout = Dropout(config.dropout_rate)
        self.output_norm = LayerNorm(epsilon=eps, name="output_norm")

    def build(self, input_shape):
        # Sub-layers shared with another layer (models.layer_sharing) may be built already.
        shapes = {self.output_dense: (*input_shape[:-1], self.intermediate.units)}
        for layer in (self.query, self.key, self.value, self.attention_output, self.intermediate,
                      self.output_dense, self.attention_norm, self.output_norm):
            if not layer.built:
                layer.build(shapes.get(layer, input_shape))

    def attend(self, x, attention_bias, training=None, return_probabilities=False, cache=None, cache_index=0):
        """Multi-head scaled dot-product attention (the Transformer paper, 2017): (B, T, H) -> (B, T, H);
        with `return_probabilities`, also {"probabilities": over the keys (before attention
        dropout), "scores": q.k / sqrt(H / N) before the padding bias and the softmax}, each
        (B, N, T, T) float32. With `cache` (keys, values), each (B, S, N, H / N):
        this call's keys and values are written at positions cache_index..cache_index + T - 1,
        the queries attend over all S (attention_bias (B, 1, T, S) masks the rest), and the
        result is (output, updated cache)."""
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        heads = (batch, length, self.num_heads, self.head_size)
        q, k, v = (ops.reshape(f(x), heads) for f in (self.query, self.key, self.value))
        if cache is not None:
            start = (0, cache_index, 0, 0)
            k, v = (ops.slice_update(held, start, ops.cast(new, held.dtype)) for held, new in zip(cache, (k, v)))
        scale = self.head_size**-0.5
        if return_probabilities or (training and self.attention_probs_dropout.threshold):
            scores = ops.einsum("btnd,bsnd->bnts", q * ops.cast(scale, q.dtype), k)
            probs = ops.softmax(ops.cast(scores, "float32") + ops.cast(attention_bias, "float32"), axis=-1)
            dropped = self.attention_probs_dropout(ops.cast(probs, v.dtype), training=training)
            context = ops.einsum("bnts,bsnd->btnd", dropped, v)
        else:
            context = ops.dot_product_attention(q, k, v, bias=attention_bias, scale=scale)
        output = self.attention_output(ops.reshape(context, ops.shape(x)))
        if cache is not None:
            return output, (k, v)
        if return_probabilities:
            return output, {"probabilities": probs, "scores": ops.cast(scores, "float32")}
        return output

    def call(self, x, attention_bias, training=None, return_attention=False, cache=None, cache_index=0):
        """x (B, T, H) -> (B, T, H); with `return_attention`, (it, {"probabilities", "scores"}
        (B, N, T, T) float32, see `attend`); with `cache` (see `attend`), (it, the updated cache)."""
        with_extra = return_attention or cache is not None
        result = self.attend(self.attention_norm(x) if self.pre_norm else x, attention_bias, training=training,
                             return_probabilities=return_attention, cache=cache, cache_index=cache_index)
        attended, extra = result if with_extra else (result, None)
        x = x + self.attention_dropout(attended, training=training)
        if self.pre_norm:
            x = x + self.output_dropout(self.feed_forward(self.output_norm(x)), training=training)
        else:
            x = self.attention_norm(x)
            x = self.output_norm(x + self.output_dropout(self.feed_forward(x), training=training))
        return (x, extra) if with_extra else x

    def feed_forward(self, x):
        """The position-wise block: (B, T, H) -> (B, T, H)."""
        return self.output_dense(self.activation(self.intermediate(x)))


def attention_bias(input_mask):
    """input_mask (B, T) 1/0 -> additive attention bias (B, 1, 1, T) float32: 0 or -1e9."""
    return (1.0 - ops.cast(input_mask, "float32"))[:, None, None, :] * -1e9


def layer_groups(num_layers: int, num_groups: int) -> list[int]:
    """Weight group of each layer: ALBERT's int(i * G / L) (the ALBERT paper, sec. 3.1)."""
    return [i * num_groups // num_layers for i in range(num_layers)]


class Encoder(keras.layers.Layer):
    """Embeddings (possibly shared), projection to hidden width, Transformer stack.

    Call: input_ids, input_mask, segment_ids, each (B, T) int -> (B, T, H). With
    `return_layers` it returns {"hidden_states": L + 1 tensors (B, T, H), the
    (projected) embeddings then each layer's output, the last being the plain
    call's result; "attention_probabilities": L tensors (B, N, T, T) float32,
    each layer's softmax over the keys; "attention_scores": the same layers'
    pre-softmax scores q.k / sqrt(H / N), padding not masked}; only a call that
    asks for them computes attention explicitly instead of the fused kernel.
    The embedding block is passed in so that two encoders can share it. With
    `num_hidden_groups` G < L, `layers` holds G distinct layers and layer i
    of the stack runs `layers[layer_groups(L, G)[i]]` (cross-layer sharing);
    with `layer_sharing` "attention" or "ffn" it holds L layers that share
    only those blocks within a group.
    """

    def __init__(self, config: EncoderConfig, embeddings: EmbeddingBlock, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.embeddings = embeddings
        self.projection = None
        if embeddings.config.embedding_size != config.hidden_size:
            self.projection = keras.layers.Dense(config.hidden_size, name="embedding_projection")
        partial = config.layer_sharing != "all"  # ALBERT's ablations: models.layer_sharing
        count = config.num_layers if partial else config.num_groups
        self.layers = [TransformerLayer(config, name=f"layer_{i}") for i in range(count)]
        self.schedule = layer_groups(config.num_layers, count)
        if partial:
            groups = layer_groups(config.num_layers, config.num_groups)
            tie_sublayers(self.layers, groups, config.layer_sharing)

    def call(self, input_ids, input_mask, segment_ids, training=None, return_layers=False):
        x = self.embeddings(input_ids, segment_ids, training=training)
        if self.projection is not None:
            x = self.projection(x)
        bias = attention_bias(input_mask)
        layers = {"hidden_states": [x], "attention_probabilities": [], "attention_scores": []} if return_layers \
            else None
        for group in self.schedule:
            if return_layers:
                x, attention = self.layers[group](x, bias, training=training, return_attention=True)
                layers["hidden_states"].append(x)
                layers["attention_probabilities"].append(attention["probabilities"])
                layers["attention_scores"].append(attention["scores"])
            else:
                x = self.layers[group](x, bias, training=training)
        return layers if return_layers else x
