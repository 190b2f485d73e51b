"""Hugging Face BERT -> this project: parity with transformers (golden files), exports equal to what
transformers saves, a BERT run (a masked LM with its pooler) that pre-training continues and
fine-tuning starts from, classifying through the imported pooler, and a BertForSequenceClassification
imported as a fine-tuned run."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
import safetensors.numpy
import tensorflow as tf

from tests.trainers.conftest import VOCAB, write_word_task
from tests.trainers.conversion_goldens import BERT_MODELS, bert_outputs, expected, golden_dir, golden_tensors
from trainers.conversion import huggingface, run_format
from trainers.conversion.model_weights import named_variables
from trainers.finetune import main as finetune_main
from core import run_files
from trainers.model_loading import load_finetuned, load_pretrainer
from trainers.pretrain import main as pretrain_main

TOLERANCE = 1e-4  # the issue's; measured: <= 1e-6


@pytest.fixture(scope="module")
def imported() -> dict:
    """{BERT_MODELS name: the golden imported}."""
    return {name: huggingface.read(golden_dir("bert", name)) for name in BERT_MODELS}


@pytest.mark.parametrize("name", BERT_MODELS)
def test_imported_berts_give_transformers_outputs(imported, name):
    converted, batch = imported[name], expected("bert")
    out = bert_outputs(converted.model, batch)
    assert np.abs(out["hidden"] - batch["hidden"]).max() < TOLERANCE  # BertModel's last hidden states
    model = converted.config.model
    assert model.objective == "mlm" and model.pooler == (name != "masked_lm")
    if model.pooler:
        assert np.abs(out["pooled"] - batch["pooled"]).max() < TOLERANCE
    if name != "model":
        assert np.abs(out["mlm_logits"] - batch["mlm_logits"]).max() < TOLERANCE  # BertForMaskedLM's logits
    e = model.encoder
    assert (e.vocab_size, e.embedding_size, e.hidden_size, e.num_heads, e.intermediate_size, e.num_layers) == (
        64, 32, 32, 4, 48, 2)
    assert converted.tokenizer.vocab == tuple(VOCAB) and converted.tokenizer.lowercase
    notes = " ".join(converted.notes)
    assert ("no masked-LM head" in notes) == (name == "model") and ("no pooler" in notes) == (name == "masked_lm")
    assert ("left out the next-sentence head" in notes) == (name == "pretraining")


def test_export_is_what_transformers_saves_and_reimports_exactly(imported, tmp_path):
    """A BERT run is written as BertForMaskedLM: the masked-LM golden's keys bit for bit, plus the pooler
    where the run has one (which transformers' BertModel reads from the same directory)."""
    for name, extra in (("masked_lm", set()), ("pretraining", {"bert.pooler.dense.weight", "bert.pooler.dense.bias"})):
        out = tmp_path / name
        huggingface.write(imported[name], str(out))
        with open(out / "model.safetensors", "rb") as f:
            written = safetensors.numpy.load(f.read())
        golden = golden_tensors("bert", "masked_lm")
        assert set(written) == set(golden) | extra
        for key, value in golden.items():
            assert written[key].dtype == np.float32 and np.array_equal(written[key], value), key
        config = json.loads((out / "config.json").read_text())
        theirs = json.load(open(os.path.join(golden_dir("bert", "masked_lm"), "config.json")))
        for key in ("architectures", "model_type", "vocab_size", "hidden_size", "num_hidden_layers",
                    "num_attention_heads", "intermediate_size", "hidden_act", "max_position_embeddings",
                    "type_vocab_size", "layer_norm_eps", "pad_token_id"):
            assert config[key] == theirs[key], key
        assert json.loads((out / "tokenizer_config.json").read_text())["tokenizer_class"] == "BertTokenizer"
        again = huggingface.read(str(out))
        first, second = named_variables(imported[name].model), named_variables(again.model)
        assert sorted(first) == sorted(second)
        assert all(np.array_equal(first[n].numpy(), second[n].numpy()) for n in first)
        assert again.config.model == imported[name].config.model


def test_a_bert_run_continues_pretraining_and_finetunes_through_its_pooler(imported, tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    run_format.write(imported["pretraining"], str(run))
    weights = {n: v.numpy() for n, v in named_variables(imported["pretraining"].model).items()}
    # Continued pre-training: the run's own config (objective mlm); learning rate 0 keeps the weights.
    args = ["--data", os.path.join(tiny_data, "train-*"), "--model_dir", str(run), "--strategy", "cpu"]
    overrides = ["train.num_steps=1", "train.batch_size=8", "train.learning_rate=0", "train.shuffle_buffer=64"]
    assert pretrain_main(args + [f"--override={o}" for o in overrides]) == 0
    assert f"starting from the converted weights {run / 'ckpt-0'}" in capsys.readouterr().out
    pretrainer, _ = load_pretrainer(str(run))
    trained = named_variables(pretrainer)
    assert sorted(trained) == sorted(weights) and "bert/pooler/dense/kernel" in trained
    assert all(np.array_equal(trained[n].numpy(), weights[n]) for n in weights)

    train = write_word_task(tmp_path / "train.csv", 16)
    ft = tmp_path / "ft"
    assert finetune_main(["--task=classification", "--init_checkpoint", str(run), "--model_dir", str(ft),
                          "--train_file", train, "--eval_file", train, "--text_columns=text", "--label_column=label",
                          "--strategy=cpu", "--override=train.num_steps=1", "--override=train.learning_rate=0",
                          "--override=task.max_seq_length=16", "--override=train.batch_size=8"]) == 0
    assert json.loads((ft / "config.json").read_text())["pooler"] is True  # BERT's head: [CLS] -> pooler -> dense
    model = load_finetuned(str(ft))
    kernel = model.head.pooler.kernel.numpy()
    assert np.array_equal(kernel, weights["bert/pooler/dense/kernel"])  # the imported pooler, restored from ckpt
    ids = tf.constant(expected("bert")["input_ids"][:, :16], tf.int32)
    ones = tf.ones_like(ids)
    logits = model({"input_ids": ids, "input_mask": ones, "segment_ids": 0 * ones}, training=False)["logits"]
    pooled = np.tanh(pretrainer.discriminator(ids, ones, 0 * ones, training=False).numpy()[:, 0] @ kernel
                     + weights["bert/pooler/dense/bias"])
    np.testing.assert_allclose(logits, model.head.dense(pooled).numpy(), atol=1e-5)


def test_a_sequence_classifier_becomes_a_finetuned_run_with_transformers_logits(tmp_path):
    converted = huggingface.read(golden_dir("bert", "classification"))
    assert converted.classifier.labels == ("negative", "neutral", "positive")
    assert any("a sequence classifier (negative, neutral, positive)" in note for note in converted.notes)
    run = tmp_path / "run"
    run_format.write(converted, str(run))
    config = run_files.read_config(str(run))
    assert (config.task.name, config.pooler, config.task.max_seq_length) == ("classification", True, 32)
    assert run_files.read_labels(str(run)) == ["negative", "neutral", "positive"]
    batch = expected("bert")
    logits = load_finetuned(str(run))({"input_ids": tf.constant(batch["input_ids"], tf.int32),
                                       "input_mask": tf.constant(batch["attention_mask"], tf.int32),
                                       "segment_ids": tf.constant(batch["token_type_ids"], tf.int32)},
                                      training=False)["logits"].numpy()
    assert np.abs(logits - batch["classifier_logits"]).max() < TOLERANCE
