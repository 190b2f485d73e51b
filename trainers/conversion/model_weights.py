"""An ElectraPretrainer's weights by the names the ELECTRA release gives them (its TF1 checkpoints),
and a masked LM's (objective "mlm": BERT) by the names of BERT's release.

Shapes: V vocabulary, E embedding width, P positions, T segment types; H, F the hidden and
feed-forward sizes of the encoder at hand (the generator's are smaller). Kernels are (in, out).

    electra/embeddings/word_embeddings (V, E), position_embeddings (P, E),
        token_type_embeddings (T, E), LayerNorm/gamma, LayerNorm/beta (E,)
    electra/embeddings_project/kernel (E, H), bias (H,)      only where E != H
    electra/encoder/layer_{i}/attention/self/{query,key,value}/kernel (H, H), bias (H,)
    electra/encoder/layer_{i}/attention/output/dense/kernel (H, H), bias; .../attention/output/LayerNorm
    electra/encoder/layer_{i}/intermediate/dense/kernel (H, F), bias (F,)
    electra/encoder/layer_{i}/output/dense/kernel (F, H), bias (H,); .../output/LayerNorm
    discriminator_predictions/dense/kernel (H, H), bias; discriminator_predictions/dense_1/kernel (H, 1), bias (1,)
    generator/...            the generator's encoder, named as electra/... (absent with sharing "all")
    generator/embeddings/... the generator's own embeddings (sharing "none")
    generator_predictions/dense/kernel (H, E), bias (E,); generator_predictions/LayerNorm;
        generator_predictions/output_bias (V,)   (the output matrix is the word embeddings, tied)

`electra` is the discriminator (the release's scope); with sharing "embeddings" the generator
reads electra/embeddings, as in the release.

A masked LM (objective "mlm", E = H): its encoder is named as electra/... under `bert`, then

    bert/pooler/dense/kernel (H, H), bias (H,)              only with config.pooler
    cls/predictions/transform/dense/kernel (H, H), bias; cls/predictions/transform/LayerNorm;
        cls/predictions/output_bias (V,)   (the output matrix is the word embeddings, tied)
"""
from __future__ import annotations

import keras

from configs import ModelConfig
from models.pretrainer import ElectraPretrainer
from trainers.conversion.errors import ConversionError

DISCRIMINATOR, GENERATOR, BERT = "electra", "generator", "bert"
SHARING = ("none", "embeddings", "all")
_LAYER_DENSE = {"query": "attention/self/query", "key": "attention/self/key", "value": "attention/self/value",
                "attention_output": "attention/output/dense", "intermediate": "intermediate/dense",
                "output_dense": "output/dense"}
_LAYER_NORMS = {"attention_norm": "attention/output/LayerNorm", "output_norm": "output/LayerNorm"}


def is_bert(config: ModelConfig) -> bool:
    """Whether `config` is a masked LM (objective "mlm"): BERT's layout, not ELECTRA's."""
    return config.objective == "mlm"


def check_convertible(config: ModelConfig, where: str) -> None:
    """Raises ConversionError unless `config` is a standard ELECTRA or BERT layout (`where`: the file
    it came from)."""
    problems, e = [], config.encoder
    if is_bert(config):
        if e.embedding_size != e.hidden_size:
            problems.append(f"embedding_size {e.embedding_size} != hidden_size {e.hidden_size} (BERT's "
                            "embeddings have the hidden width)")
        if config.sentence_order:
            problems.append("sentence_order (BERT's formats hold no sentence-order head)")
    else:
        if config.objective not in ("electra", "electra_15"):
            problems.append(f"objective {config.objective!r} (ELECTRA has 'electra' or 'electra_15'; BERT 'mlm')")
        if config.generator != "masked_lm":
            problems.append(f"generator {config.generator!r} (ELECTRA's is a masked LM)")
        if config.sharing not in SHARING:
            problems.append(f"sharing {config.sharing!r} (ELECTRA layouts: {', '.join(SHARING)})")
        if config.pooler:
            problems.append("a pooler (ELECTRA has none)")
    if e.num_hidden_groups:
        problems.append(f"num_hidden_groups {e.num_hidden_groups} (cross-layer sharing)")
    if problems:
        raise ConversionError(f"{where}: model {'; '.join(problems)}: no ELECTRA or BERT checkpoint format holds it")


