"""Matmul FLOPs of one ELECTRA training step, the formula both throughput benchmarks report."""
from __future__ import annotations

from configs import ModelConfig

FLOP_FORMULA = (
    "6 x matmul multiply-adds per sequence (2 FLOPs each, x3 for forward + backward); per sequence "
    "= T x [disc(T) + gen(T) + H^2 + H] + P x (Hg x E + E x V), where for an encoder of width h, "
    "FFN f, L layers: enc(T) = E x h + L x (4h^2 + 2hf + 2Th) per token (embedding projection, "
    "counted only where E != h; Q/K/V/output; FFN; attention scores QK^T and probabilities x V); "
    "H^2 + H is the discriminator head on all T tokens, Hg x E + E x V the generator's masked-LM "
    "head on the P masked positions. Embedding lookups, LayerNorm, softmax, GELU, biases, "
    "sampling and the optimizer are not counted.")


def train_flops_per_sequence(model: ModelConfig, length: int) -> float:
    """Matmul FLOPs of one training step (forward + backward) per sequence of `length` tokens."""
    d, g = model.encoder, model.generator_encoder()
    e, v = d.embedding_size, d.vocab_size
    predictions = min(model.max_predictions_per_seq, length)

    def per_token(c):
        h = c.hidden_size
        projection = e * h if e != h else 0
        return projection + c.num_layers * (4 * h * h + 2 * h * c.intermediate_size + 2 * length * h)

    macs = length * (per_token(d) + per_token(g) + d.hidden_size ** 2 + d.hidden_size)
    macs += predictions * (g.hidden_size * e + e * v)
    return 6.0 * macs
