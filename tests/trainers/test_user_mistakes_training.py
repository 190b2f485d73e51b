"""trainers.pretrain and trainers.finetune given a user's mistake: one stderr line, status 2, and
every directory they were pointed at unchanged; a run directory belongs to the job that made it."""
import json
import os
import shutil

import pytest

from core import run_files, vocabulary
from tests.mistakes import run_mistake, snapshot
from tests.trainers.conftest import TINY_OVERRIDES, VOCAB, write_data, write_word_task
from trainers.finetune import main as finetune_main
from trainers.pretrain import main as pretrain_main

FT = ["--strategy=cpu", "--text_columns=text", "--label_column=label", "--override=train.num_steps=2",
      "--override=task.max_seq_length=16", "--override=train.batch_size=8"]


@pytest.fixture(scope="module")
def setup(pretrained_run, tiny_data, tmp_path_factory):
    """A finished fine-tuning run beside the session's pre-trained run, and the files the mistakes use."""
    base = tmp_path_factory.mktemp("mistakes")
    train = write_word_task(base / "train.csv", 24)
    finetuned = str(base / "finetuned")
    assert finetune_main(["--task=classification", f"--init_checkpoint={pretrained_run}", f"--model_dir={finetuned}",
                          f"--train_file={train}", f"--eval_file={train}"] + FT) == 0
    relabelled = base / "relabelled.csv"
    relabelled.write_text((base / "train.csv").read_text().replace(",low", ",terrible").replace(",high", ",good"))
    write_data(str(base / "other_data"), num_examples=64, seed=7)  # other examples, same vocabulary
    write_data(str(base / "permuted"), num_examples=64, vocab=VOCAB[:5] + VOCAB[5:][::-1])  # same size, other ids
    replaced = base / "replaced_vocab"
    shutil.copytree(tiny_data, replaced)
    (replaced / "vocab.txt").write_text(vocabulary.vocab_text(VOCAB[:5] + VOCAB[5:][::-1]))
    (base / "no_manifest").mkdir()
    (base / "no_manifest" / "train-0.tfrecord").write_bytes(b"")
    (base / "a_file").write_text("not a directory\n")
    (base / "tabs.tsv").write_text("text\tlabel\nw1 w2\tlow\nw3\tw4\thigh\nw5\thigh\n")
    (base / "empty_label.csv").write_text("text,label\nw1 w2,low\nw3,\nw5,high\n")
    (base / "latin.csv").write_bytes(b"text,label\nw1,low\ncaf\xe9,high\n")
    return {"base": base, "pretrained": pretrained_run, "data": tiny_data, "finetuned": finetuned, "train": train,
            "relabelled": str(relabelled)}


def _pretrain_cases(s):
    b, pre, data = s["base"], s["pretrained"], s["data"]
    new = str(b / "new_run")
    return [
        (["--data", f"{b}/none-*", "--model_dir", new], "no files match", [new]),
        (["--data", f"{b}/no_manifest/train-*", "--model_dir", new], "manifest.json not found", [new]),
        (["--data", f"{b}/replaced_vocab/train-*", "--model_dir", new],
         "vocab.txt is not the vocabulary these files were made with", [new, f"{b}/replaced_vocab"]),
        (["--data", f"{b}/other_data/train-*", "--model_dir", pre],
         "holds a run made from other inputs: data (recorded", [pre]),
        (["--data", f"{b}/permuted/train-*", "--model_dir", new, "--init_checkpoint", pre],
         "was tokenized with another vocabulary", [new, pre]),
        (["--data", f"{data}/train-*", "--model_dir", s["finetuned"]], "holds the output of trainers.finetune",
         [s["finetuned"]]),
        (["--data", f"{data}/train-*", "--model_dir", f"{b}/a_file/run"], "a_file", [f"{b}/a_file"]),
        (["--data", f"{data}/train-*", "--model_dir", new, "--override=model.bogus=1"], "--config/--override", [new]),
        (["--data", f"{data}/train-*", "--model_dir", new, "--config=huge"], "unknown config preset 'huge'", [new]),
        (["--data", f"{data}/train-*", "--model_dir", new, f"--eval_data={b}/none-*"], "no files match", [new]),
        (["--data", f"{data}/train-*", "--model_dir", new, "--strategy=gpus"], "--strategy", [new]),
    ]


