"""The ELECTRA release's TF1 checkpoints: variables land where they belong, logits equal
transformers' on the same weights, and export -> import is exact."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import safetensors.numpy
import tensorflow as tf

from tests.trainers.conftest import VOCAB
from tests.trainers.conversion_goldens import SIZES, golden_tensors, max_differences
from trainers.conversion import huggingface, tf1_checkpoint
from trainers.conversion.model_weights import named_variables

# The original model/modeling.py's scopes inside encoder/layer_i, and Hugging Face's modules there.
LAYER_SCOPES = {"attention/self/query": "attention.self.query", "attention/self/key": "attention.self.key",
                "attention/self/value": "attention.self.value", "attention/output/dense": "attention.output.dense",
                "intermediate/dense": "intermediate.dense", "output/dense": "output.dense"}
LAYER_NORMS = {"attention/output/LayerNorm": "attention.output.LayerNorm", "output/LayerNorm": "output.LayerNorm"}
EMBEDDING_TABLES = {"word_embeddings": "word_embeddings", "position_embeddings": "position_embeddings",
                    "token_type_embeddings": "token_type_embeddings"}
# Where each lands in this project's ElectraPretrainer.
LAYER_ATTRIBUTES = {"attention/self/query": "query", "attention/self/key": "key", "attention/self/value": "value",
                    "attention/output/dense": "attention_output", "intermediate/dense": "intermediate",
                    "output/dense": "output_dense", "attention/output/LayerNorm": "attention_norm",
                    "output/LayerNorm": "output_norm"}
TABLE_ATTRIBUTES = {"word_embeddings": "word_embeddings", "position_embeddings": "position_embeddings",
                    "token_type_embeddings": "segment_embeddings"}
PARAMS = {"kernel": "kernel", "bias": "bias", "gamma": "gamma", "beta": "beta"}


def release_variables(size: str) -> dict[str, np.ndarray]:
    """The goldens' weights under the names and shapes the original run_pretraining.py writes."""
    disc, gen = golden_tensors(size, "discriminator"), golden_tensors(size, "generator")
    out = {}

    def embeddings(scope, t):
        for name, key in EMBEDDING_TABLES.items():
            out[f"{scope}/{name}"] = t[f"electra.embeddings.{key}.weight"]
        out[f"{scope}/LayerNorm/gamma"] = t["electra.embeddings.LayerNorm.weight"]
        out[f"{scope}/LayerNorm/beta"] = t["electra.embeddings.LayerNorm.bias"]

    def dense(name, t, key):
        out[f"{name}/kernel"], out[f"{name}/bias"] = t[f"{key}.weight"].T, t[f"{key}.bias"]

    def encoder(scope, t):
        if "electra.embeddings_project.weight" in t:
            dense(f"{scope}/embeddings_project", t, "electra.embeddings_project")
        for i in range(len({k.split(".")[3] for k in t if k.startswith("electra.encoder.layer.")})):
            for name, module in LAYER_SCOPES.items():
                dense(f"{scope}/encoder/layer_{i}/{name}", t, f"electra.encoder.layer.{i}.{module}")
            for name, module in LAYER_NORMS.items():
                out[f"{scope}/encoder/layer_{i}/{name}/gamma"] = t[f"electra.encoder.layer.{i}.{module}.weight"]
                out[f"{scope}/encoder/layer_{i}/{name}/beta"] = t[f"electra.encoder.layer.{i}.{module}.bias"]

    embeddings("electra/embeddings", disc)
    if not np.array_equal(gen["electra.embeddings.word_embeddings.weight"],
                          disc["electra.embeddings.word_embeddings.weight"]):
        embeddings("generator/embeddings", gen)  # untied_generator_embeddings
    encoder("electra", disc)
    encoder("generator", gen)
    dense("discriminator_predictions/dense", disc, "discriminator_predictions.dense")
    dense("discriminator_predictions/dense_1", disc, "discriminator_predictions.dense_prediction")
    dense("generator_predictions/dense", gen, "generator_predictions.dense")
    out["generator_predictions/LayerNorm/gamma"] = gen["generator_predictions.LayerNorm.weight"]
    out["generator_predictions/LayerNorm/beta"] = gen["generator_predictions.LayerNorm.bias"]
    out["generator_predictions/output_bias"] = gen["generator_lm_head.bias"]
    return out


def save(directory, variables: dict, slots: bool = True) -> None:
    """A name-based checkpoint as the release ships it (model.ckpt + `checkpoint`, vocab.txt), with Adam slots."""
    os.makedirs(directory, exist_ok=True)
    values = dict(variables)
    if slots:
        values.update({f"{n}/adam_{s}": np.zeros_like(v) for n, v in variables.items() for s in "mv"})
        values["global_step"] = np.array(1000, np.int64)
    tf.raw_ops.SaveV2(prefix=os.path.join(directory, "model.ckpt"), tensor_names=list(values),
                      shape_and_slices=[""] * len(values), tensors=[tf.constant(v) for v in values.values()])
    with open(os.path.join(directory, "checkpoint"), "w") as f:
        f.write('model_checkpoint_path: "model.ckpt"\n')
    with open(os.path.join(directory, "vocab.txt"), "w") as f:
        f.write("\n".join(VOCAB) + "\n")


