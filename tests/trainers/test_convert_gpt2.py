"""Hugging Face GPT-2 in and out: logits within 1e-4 of transformers (golden files of
tests/goldens/make_gpt2_goldens.py), GPT-2's tokenization in the graph, weights written back unchanged."""
import json
import os
import shutil

import numpy as np
import pytest
import safetensors.numpy
import sentencepiece

from core import run_files
from core.cli import UserError
from pipelines.tokenization import Tokenizer
from trainers.conversion import gpt2
from trainers.convert import main as convert_main
from trainers.model_loading import load_causal_lm

GOLDEN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "goldens", "huggingface", "gpt2")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("gpt2_run"))
    assert convert_main(["--from", GOLDEN, "--to", run_dir]) == 0
    return run_dir


def _expected():
    with np.load(os.path.join(GOLDEN, "expected.npz")) as data:
        return dict(data)


def test_imported_logits_and_token_ids_equal_transformers(converted):
    expected = _expected()
    model, settings = load_causal_lm(converted)
    assert settings.special_token_ids == {"eos": 999} and settings.vocab_size == 1000
    tokenizer = Tokenizer(os.path.join(converted, run_files.SENTENCEPIECE_MODEL), lowercase=False)
    texts = [str(t) for t in expected["texts"]]
    for i, ids in enumerate(tokenizer.tokenize_lines(texts)):
        assert ids == expected[f"ids_{i}"].tolist(), texts[i]
        logits = np.asarray(model(np.array([ids], "int32")))[0]
        assert np.abs(logits - expected[f"logits_{i}"]).max() < 1e-4


def test_exported_weights_and_tokenizer_files_are_the_originals(converted, tmp_path):
    assert convert_main(["--from", converted, "--to", str(tmp_path / "out")]) == 0
    def load(path):
        return safetensors.numpy.load(open(os.path.join(path, "model.safetensors"), "rb").read())
    original, written = load(GOLDEN), load(tmp_path / "out")
    assert sorted(written) == sorted(original)
    for key in original:
        np.testing.assert_array_equal(written[key], original[key], err_msg=key)
    config = json.load(open(tmp_path / "out" / "config.json"))
    golden_config = json.load(open(os.path.join(GOLDEN, "config.json")))
    for key in ("model_type", "vocab_size", "n_embd", "n_layer", "n_head", "n_positions", "activation_function",
                "layer_norm_epsilon", "tie_word_embeddings"):
        assert config[key] == golden_config[key], key
    for name in ("vocab.json", "merges.txt"):
        assert open(tmp_path / "out" / name, "rb").read() == open(os.path.join(GOLDEN, name), "rb").read()


def test_the_converted_tokenizer_decodes_to_the_text(converted):
    processor = sentencepiece.SentencePieceProcessor(model_file=os.path.join(converted, run_files.SENTENCEPIECE_MODEL))
    text = "It's 42 naïve cafés."
    assert processor.decode(processor.encode(text)) == text


def test_a_gpt2_converts_between_huggingface_and_run_only(converted, tmp_path):
    with pytest.raises(UserError, match="converts between huggingface and run only"):
        convert_main(["--from", converted, "--to", str(tmp_path / "tf1"), "--to_format=tf1"])


def test_an_untied_output_layer_or_another_activation_is_refused(converted, tmp_path):
    source = tmp_path / "bad"
    shutil.copytree(GOLDEN, source)
    config = json.load(open(source / "config.json"))
    json.dump(dict(config, activation_function="relu"), open(source / "config.json", "w"))
    with pytest.raises(UserError, match="activation_function 'relu'"):
        gpt2.import_huggingface(str(source), str(tmp_path / "run1"))
    json.dump(config, open(source / "config.json", "w"))
    tensors = safetensors.numpy.load(open(source / "model.safetensors", "rb").read())
    tensors["lm_head.weight"] = tensors["transformer.wte.weight"] + 1
    open(source / "model.safetensors", "wb").write(safetensors.numpy.save(tensors))
    with pytest.raises(UserError, match="untied output layer"):
        gpt2.import_huggingface(str(source), str(tmp_path / "run2"))
