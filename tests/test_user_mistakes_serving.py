"""Users' mistakes with trainers.export, trainers.serving_check and trainers.results_table: one
stderr line naming the path or flag and the problem, status 2, and the directories untouched."""
from __future__ import annotations

import json
import os

import pytest
import tensorflow as tf

from configs import get_config, with_vocab_size
from configs.finetune_config import finetune_config
from core import run_files, vocabulary
from tests import mistakes
from tests.trainers.conftest import SEQ, TINY_OVERRIDES, VOCAB
from trainers import export, results_table, serving_check

SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}


def fake_run(directory, config, checkpoint: bool = True) -> str:
    """A run directory with `config`, the tiny vocabulary and (`checkpoint`) a readable checkpoint
    that is not of the run's model (mistakes are found before the model is loaded)."""
    os.makedirs(directory)
    run_files.write_config(str(directory), config)
    run_files.write_vocabulary(str(directory), VOCAB, run_files.TokenizerSettings(
        vocabulary.WORDPIECE, len(VOCAB), SPECIAL, True, SEQ))
    if checkpoint:
        tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)), str(directory), 1).save()
    return str(directory)


class _Classifier(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        n = tf.shape(text)[0]
        return {"label": tf.fill([n], "good"), "classes": tf.fill([n, 1], "good"), "probabilities": tf.ones([n, 1])}


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict:
    """The paths the cases name: runs, SavedModels, results and a plain file."""
    tmp = tmp_path_factory.mktemp("mistakes")
    pretraining = with_vocab_size(get_config("tiny", TINY_OVERRIDES), len(VOCAB))
    (tmp / "file").write_text("not a directory\n")
    fake_run(tmp / "run", pretraining)
    fake_run(tmp / "no_checkpoint", pretraining, checkpoint=False)
    fake_run(tmp / "bad_checkpoint", pretraining, checkpoint=False)
    (tmp / "bad_checkpoint" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    (tmp / "bad_checkpoint" / "ckpt-1.index").write_bytes(b"\x00" * 7)
    fake_run(tmp / "truncated_checkpoint", pretraining)
    data = tmp / "truncated_checkpoint" / "ckpt-1.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:20])
    fake_run(tmp / "finetuned", finetune_config("classification", pretraining.model.encoder))  # no labels.json
    for name, text in (("truncated", '{"model": {"encoder": '), ("foreign", "[1, 2, 3]")):
        (tmp / name).mkdir()
        (tmp / name / "config.json").write_text(text)
    for seed in ("seed_1", "seed_2"):
        (tmp / "seeds" / seed).mkdir(parents=True)
    (tmp / "serving" / "1").mkdir(parents=True)  # an exported version

    module = _Classifier()
    tf.saved_model.save(module, str(tmp / "classifier" / "1"), signatures={"serving_default": module.serve})
    (tmp / "classifier" / "2").mkdir()  # a later version that is not a SavedModel
    (tmp / "garbage").mkdir()
    (tmp / "garbage" / "saved_model.pb").write_bytes(b"\x08\x96\x01 not a protocol buffer")
    (tmp / "outputs").mkdir()
    (tmp / "outputs" / "old.npz").write_bytes(b"earlier outputs")

    summary = {"eval": {"accuracy": {"median": 0.8, "best": 0.9, "runs": [0.7, 0.8, 0.9]}}}
    results = {"task": "classification", "seeds": [1, 2, 3], "init": "runs/model", "summary": summary,
               "majority_class_accuracy": {"eval": 0.5}}
    for name, text in (("results", json.dumps(results)), ("results_truncated", json.dumps(results)[:40]),
                       ("results_eval", json.dumps({"eval": {"accuracy": 0.8}})), ("results_list", "[]"),
                       ("results_no_runs", json.dumps({**results, "summary": {"eval": {"accuracy": {"median": 1}}}}))):
        (tmp / name).mkdir()
        (tmp / name / "results.json").write_text(text)
    (tmp / "results_latin1").mkdir()
    (tmp / "results_latin1" / "results.json").write_bytes(b'{"init": "caf\xe9"}')
    (tmp / "results_dir" / "results.json").mkdir(parents=True)
    return {"tmp": str(tmp), **{name: str(tmp / name) for name in os.listdir(tmp)}}


def _check(main, paths, capsys, argv, expected, watched):
    argv = [a.format(**paths) for a in argv]
    line = mistakes.run_mistake(main, argv, capsys, watched=[paths[name] if name in paths else
                                                    os.path.join(paths["tmp"], name) for name in watched])
    for text in expected:
        assert text.format(**paths) in line, (argv, line)


EXPORT = {
    "model_dir missing": (["--model_dir={tmp}/none", "--output={tmp}/out"], ["--model_dir {tmp}/none not found"]),
    "model_dir is a file": (["--model_dir={file}", "--output={tmp}/out"], ["{file} is a file"]),
    "model_dir is not a run": (["--model_dir={serving}", "--output={tmp}/out"],
                               ["{serving}/config.json not found: not a run directory"]),
    "truncated config.json": (["--model_dir={truncated}", "--output={tmp}/out"],
                              ["{truncated}/config.json: not valid JSON"]),
    "foreign config.json": (["--model_dir={foreign}", "--output={tmp}/out"],
                            ["{foreign}/config.json: expected a JSON object, found list"]),
    "no checkpoint": (["--model_dir={no_checkpoint}", "--output={tmp}/out"], ["no checkpoint in {no_checkpoint}"]),
    "corrupt checkpoint": (["--model_dir={bad_checkpoint}", "--output={tmp}/out"],
                           ["{bad_checkpoint}/ckpt-1: not a readable checkpoint"]),
    "truncated checkpoint data": (["--model_dir={truncated_checkpoint}", "--output={tmp}/out"],
                                  ["{truncated_checkpoint}/ckpt-1: not a readable checkpoint"]),
    "parent of seed runs": (["--model_dir={seeds}", "--output={tmp}/out"],
                            ["several seeds", "e.g. {seeds}/seed_1"]),
    "output is a file": (["--model_dir={run}", "--output={file}"], ["--output {file} is a file"]),
    "output under a file": (["--model_dir={run}", "--output={file}/base"],
                            ["--output {file}/base is under {file}, a file"]),
    "version 0": (["--model_dir={run}", "--output={serving}", "--version=0"],
                  ["--version must be a positive integer, got 0"]),
    "existing version": (["--model_dir={run}", "--output={serving}", "--version=1"],
                         ["{serving}/1 exists; versions are never overwritten"]),
    "classifier without labels.json": (["--model_dir={finetuned}", "--output={tmp}/out"],
                                       ["{finetuned}/labels.json not found"]),
    "checkpoint of another model": (["--model_dir={run}", "--output={tmp}/out"],
                                    ["checkpoint does not fit the model"]),
    "version not a number": (["--model_dir={run}", "--output={serving}", "--version=latest"],
                             ["--version: invalid int value: 'latest'"]),
}


@pytest.mark.parametrize("case", EXPORT)
def test_export_mistakes(paths, capsys, case):
    argv, expected = EXPORT[case]
    _check(export.main, paths, capsys, argv, expected, ["run", "serving", "out", "finetuned", "bad_checkpoint"])


SERVING_CHECK = {
    "missing saved model": (["--saved_model={tmp}/none"], ["{tmp}/none: neither a SavedModel nor"]),
    "saved model is a file": (["--saved_model={file}"], ["--saved_model {file} is a file"]),
    "version without saved_model.pb": (["--saved_model={classifier}"], ["{classifier}/2: no saved_model.pb"]),
    "unreadable saved_model.pb": (["--saved_model={garbage}"], ["{garbage}: not a readable SavedModel"]),
    "swap without a colon": (["--saved_model={classifier}/1", "--text=the capital city", "--swap=capital"],
                             ["--swap='capital': expected old:new"]),
    "swap of a word not in the text": (["--saved_model={classifier}/1", "--text=the big city",
                                        "--swap=capital:banana"], ["'capital' is not a word of --text='the big city'"]),
    "swap on a classifier": (["--saved_model={classifier}/1", "--text=the capital", "--swap=capital:banana"],
                             ["--swap needs a discriminator SavedModel; {classifier}/1 takes text"]),
    "pairs for a text model": (["--saved_model={classifier}/1", "--text=a", "--text_b=b"],
                               ["{classifier}/1 takes text;"]),
    "no warmup requests": (["--saved_model={classifier}/1", "--replay_warmup"],
                           ["{classifier}/1/assets.extra/tf_serving_warmup_requests not found"]),
    "outputs exist": (["--saved_model={classifier}/1", "--replay_warmup", "--outputs={outputs}/old"],
                      ["--outputs {outputs}/old.npz exists"]),
    "outputs in a missing directory": (["--saved_model={classifier}/1", "--replay_warmup", "--outputs={tmp}/no/o.npz"],
                                       ["{tmp}/no is not a directory"]),
    "outputs without replay": (["--saved_model={classifier}/1", "--outputs={tmp}/o.npz"],
                               ["--outputs needs --replay_warmup"]),
    "fewer text_b than text": (["--saved_model={classifier}/1", "--text=a", "--text=b", "--text_b=c"],
                               ["--text_b: give one for each --text (got 2 --text, 1 --text_b)"]),
}


@pytest.mark.parametrize("case", SERVING_CHECK)
def test_serving_check_mistakes(paths, capsys, case):
    argv, expected = SERVING_CHECK[case]
    _check(serving_check.main, paths, capsys, argv, expected, ["classifier", "garbage", "outputs", "no"])


RESULTS_TABLE = {
    "missing directory": (["{tmp}/none"], ["{tmp}/none/results.json not found: run trainers.finetune"]),
    "a file, not a directory": (["{results}/results.json"], ["{results}/results.json is a file"]),
    "a run without results": (["{run}"], ["{run}/results.json not found"]),
    "truncated results.json": (["{results_truncated}"], ["{results_truncated}/results.json: not valid JSON"]),
    "eval_results.json's layout": (["{results_eval}"], ["{results_eval}/results.json: not a results.json of"]),
    "a JSON list": (["{results_list}"], ["{results_list}/results.json: not a results.json of"]),
    "a summary without runs": (["{results_no_runs}"], ["{results_no_runs}/results.json: not a results.json of"]),
    "not UTF-8": (["{results_latin1}"], ["{results_latin1}/results.json: not valid JSON"]),
    "results.json is a directory": (["{results_dir}"], ["Is a directory", "{results_dir}/results.json"]),
    "unknown metric": (["{results}", "--metric=f1"], ["--metric f1: no run has it (they have accuracy)"]),
    "no directories": ([], ["the following arguments are required: model_dirs"]),
}


@pytest.mark.parametrize("case", RESULTS_TABLE)
def test_results_table_mistakes(paths, capsys, case):
    argv, expected = RESULTS_TABLE[case]
    _check(results_table.main, paths, capsys, argv, expected, ["results", "results_dir", "run"])


def test_results_table_of_a_valid_run(paths, capsys):
    assert results_table.main([paths["results"], paths["results"], "--metric=accuracy"]) == 0
    assert "median 0.8000  (min 0.7000, max 0.9000, 3 seed(s); init runs/model)" in capsys.readouterr().out


def test_a_classifier_is_checked(paths, capsys):
    assert serving_check.main([f"--saved_model={paths['classifier']}/1", "--text=a film"]) == 1  # project code loaded
    assert "good  (good 1.000)  a film" in capsys.readouterr().out
