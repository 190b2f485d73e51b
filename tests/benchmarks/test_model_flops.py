"""The FLOP count of each pre-training objective, by hand for a small shape."""

from benchmarks.model_flops import train_flops_per_sequence
from configs import get_config

SHAPE = ["model.encoder.vocab_size=100", "model.encoder.embedding_size=8", "model.encoder.hidden_size=16",
         "model.encoder.num_heads=4", "model.encoder.intermediate_size=32", "model.encoder.num_layers=1",
         "model.max_predictions_per_seq=2"]
T = 10


def flops(*overrides):
    return train_flops_per_sequence(get_config("tiny", SHAPE + list(overrides)).model, T)


def test_each_objective_counts_its_encoders_and_heads():
    # Multiply-adds per token of the discriminator (h 16, f 32) and the generator (h 4, f 8), with
    # their 8 -> h embedding projections; LM heads h x 8 + 8 x 100 on P = 2 positions or all T.
    disc = 8 * 16 + (4 * 16 * 16 + 2 * 16 * 32 + 2 * T * 16)
    gen = 8 * 4 + (4 * 4 * 4 + 2 * 4 * 8 + 2 * T * 4)
    rtd_head = 16 * 16 + 16
    lm = {h: 8 * h + 8 * 100 for h in (4, 16)}
    electra = T * (disc + gen + rtd_head) + 2 * lm[4]
    assert flops() == 6 * electra
    assert flops("model.objective=electra_15") == 6 * electra  # the RTD head still runs on every token
    assert flops("model.objective=mlm") == 6 * (T * disc + 2 * lm[16])
    assert flops("model.objective=replace_mlm") == 6 * (electra - T * rtd_head + 2 * lm[16])
    assert flops("model.objective=all_tokens_mlm") == 6 * (electra + T * lm[16])
    assert flops("model.generator=uniform") == 6 * T * (disc + rtd_head)
    assert flops("model.objective=mlm") < flops() < flops("model.objective=all_tokens_mlm")