def model_variable(model, name: str):
    """This project's variable that release name `name` must land in."""
    scope, rest = name.split("/", 1)
    if scope == "discriminator_predictions":
        layer, param = rest.split("/")
        return getattr({"dense": model.discriminator_head.dense, "dense_1": model.discriminator_head.logit}[layer],
                       param)
    if scope == "generator_predictions":
        head = model.generator_head
        if rest == "output_bias":
            return head.output_bias
        layer, param = rest.split("/")
        return getattr({"dense": head.dense, "LayerNorm": head.layer_norm}[layer], param)
    encoder = model.discriminator if scope == "electra" else model.generator
    if rest.startswith("embeddings/"):
        table = rest[len("embeddings/"):]
        block = encoder.embeddings
        return getattr(block.layer_norm, table.split("/")[1]) if table.startswith("LayerNorm") else getattr(
            block, TABLE_ATTRIBUTES[table])
    if rest.startswith("embeddings_project/"):
        return getattr(encoder.projection, rest.split("/")[1])
    _, layer, *module, param = rest.split("/")
    return getattr(getattr(encoder.layers[int(layer[len("layer_"):])], LAYER_ATTRIBUTES["/".join(module)]),
                   PARAMS[param])


@pytest.mark.parametrize("size", SIZES)
def test_release_checkpoint_lands_per_variable_and_gives_transformers_logits(size, tmp_path):
    variables = release_variables(size)
    save(tmp_path, variables)
    heads = {"small": 2, "base": 3, "uneven": 4}[size]
    if size == "small":  # the original code's --hparams file records them
        with open(tmp_path / "hparams.json", "w") as f:
            json.dump({"model_size": "small", "model_hparam_overrides": {"num_attention_heads": heads}}, f)
    converted = tf1_checkpoint.read(str(tmp_path), num_heads=None if size == "small" else heads)
    assert converted.config.model.sharing == {"small": "embeddings", "base": "none", "uneven": "embeddings"}[size]
    assert converted.config.model.encoder.num_heads == heads and not converted.notes
    for name, value in variables.items():
        assert np.array_equal(model_variable(converted.model, name).numpy(), value), name
    assert len(named_variables(converted.model)) == len(variables)  # every weight came from the checkpoint
    disc, gen = max_differences(converted.model, size)
    assert disc < 1e-4 and gen < 1e-4

    exported = tmp_path / "export"
    tf1_checkpoint.write(converted, str(exported))
    reader = tf.train.load_checkpoint(str(exported))
    assert sorted(reader.get_variable_to_shape_map()) == sorted(variables)  # no slots, no other names
    for name, value in variables.items():
        assert np.array_equal(reader.get_tensor(name), value), name
    hparams = json.loads((exported / "hparams.json").read_text())
    assert hparams["model_hparam_overrides"]["num_attention_heads"] == heads
    assert hparams["untied_generator_embeddings"] == (size == "base")
    again = tf1_checkpoint.read(str(exported))
    first, second = named_variables(converted.model), named_variables(again.model)
    assert all(np.array_equal(first[n].numpy(), second[n].numpy()) for n in first)
    assert again.config.model == converted.config.model


def test_heads_default_to_the_original_rule_and_say_so(tmp_path):
    save(tmp_path, release_variables("small"), slots=False)
    converted = tf1_checkpoint.read(os.path.join(tmp_path, "model.ckpt"))  # a prefix works too
    assert converted.config.model.encoder.num_heads == 1  # max(1, 32 // 64)
    assert any("--num_heads" in note for note in converted.notes)


def test_a_checkpoint_without_generator_gets_a_new_one(tmp_path):
    variables = {n: v for n, v in release_variables("small").items() if not n.startswith("generator")}
    save(tmp_path, variables, slots=False)
    converted = tf1_checkpoint.read(str(tmp_path), num_heads=2)
    assert any("new one" in note for note in converted.notes)
    for name, value in variables.items():
        assert np.array_equal(model_variable(converted.model, name).numpy(), value), name


def test_a_generator_sharing_the_whole_encoder(tmp_path):
    """untied_generator=False: generator_predictions on the discriminator's own encoder (sharing "all")."""
    variables = {n: v for n, v in release_variables("small").items() if not n.startswith("generator")}
    rng = np.random.default_rng(0)
    for name, shape in (("dense/kernel", (32, 16)), ("dense/bias", (16,)), ("LayerNorm/gamma", (16,)),
                        ("LayerNorm/beta", (16,)), ("output_bias", (64,))):
        variables[f"generator_predictions/{name}"] = rng.normal(size=shape).astype(np.float32)
    save(tmp_path, variables, slots=False)
    with open(tmp_path / "checkpoint", "w") as f:  # the release's files name where they were written
        f.write('model_checkpoint_path: "/elsewhere/model.ckpt-1000000"\n')
    converted = tf1_checkpoint.read(str(tmp_path), num_heads=2)
    assert converted.config.model.sharing == "all" and converted.model.generator is converted.model.discriminator
    for name, value in variables.items():
        assert np.array_equal(model_variable(converted.model, name).numpy(), value), name
    huggingface.write(converted, str(tmp_path / "hf"))
    discriminator, generator = (set(golden_tensors("small", role)) for role in ("discriminator", "generator"))
    with open(tmp_path / "hf" / "generator" / "model.safetensors", "rb") as f:
        written = safetensors.numpy.load(f.read())
    assert set(written) == generator  # the discriminator's encoder under the generator's names
    assert np.array_equal(written["electra.encoder.layer.1.output.dense.weight"],
                          variables["electra/encoder/layer_1/output/dense/kernel"].T)
    assert discriminator - generator == {k for k in discriminator if k.startswith("discriminator_predictions")}
