"""Matmul FLOPs of one pre-training step, the formula the throughput benchmarks and the
objective comparison report."""
from __future__ import annotations

from configs import ModelConfig

FLOP_FORMULA = (
    "6 x matmul multiply-adds per sequence (2 FLOPs each, x3 for forward + backward); per sequence "
    "= T x [disc(T) + gen(T) + H^2 + H] + P x (Hg x E + E x V), where for an encoder of width h, "
    "FFN f, L layers: enc(T) = E x h + L x (4h^2 + 2hf + 2Th) per token (embedding projection, "
    "counted only where E != h; Q/K/V/output; FFN; attention scores QK^T and probabilities x V); "
    "H^2 + H is the discriminator head on all T tokens, Hg x E + E x V the generator's masked-LM "
    "head on the P masked positions. Other objectives: mlm (BERT) = T x disc(T) + P x (H x E + "
    "E x V), no generator; replace_mlm has the discriminator's masked-LM head P x (H x E + E x V) "
    "in place of the RTD head; all_tokens_mlm adds T x (H x E + E x V), an LM head on every token; "
    "a uniform or unigram generator costs nothing. Embedding lookups, LayerNorm, softmax, GELU, "
    "biases, sampling and the optimizer are not counted.")


def train_flops_per_sequence(model: ModelConfig, length: int) -> float:
    """Matmul FLOPs of one training step (forward + backward) per sequence of `length` tokens,
    for the model's objective and generator (FLOP_FORMULA)."""
    d, g = model.encoder, model.generator_encoder()
    e, v = d.embedding_size, d.vocab_size
    predictions = min(model.max_predictions_per_seq, length)

    def per_token(c):
        h = c.hidden_size
        projection = e * h if e != h else 0
        return projection + c.num_layers * (4 * h * h + 2 * h * c.intermediate_size + 2 * length * h)

    def lm_head(c, positions):
        return positions * (c.hidden_size * e + e * v)

    macs = length * per_token(d)
    if model.objective == "mlm":
        return 6.0 * (macs + lm_head(d, predictions))
    if model.generator == "masked_lm":
        macs += length * per_token(g) + lm_head(g, predictions)
    if model.objective == "replace_mlm":
        macs += lm_head(d, predictions)
    else:
        macs += length * (d.hidden_size ** 2 + d.hidden_size)
    if model.objective == "all_tokens_mlm":
        macs += lm_head(d, length)
    return 6.0 * macs
