"""Every entry point turns a user's mistake into one stderr line and exit status 2, with no
traceback and no TensorFlow start-up noise (the processes run side by side)."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _start(module, *args, verbose=False):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the default, as a user has it
    return subprocess.Popen([sys.executable, "-m", module, *args] + (["--verbose"] if verbose else []),
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def mistakes(tmp_path_factory):
    """{name: (process, expected message)} of entry points given a mistake, all started at once."""
    tmp = tmp_path_factory.mktemp("mistakes")
    data = tmp / "data"
    data.mkdir()
    (data / "train-00000-of-00001.tfrecord").write_bytes(b"")
    (data / "manifest.json").write_text(json.dumps({
        "vocab_size": 64, "vocab_file": "vocab.txt", "max_seq_length": 32, "lowercase": True,
        "special_token_ids": {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4},
        "splits": {"train": {"examples": 1}}}))
    finetuned = tmp / "finetuned"
    finetuned.mkdir()
    (finetuned / "config.json").write_text(json.dumps({"task": {"name": "sst2"}}))
    (data / "vocab.txt").write_text("".join(f"{t}\n" for t in ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
                                            + [f"w{i}" for i in range(59)]))
    missing_vocab = tmp / "data2"
    missing_vocab.mkdir()
    for name in ("train-00000-of-00001.tfrecord", "manifest.json"):
        (missing_vocab / name).write_bytes((data / name).read_bytes())
    cases = {
        "build_pretraining_data": (("pipelines.build_pretraining_data", f"--input={tmp}/none/*.xml",
                                    f"--output_dir={tmp}/out", f"--vocab={tmp}/vocab.txt"), "no input files match"),
        "build_vocab": (("pipelines.build_vocab", f"--input={tmp}/none/*.txt", f"--output={tmp}/v.txt"),
                        "no input files match"),
        "pretrain_no_vocab": (("trainers.pretrain", f"--data={missing_vocab}/train-*", f"--model_dir={tmp}/m1"),
                              "data2/vocab.txt not found"),
        "pretrain_preset": (("trainers.pretrain", f"--data={data}/train-*", f"--model_dir={tmp}/m2", "--config=huge"),
                            "unknown config preset 'huge'"),
        "pretrain_other_run": (("trainers.pretrain", f"--data={data}/train-*", f"--model_dir={finetuned}"),
                               "holds a fine-tuning run, not a pre-training run"),
        "export": (("trainers.export", f"--model_dir={tmp}", f"--output={tmp}/saved"), "config.json not found"),
        "finetune": (("trainers.finetune", "--task=sst2", f"--init_checkpoint={finetuned}",
                      f"--model_dir={tmp}/ft", f"--data_dir={tmp}"), "is a fine-tuning run"),
        "convert": (("trainers.convert", f"--from={finetuned}", f"--to={tmp}/c", "--from_format=huggingface"),
                    "finetuned/config.json: model_type None is neither ELECTRA nor BERT"),
        "serving_check": (("trainers.serving_check", f"--saved_model={tmp}/none"),
                          "none: neither a SavedModel nor a directory of numbered versions"),
        "generate": (("trainers.generate", f"--model_dir={finetuned}", "--prompt=hi"),
                     "is not a causal language model run"),
        "fewshot": (("trainers.fewshot", f"--model_dir={tmp}/none", f"--train_file={tmp}/t.csv",
                     f"--eval_file={tmp}/t.csv", "--text_columns=text", "--label_column=label"),
                    "none/config.json not found"),
        "distill": (("trainers.distill", f"--teacher={tmp}/none", "--student=tinybert_4", f"--model_dir={tmp}/d",
                     f"--train_file={tmp}/t.csv", f"--eval_file={tmp}/t.csv"), "none/config.json not found"),
        "augment_task": (("pipelines.augment_task", f"--input={tmp}/t.csv", f"--output={tmp}/a.tsv",
                          "--text_columns=text", "--label_column=label", f"--masked_lm={tmp}"),
                         "t.csv: file not found"),
    }
    started = {name: (_start(*args), message) for name, (args, message) in cases.items()}
    yield {name: (process.communicate(timeout=300), process.returncode, message)
           for name, (process, message) in started.items()}


@pytest.mark.parametrize("name", ["build_pretraining_data", "build_vocab", "pretrain_no_vocab", "pretrain_preset",
                                  "pretrain_other_run", "export", "finetune", "convert", "serving_check",
                                  "generate", "fewshot", "distill", "augment_task"])
def test_a_mistake_is_one_line_and_status_2(mistakes, name):
    (stdout, stderr), status, message = mistakes[name]
    assert status == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and message in lines[0], stderr
    assert "Traceback" not in stderr + stdout and "cuInit" not in stderr + stdout


def test_verbose_shows_the_traceback(tmp_path):
    stdout, stderr = _start("trainers.export", f"--model_dir={tmp_path}", f"--output={tmp_path}/s",
                            verbose=True).communicate(timeout=300)
    assert "Traceback" in stderr and "config.json not found" in stderr
