"""What cannot be converted is one line on stderr, naming the file and the variable or setting, and status 2."""
from __future__ import annotations

import json
import os
import shutil
import sys

import pytest
import tensorflow as tf

from core import cli
from tests.trainers.conftest import VOCAB
from tests.trainers.conversion_goldens import golden_dir
from trainers import convert
from trainers.pretrain import main as pretrain_main


def _error(capsys, *argv) -> str:
    """The one stderr line of a failed conversion."""
    assert cli.run(convert.main, list(argv)) == 2
    lines = capsys.readouterr().err.strip().split("\n")
    assert len(lines) == 1 and "error: " in lines[0], lines
    return lines[0]


def _copy(tmp_path, size="small", role="discriminator", name="disc") -> str:
    target = str(tmp_path / name)
    shutil.copytree(golden_dir(size, role), target)
    return target


def _edit_json(path, **changes) -> None:
    with open(path) as f:
        value = json.load(f)
    value.update(changes)
    with open(path, "w") as f:
        json.dump(value, f)


def test_missing_files(tmp_path, capsys):
    assert "nothing not found" in _error(capsys, f"--from={tmp_path / 'nothing'}", f"--to={tmp_path / 'out'}")
    disc = _copy(tmp_path)
    os.remove(os.path.join(disc, "model.safetensors"))
    assert f"{disc}: no model.safetensors or pytorch_model.bin" in _error(capsys, f"--from={disc}",
                                                                          f"--to={tmp_path / 'out'}")
    line = _error(capsys, f"--from={golden_dir('small')}", f"--to={tmp_path / 'out'}", f"--vocab={tmp_path / 'v.txt'}")
    assert f"{tmp_path / 'v.txt'} not found" in line


def test_unknown_architectures(tmp_path, capsys):
    for model_type in ("roberta", "deberta-v2"):
        disc = _copy(tmp_path, name=model_type)
        _edit_json(os.path.join(disc, "config.json"), model_type=model_type)
        line = _error(capsys, f"--from={disc}", f"--to={tmp_path / 'out'}")
        assert f"{disc}/config.json: model_type '{model_type}' is neither ELECTRA nor BERT" in line
    line = _error(capsys, f"--from={golden_dir('small', 'generator')}", f"--to={tmp_path / 'out'}")
    assert "this is a generator (ElectraForMaskedLM)" in line and "--generator" in line
    bert = tmp_path / "tf1_bert"
    os.makedirs(bert)
    tf.raw_ops.SaveV2(prefix=str(bert / "model.ckpt"), tensor_names=["bert/embeddings/word_embeddings"],
                      shape_and_slices=[""], tensors=[tf.zeros((64, 16))])
    line = _error(capsys, f"--from={bert / 'model.ckpt'}", f"--to={tmp_path / 'out'}")
    assert f"{bert / 'model.ckpt'}: no variable electra/embeddings/word_embeddings" in line and "under bert" in line


def test_shape_mismatch_names_the_variable_and_both_shapes(tmp_path, capsys):
    disc = _copy(tmp_path)
    _edit_json(os.path.join(disc, "config.json"), hidden_size=64)
    line = _error(capsys, f"--from={disc}", f"--to={tmp_path / 'out'}")
    assert (f"{disc}/model.safetensors: electra.embeddings_project.weight has shape (32, 16), but "
            f"{disc}/config.json gives (64, 16)") in line


def test_vocabulary_size_must_match_the_embeddings(tmp_path, capsys):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(VOCAB[:-1]) + "\n")
    line = _error(capsys, f"--from={golden_dir('small')}", f"--to={tmp_path / 'out'}", f"--vocab={vocab}")
    assert f"{vocab} has 63 tokens, but" in line and "electra.embeddings.word_embeddings.weight has 64 rows" in line


@pytest.mark.parametrize("setting, message", [
    ({"strip_accents": False}, "strip_accents=False with do_lower_case=True cannot be represented"),
    ({"pad_token": "<pad>"}, "pad_token '<pad>' cannot be represented"),
    ({"tokenizer_class": "DebertaV2Tokenizer"}, "tokenizer_class 'DebertaV2Tokenizer' cannot be represented"),
    ({"tokenize_chinese_chars": False}, "tokenize_chinese_chars=False cannot be represented"),
])
def test_tokenizer_settings_that_cannot_be_represented(tmp_path, capsys, setting, message):
    disc = _copy(tmp_path)
    _edit_json(os.path.join(disc, "tokenizer_config.json"), **setting)
    assert f"{disc}/tokenizer_config.json: {message}" in _error(capsys, f"--from={disc}", f"--to={tmp_path / 'o'}")


def test_pytorch_bin_needs_torch_and_says_so(tmp_path, capsys, monkeypatch):
    disc = _copy(tmp_path)
    os.remove(os.path.join(disc, "model.safetensors"))
    open(os.path.join(disc, "pytorch_model.bin"), "wb").close()
    monkeypatch.setitem(sys.modules, "torch", None)  # as if torch were not installed
    line = _error(capsys, f"--from={disc}", f"--to={tmp_path / 'out'}")
    assert f"{disc}/pytorch_model.bin: reading pytorch_model.bin needs PyTorch (pip install torch)" in line


def test_runs_that_electra_formats_cannot_hold(tmp_path, capsys):
    run = str(tmp_path / "run")
    assert cli.run(convert.main, [f"--from={golden_dir('small')}", f"--to={run}"]) == 0
    capsys.readouterr()
    assert f"--to {run} is not empty (it holds checkpoint, ckpt-0.data-00000-of-00001, ckpt-0.index, config.json ...)" \
        in _error(capsys, f"--from={golden_dir('small')}", f"--to={run}")
    _edit_json(os.path.join(run, "data.json"), tokenizer={"type": "sentencepiece", "file": "spm.model"})
    line = _error(capsys, f"--from={run}", f"--to={tmp_path / 'hf'}")
    assert f"{run}/data.json: the sentencepiece tokenizer (spm.model) cannot be represented" in line
    with open(os.path.join(run, "config.json")) as f:
        config = json.load(f)
    config["model"]["objective"] = "replace_mlm"
    with open(os.path.join(run, "config.json"), "w") as f:
        json.dump(config, f)
    line = _error(capsys, f"--from={run}", f"--to={tmp_path / 'hf'}")
    assert f"{run}/config.json: model objective 'replace_mlm'" in line
    assert "no ELECTRA or BERT checkpoint format holds it" in line
    config["model"]["objective"] = "mlm"  # BERT's layout, but its embeddings are narrower than its hidden width
    with open(os.path.join(run, "config.json"), "w") as f:
        json.dump(config, f)
    line = _error(capsys, f"--from={run}", f"--to={tmp_path / 'hf'}")
    assert f"{run}/config.json: model embedding_size 16 != hidden_size 32" in line


def test_pretrain_refuses_init_checkpoint_on_a_converted_run(tiny_data, tmp_path, capsys):
    run = str(tmp_path / "run")
    assert cli.run(convert.main, [f"--from={golden_dir('small')}", f"--to={run}"]) == 0
    with pytest.raises(cli.UserError, match="holds converted weights .* give one of the two"):
        pretrain_main(["--data", os.path.join(tiny_data, "train-*"), "--model_dir", run,
                       "--init_checkpoint", golden_dir("small")])
