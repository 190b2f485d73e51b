"""A converted run directory is a run like any other: trainers.pretrain continues it (generator and
discriminator together, fresh schedule), trainers.finetune and trainers.export start from it."""
from __future__ import annotations

import dataclasses
import json
import os

import numpy as np
import tensorflow as tf

from core import run_files
from tests.trainers.conftest import write_word_task
from tests.trainers.conversion_goldens import golden_dir
from trainers.checkpointing import weights_only_checkpoint
from trainers.conversion import huggingface, run_format
from trainers.conversion.model_weights import named_variables
from trainers.export import export
from trainers.finetune import main as finetune_main
from trainers.model_loading import load_pretrainer
from trainers.pretrain import main as pretrain_main, parse_args, resolve_config


def _convert(run_dir) -> dict[str, np.ndarray]:
    """Imports the small goldens into `run_dir`; returns their weights by release name."""
    converted = huggingface.read(golden_dir("small"))
    run_format.write(converted, str(run_dir))
    return {name: v.numpy() for name, v in named_variables(converted.model).items()}


def test_pretraining_continues_a_converted_run_from_its_weights(tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    imported = _convert(run)
    assert weights_only_checkpoint(str(run)) == str(run / "ckpt-0")
    # No --config: the run's own; learning rate 0 keeps the weights, so the checkpoint shows where they started.
    overrides = ["train.num_steps=2", "train.batch_size=8", "train.learning_rate=0", "train.shuffle_buffer=64",
                 "model.max_predictions_per_seq=6"]  # a training setting, changeable before the first step
    args = ["--data", os.path.join(tiny_data, "train-*"), "--model_dir", str(run), "--strategy", "cpu"]
    assert pretrain_main(args + [f"--override={o}" for o in overrides]) == 0
    out = capsys.readouterr().out
    assert f"starting from the converted weights {run / 'ckpt-0'}" in out and "step 2/2" in out
    assert weights_only_checkpoint(str(run)) is None  # ckpt-2 holds the optimizer too
    assert tf.train.load_checkpoint(str(run / "ckpt-2")).get_tensor(
        "optimizer/_iterations/.ATTRIBUTES/VARIABLE_VALUE") == 2  # the schedule started at step 0
    pretrainer, _ = load_pretrainer(str(run))
    trained = named_variables(pretrainer)
    assert any(n.startswith("generator/") for n in trained)
    for name, value in imported.items():  # generator and discriminator both came from the conversion
        assert np.array_equal(trained[name].numpy(), value), name
    assert json.loads((run / "config.json").read_text())["model"]["max_predictions_per_seq"] == 6


def test_finetuning_export_and_new_runs_start_from_a_converted_run(tmp_path, capsys):
    run = tmp_path / "run"
    imported = _convert(run)
    # pretrain --init_checkpoint=RUN --model_dir=NEW without --config takes the run's config.
    args = parse_args(["--data=unused", f"--model_dir={tmp_path / 'new'}", f"--init_checkpoint={run}"])
    manifest = run_files.DataManifest(dataclasses.replace(run_files.read_tokenizer(str(run)), max_seq_length=32),
                                      {"train": run_files.Split(1)})
    assert resolve_config(args, manifest) == run_files.read_config(str(run))
    train = write_word_task(tmp_path / "train.csv", 16)
    assert finetune_main(["--task=classification", "--init_checkpoint", str(run), "--model_dir",
                          str(tmp_path / "ft"), "--train_file", train, "--eval_file", train, "--text_columns=text",
                          "--label_column=label", "--strategy=cpu", "--override=train.num_steps=1",
                          "--override=task.max_seq_length=16", "--override=train.batch_size=8"]) == 0
    assert f"encoder initialised from {run}" in capsys.readouterr().out
    config = json.loads((tmp_path / "ft" / "config.json").read_text())
    assert config["encoder"]["hidden_size"] == 32 and config["encoder"]["embedding_size"] == 16

    serve = tf.saved_model.load(export(str(run), str(tmp_path / "serving"))).signatures["serving_default"]
    out = {k: v.numpy() for k, v in serve(text=tf.constant(["w1 w2 w3 w40", "w7"])).items()}
    pretrainer, _ = load_pretrainer(str(run))
    assert np.array_equal(named_variables(pretrainer)["electra/embeddings/word_embeddings"].numpy(),
                          imported["electra/embeddings/word_embeddings"])
    ids, mask = out["token_ids"], out["input_mask"]
    expected = tf.sigmoid(pretrainer.discriminate(ids, mask, np.zeros_like(ids), training=False)).numpy() * mask
    np.testing.assert_allclose(out["replaced_probability"], expected, atol=1e-6)