def _dense(scope: str, layer) -> dict:
    return {f"{scope}/kernel": layer.kernel, f"{scope}/bias": layer.bias}


def _norm(scope: str, layer) -> dict:
    return {f"{scope}/gamma": layer.gamma, f"{scope}/beta": layer.beta}


def _embeddings(scope: str, block) -> dict:
    return {f"{scope}/word_embeddings": block.word_embeddings,
            f"{scope}/position_embeddings": block.position_embeddings,
            f"{scope}/token_type_embeddings": block.segment_embeddings,
            **_norm(f"{scope}/LayerNorm", block.layer_norm)}


def _encoder(scope: str, encoder) -> dict:
    names = _dense(f"{scope}/embeddings_project", encoder.projection) if encoder.projection is not None else {}
    for i, layer in enumerate(encoder.layers):
        prefix = f"{scope}/encoder/layer_{i}"
        for attribute, name in _LAYER_DENSE.items():
            names.update(_dense(f"{prefix}/{name}", getattr(layer, attribute)))
        for attribute, name in _LAYER_NORMS.items():
            names.update(_norm(f"{prefix}/{name}", getattr(layer, attribute)))
    return names


def named_variables(model: ElectraPretrainer, where: str = "the model") -> dict[str, keras.Variable]:
    """{release name: variable} of every weight of a built `model` (see the module doc).

    Raises ConversionError for a layout no ELECTRA or BERT checkpoint holds, and for weights this table
    does not name (a model option added without a mapping here).
    """
    config = model.config
    check_convertible(config, where)
    names = _bert_names(model) if is_bert(config) else _electra_names(model)
    named = {id(v) for v in names.values()}
    unnamed = [v.path for v in model.variables if id(v) not in named and "seed_generator_state" not in v.path]
    if unnamed:
        raise ConversionError(f"{where}: the model has weights no ELECTRA or BERT checkpoint format holds: "
                              f"{', '.join(unnamed[:5])}")
    return names


def _bert_names(model: ElectraPretrainer) -> dict[str, keras.Variable]:
    names = _embeddings(f"{BERT}/embeddings", model.embeddings)
    names.update(_encoder(BERT, model.discriminator))
    if model.config.pooler:
        names.update(_dense(f"{BERT}/pooler/dense", model.pooler))
    head = model.generator_head
    names.update(_dense("cls/predictions/transform/dense", head.dense))
    names.update(_norm("cls/predictions/transform/LayerNorm", head.layer_norm))
    names["cls/predictions/output_bias"] = head.output_bias
    return names


def _electra_names(model: ElectraPretrainer) -> dict[str, keras.Variable]:
    names = _embeddings(f"{DISCRIMINATOR}/embeddings", model.embeddings)
    names.update(_encoder(DISCRIMINATOR, model.discriminator))
    names.update(_dense("discriminator_predictions/dense", model.discriminator_head.dense))
    names.update(_dense("discriminator_predictions/dense_1", model.discriminator_head.logit))
    generator = model.generator
    if generator is not model.discriminator:
        if generator.embeddings is not model.embeddings:
            names.update(_embeddings(f"{GENERATOR}/embeddings", generator.embeddings))
        names.update(_encoder(GENERATOR, generator))
    head = model.generator_head
    names.update(_dense("generator_predictions/dense", head.dense))
    names.update(_norm("generator_predictions/LayerNorm", head.layer_norm))
    names["generator_predictions/output_bias"] = head.output_bias
    return names


def shared_with_generator(name: str, sharing: str) -> bool:
    """Whether discriminator weight `name` is also the generator's under `sharing`."""
    if sharing == "all":
        return name.startswith(f"{DISCRIMINATOR}/")
    return sharing == "embeddings" and name.startswith(f"{DISCRIMINATOR}/embeddings/")
