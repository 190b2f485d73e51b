"""Users' mistakes with trainers.convert: one stderr line naming the path or flag and the problem,
status 2, and the directories untouched (nothing is written for a refused conversion)."""
from __future__ import annotations

import json
import os
import shutil

import pytest
import tensorflow as tf

from tests import mistakes
from tests.trainers.conversion_goldens import golden_dir
from tests.trainers.test_convert_tf1 import release_variables, save
from trainers import convert


@pytest.fixture(scope="module")
def paths(tmp_path_factory) -> dict:
    """Copies of the small Hugging Face goldens, damaged ones, a TF1 checkpoint and a plain file."""
    tmp = tmp_path_factory.mktemp("convert_mistakes")
    (tmp / "file").write_text("not a directory\n")
    for name in ("disc", "truncated_config", "list_config", "truncated_weights"):
        shutil.copytree(golden_dir("small", "discriminator"), tmp / name)
    shutil.copytree(golden_dir("small"), tmp / "pair")  # discriminator/ and generator/
    for name in ("bert", "bert_tokens", "roberta"):
        shutil.copytree(golden_dir("bert", "model"), tmp / name)
    _edit_config(tmp / "bert_tokens", architectures=["BertForTokenClassification"])
    _edit_config(tmp / "roberta", model_type="roberta")
    (tmp / "truncated_config" / "config.json").write_text('{"model_type": "elec')
    (tmp / "list_config" / "config.json").write_text('["electra"]')
    weights = tmp / "truncated_weights" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    (tmp / "tf1").mkdir()
    tf.raw_ops.SaveV2(prefix=str(tmp / "tf1" / "model.ckpt"), tensor_names=["electra/embeddings/word_embeddings"],
                      shape_and_slices=[""], tensors=[tf.zeros((64, 16))])
    save(str(tmp / "damaged_tf1"), release_variables("small"), slots=False)
    data = tmp / "damaged_tf1" / "model.ckpt.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:len(data.read_bytes()) // 2])
    (tmp / "bad_tf1").mkdir()
    (tmp / "bad_tf1" / "model.ckpt.index").write_bytes(b"\x00" * 7)
    (tmp / "data").mkdir()  # what --to must not be: a directory with files in it
    (tmp / "data" / "vocab.txt").write_text("[PAD]\n")
    (tmp / "vocab_dir").mkdir()
    return {"tmp": str(tmp), **{name: str(tmp / name) for name in os.listdir(tmp)}}


def _edit_config(directory, **changes) -> None:
    path = directory / "config.json"
    path.write_text(json.dumps(dict(json.loads(path.read_text()), **changes)))


CASES = {
    "from missing": (["--from={tmp}/none", "--to={tmp}/out"], ["{tmp}/none not found (--from"]),
    "to is a file": (["--from={disc}", "--to={file}"], ["--to {file} is a file; give a directory"]),
    "to under a file": (["--from={disc}", "--to={file}/run"], ["--to {file}/run is under {file}, a file"]),
    "to holds files": (["--from={disc}", "--to={data}"], ["--to {data} is not empty (it holds vocab.txt)"]),
    "truncated config.json": (["--from={truncated_config}", "--to={tmp}/out"],
                              ["{truncated_config}/config.json: not valid JSON"]),
    "config.json not an object": (["--from={list_config}", "--to={tmp}/out"],
                                  ["{list_config}/config.json: expected a JSON object, found list"]),
    "truncated safetensors": (["--from={truncated_weights}", "--to={tmp}/out"],
                              ["{truncated_weights}/model.safetensors: not a readable safetensors file"]),
    "vocab is a directory": (["--from={disc}", "--to={tmp}/out", "--vocab={vocab_dir}"],
                             ["{vocab_dir} is a directory: give the vocabulary file"]),
    "generator missing": (["--from={disc}", "--generator={tmp}/gen", "--to={tmp}/out"],
                          ["{tmp}/gen/config.json not found: not a Hugging Face model directory"]),
    "corrupt tf1 index": (["--from={bad_tf1}/model.ckpt", "--to={tmp}/out"],
                          ["{bad_tf1}/model.ckpt: not a readable checkpoint"]),
    "damaged tf1 data": (["--from={damaged_tf1}", "--to={tmp}/out"], ["{damaged_tf1}/model.ckpt: ",
                                                                      "cannot be read, the checkpoint is damaged"]),
    "run format of a Hugging Face directory": (["--from={disc}", "--from_format=run", "--to={tmp}/out"],
                                               ["{disc}: not a run directory of trainers.pretrain"]),
    "num_heads for a Hugging Face model": (["--from={disc}", "--to={tmp}/out", "--num_heads=4"],
                                           ["--num_heads applies to tf1 sources only; --from {disc} is huggingface"]),
    "generator for a tf1 checkpoint": (["--from={tf1}/model.ckpt", "--generator={pair}/generator", "--to={tmp}/out"],
                                       ["--generator applies to huggingface sources only"]),
    "generator_size with a generator": (["--from={pair}", "--to={tmp}/out", "--generator_size=0.5"],
                                        ["{pair}/generator/config.json: --generator_size sizes a new generator"]),
    "generator_size 0": (["--from={disc}", "--to={tmp}/out", "--generator_size=0"],
                         ["--generator_size must be in (0, 1]", "got 0.0"]),
    "unknown format": (["--from={disc}", "--to={tmp}/out", "--to_format=onnx"],
                       ["argument --to_format: invalid choice: 'onnx'"]),
    "model_type neither ELECTRA nor BERT": (["--from={roberta}", "--to={tmp}/out"], [
        "{roberta}/config.json: model_type 'roberta' is neither ELECTRA nor BERT"]),
    "a BERT task head not read": (["--from={bert_tokens}", "--to={tmp}/out"],
                                  ["{bert_tokens}/config.json: BertForTokenClassification cannot be converted"]),
    "generator beside a BERT": (["--from={bert}", "--generator={pair}/generator", "--to={tmp}/out"],
                                ["{bert}/config.json: a BERT model has no generator"]),
    "a BERT as the generator": (["--from={disc}", "--generator={bert}", "--to={tmp}/out"],
                                ["{bert}/config.json: a BERT model is not an ELECTRA generator"]),
}


@pytest.mark.parametrize("case", CASES)
def test_convert_mistakes(paths, capsys, case):
    argv, expected = CASES[case]
    argv = [a.format(**paths) for a in argv]
    watched = [paths[name] for name in ("disc", "pair", "data", "file", "vocab_dir", "tf1", "bert")] + [
        paths["tmp"] + "/out"]
    line = mistakes.run_mistake(convert.main, argv, capsys, watched=watched)
    for text in expected:
        assert text.format(**paths) in line, (argv, line)