def test_pretrain_mistakes_are_one_line_and_change_nothing(setup, capsys):
    for argv, expected, watched in _pretrain_cases(setup):
        line = run_mistake(pretrain_main, argv + ["--strategy=cpu"] * ("--strategy=gpus" not in argv), capsys,
                           watched + [setup["data"]])
        assert expected in line, (argv, line)
    assert not os.path.exists(setup["base"] / "new_run")


def _finetune_cases(s):
    b, pre, ft = s["base"], s["pretrained"], s["finetuned"]
    new = str(b / "new_ft")

    def args(train=s["train"], model_dir=new, init=pre, *extra):
        return ["--task=classification", f"--init_checkpoint={init}", f"--model_dir={model_dir}",
                f"--train_file={train}", f"--eval_file={train}"] + FT + list(extra)
    return [
        # The same data with its labels renamed must not relabel the finished model.
        (args(s["relabelled"], ft), "holds a run made from other inputs: data (recorded", [ft]),
        (args(init=ft), "is a fine-tuning run", [ft, new]),
        (args(init=f"{b}/nowhere"), "no config.json beside it", [new]),
        (args(model_dir=pre), "holds the output of trainers.pretrain", [pre]),
        (args(train=str(b)), "is a directory", [new]),
        (args(train=str(b / "tabs.tsv")), "tabs.tsv, line 3: 3 fields where the header's 2 are expected", [new]),
        (args(train=str(b / "empty_label.csv")), "empty_label.csv, line 3: empty label", [new]),
        (args(train=str(b / "latin.csv")), "latin.csv, line 3: not UTF-8 text (byte 0xe9 at byte offset 21)", [new]),
        (args(s["train"], new, pre, "--text_columns=a,b,c"), "takes one or two columns", [new]),
        (args(s["train"], new, pre, "--label_column=stars"), "no column 'stars'", [new]),
        (args(s["train"], new, pre, "--override=task.bogus=1"), "--override", [new]),
        (args(s["train"], new, pre, "--seeds=0"), "--seeds must be >= 1", [new]),
    ]


def test_finetune_mistakes_are_one_line_and_change_nothing(setup, capsys):
    for argv, expected, watched in _finetune_cases(setup):
        line = run_mistake(finetune_main, argv, capsys, watched + [setup["pretrained"]])
        assert expected in line, (argv, line)
    assert not os.path.exists(setup["base"] / "new_ft")


def test_a_rerun_reports_finished_only_for_the_same_inputs_and_overwrite_replaces(setup, capsys):
    ft, pre = setup["finetuned"], setup["pretrained"]
    common = ["--task=classification", f"--init_checkpoint={pre}", f"--model_dir={ft}"] + FT
    before = snapshot(os.path.join(ft, "ckpt-2.index"))
    assert finetune_main(common + [f"--train_file={setup['train']}", f"--eval_file={setup['train']}"]) == 0
    assert "finished earlier" in capsys.readouterr().out
    assert snapshot(os.path.join(ft, "ckpt-2.index")) == before
    relabelled = setup["relabelled"]
    assert finetune_main(common + [f"--train_file={relabelled}", f"--eval_file={relabelled}", "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "--overwrite: replacing" in out and "labels.json" in out and "finished earlier" not in out
    assert run_files.read_labels(ft) == ["good", "terrible"]
    assert json.loads(open(os.path.join(ft, run_files.JOB)).read())["inputs"]["labels"] == ["good", "terrible"]
    # TINY_OVERRIDES keep the pre-trained run's shape: it was never touched.
    assert run_files.read_config(pre).train.num_steps == 4 and any("num_steps" in o for o in TINY_OVERRIDES)
