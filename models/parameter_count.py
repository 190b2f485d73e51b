"""Parameter counts from a config, without building the model."""

from __future__ import annotations

from configs import EncoderConfig, ModelConfig


def embedding_parameters(c: EncoderConfig) -> int:
    """Word, position and segment tables of width E, and the embedding LayerNorm."""
    e = c.embedding_size
    return (c.vocab_size + c.max_position_embeddings + c.type_vocab_size) * e + 2 * e


def stack_parameters(c: EncoderConfig, embedding_size: int) -> int:
    """Embedding projection (if E != H) and the distinct Transformer blocks.

    A group shares its layers' attention and feed-forward blocks (each with
    its LayerNorm), or only one kind (layer_sharing "attention" / "ffn").
    """
    h, f = c.hidden_size, c.intermediate_size
    projection = (embedding_size * h + h) if embedding_size != h else 0
    attention = 4 * (h * h + h) + 2 * h  # query, key, value, output; LayerNorm
    ffn = (h * f + f) + (f * h + h) + 2 * h
    copies = {"all": (c.num_groups, c.num_groups), "attention": (c.num_groups, c.num_layers),
              "ffn": (c.num_layers, c.num_groups)}[c.layer_sharing]
    return projection + copies[0] * attention + copies[1] * ffn


def mlm_head_parameters(c: EncoderConfig, embedding_size: int) -> int:
    """Dense(H -> E), LayerNorm(E) and the output bias (V); the matrix is the tied embeddings."""
    e = embedding_size
    return c.hidden_size * e + e + 2 * e + c.vocab_size


def rtd_head_parameters(c: EncoderConfig) -> int:
    h = c.hidden_size
    return h * h + h + h + 1


def sentence_order_head_parameters(c: EncoderConfig) -> int:
    """Pooler Dense(H) and the 2-way classifier."""
    h = c.hidden_size
    return h * h + h + 2 * h + 2


def causal_lm_parameters(c: EncoderConfig) -> int:
    """GPT-2 (models.decoder): word and position tables, L pre-LN blocks, the final LayerNorm;
    the logits reuse the word table."""
    h = c.hidden_size
    block = 4 * (h * h + h) + 2 * (h * c.intermediate_size) + c.intermediate_size + h + 4 * h
    return (c.vocab_size + c.max_position_embeddings) * h + c.num_layers * block + 2 * h


def parameter_counts(config: ModelConfig) -> dict:
    """Parameters of the pre-training model by part.

    discriminator: its encoder (embeddings included) and heads (the SOP
    pooler and classifier too), i.e. the model kept after pre-training; with
    GDES also the embeddings' residuals (foldable into one table afterwards);
    generator: what only the generator adds (its encoder, unless it is the
    discriminator's, its own embeddings when untied, its masked-LM head, the
    adversarial reward baseline); total: all trainable parameters. A causal LM is all
    "discriminator" (the model kept), with no generator.
    """
    if config.objective == "causal_lm":  # one model: count it as the kept one
        return {"discriminator": causal_lm_parameters(config.encoder), "generator": 0,
                "total": causal_lm_parameters(config.encoder)}
    d, e = config.encoder, config.encoder.embedding_size
    discriminator = embedding_parameters(d) + stack_parameters(d, e)
    if config.sharing == "gdes":
        discriminator += embedding_parameters(d)  # a residual for every shared weight
    if config.objective in ("replace_mlm", "all_tokens_mlm"):
        discriminator += mlm_head_parameters(d, e)
    if config.objective not in ("mlm", "replace_mlm"):
        discriminator += rtd_head_parameters(d)
    if config.sentence_order:
        discriminator += sentence_order_head_parameters(d)
    if config.objective == "mlm":
        generator = mlm_head_parameters(d, e)
    elif config.generator != "masked_lm":
        generator = 0  # fixed distributions have no trainable weights
    else:
        g = config.generator_encoder()
        generator = mlm_head_parameters(g, e)
        if config.sharing != "all":
            generator += stack_parameters(g, e)
        if config.sharing == "none":
            generator += embedding_parameters(g)
        if config.generator_training == "adversarial":
            generator += g.hidden_size  # the baseline's w
    return {
        "discriminator": discriminator,
        "generator": generator,
        "total": discriminator + generator,
    }
