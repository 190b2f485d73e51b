"""Parameter counts: the analytic count equals the built model's; the presets match the paper."""

import numpy as np
import pytest

from configs import get_config, with_vocab_size
from models.parameter_count import parameter_counts
from models.pretrainer import ElectraPretrainer
from tests.models.test_pretrainer import SPECIAL, make_features

# Published discriminator sizes (ELECTRA paper, Tables 1, 2 and 8), in millions.
PUBLISHED = {"small": 14, "base": 110, "large": 335}


def built_counts(model):
    def size(variables):
        return sum(int(np.prod(v.shape)) for v in variables)

    disc = {id(v) for v in model.discriminator.trainable_variables}
    for name in ("discriminator_head", "discriminator_mlm_head", "sentence_order_head"):
        if hasattr(model, name):
            disc |= {id(v) for v in getattr(model, name).trainable_variables}
    total = model.trainable_variables
    return {
        "discriminator": size([v for v in total if id(v) in disc]),
        "generator": size([v for v in total if id(v) not in disc]),
        "total": size(total),
    }


@pytest.mark.parametrize(
    "overrides",
    [
        [],
        [
            "model.objective=all_tokens_mlm",
            "model.encoder.num_hidden_groups=1",
            "model.sharing=none",
        ],
        ["model.objective=replace_mlm", "model.sharing=all", "model.generator_size=1"],
        ["model.objective=mlm", "model.encoder.embedding_size=128"],
        ["model.objective=electra_15", "model.generator=uniform"],
        ["model.sentence_order=true", "model.sharing=gdes"],
        ["model.generator_training=adversarial", "model.masking=ngram"],
        ["model.encoder.num_hidden_groups=1", "model.encoder.layer_sharing=attention"],
        ["model.encoder.num_hidden_groups=2", "model.encoder.num_layers=4",
         "model.encoder.layer_sharing=ffn", "model.objective=mlm", "model.sentence_order=true"],
    ],
)
def test_analytic_count_equals_the_built_model(overrides):
    config = with_vocab_size(
        get_config("tiny", ["model.encoder.num_layers=2", *overrides]), 200
    ).model
    model = ElectraPretrainer(config, SPECIAL)
    model(make_features(batch=2), training=False)
    assert built_counts(model) == parameter_counts(config)


def test_presets_match_the_published_sizes():
    """Published sizes are rounded; Base's 110M is BERT-Base's count, which includes BERT's
    pooler (0.59M) that an ELECTRA discriminator does not have."""
    for name, published in PUBLISHED.items():
        counts = parameter_counts(get_config(name).model)
        print(
            f"ELECTRA-{name}: discriminator {counts['discriminator']:,} (published {published}M), "
            f"generator {counts['generator']:,} beyond the shared embeddings, "
            f"total {counts['total']:,}"
        )
        assert abs(counts["discriminator"] - published * 1e6) < 0.6e6
    # Small's generator: hidden 64, 1 head, FFN 256 over all 12 layers, its own projection
    # 128 -> 64, and the MLM head (dense 64 -> 128, LayerNorm, output bias) tied to the embeddings.
    layer = 4 * (64 * 64 + 64) + 2 * 64 + (64 * 256 + 256) + (256 * 64 + 64) + 2 * 64
    head = 64 * 128 + 128 + 2 * 128 + 30522
    assert (
        parameter_counts(get_config("small").model)["generator"]
        == 12 * layer + 128 * 64 + 64 + head
    )


# The ALBERT paper's Table 1, in millions, with 30,000 pieces; counted with the
# MLM head, the pooler and the SOP classifier.
ALBERT_PUBLISHED = {"albert_base": 12, "albert_large": 18, "albert_xlarge": 60, "albert_xxlarge": 235}


def test_albert_presets_match_table_1():
    """Base, large and xlarge are within 2% of Table 1 (11.8M, 17.8M, 59.0M). xxlarge's
    235M does not follow from its Table 1 sizes (H 4096, FFN 16384, E 128, 12 shared
    layers): they give 223.2M, the size of the released xxlarge checkpoints (listed as
    223M), 5% below the table."""
    totals = {name: parameter_counts(get_config(name).model)["total"] for name in ALBERT_PUBLISHED}
    for name, published in ALBERT_PUBLISHED.items():
        print(f"{name}: {totals[name]:,} (Table 1: {published}M)")
    for name in ("albert_base", "albert_large", "albert_xlarge"):
        assert totals[name] == pytest.approx(ALBERT_PUBLISHED[name] * 1e6, rel=0.02)
    assert totals["albert_xxlarge"] == pytest.approx(223.16e6, abs=0.01e6)
    assert [totals[n] / 1e6 for n in ("albert_base", "albert_large")] == pytest.approx([11.81, 17.85],
                                                                                      abs=0.01)


def test_albert_sharing_ablations_match_table_4():
    """ALBERT-base, E = 128: not shared 89M, attention shared 64M, FFN shared 38M, all 12M."""
    for overrides, published in ((["model.encoder.num_hidden_groups=0"], 89),
                                 (["model.encoder.layer_sharing=attention"], 64),
                                 (["model.encoder.layer_sharing=ffn"], 38), ([], 12)):
        total = parameter_counts(get_config("albert_base", overrides).model)["total"]
        assert total == pytest.approx(published * 1e6, rel=0.02), overrides


@pytest.mark.parametrize("name", ["albert_base", pytest.param("albert_large", marks=pytest.mark.slow)])
def test_albert_built(name):
    config = get_config(name).model
    model = ElectraPretrainer(config, SPECIAL)
    model(make_features(batch=2), training=False)
    assert built_counts(model) == parameter_counts(config)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["small", "base", "large"])
def test_presets_built(name):
    config = get_config(name).model
    model = ElectraPretrainer(config, SPECIAL)
    model(make_features(batch=2), training=False)
    assert built_counts(model) == parameter_counts(config)
