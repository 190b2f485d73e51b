import csv
import os
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from configs import get_config, with_vocab_size
from core import run_files
from models.finetuning_model import FinetuningModel
from pipelines.tokenization import Tokenizer
from tests.trainers.conftest import TINY_OVERRIDES, write_data
from trainers import finetune
from trainers.export import ExportError, export, main, text_encoder, version_dir
from trainers.model_loading import load_finetuned
from trainers.pretrain import write_run_files
from trainers.serving.classifier import TextClassifier
from trainers.text_features import encode_texts

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SEQ = 16
# A batch with an empty string, non-ASCII text and a text of more than SEQ tokens.
TEXTS = ["w1 w2 w3", "", "w4 Ünï w5 東京 😀", " ".join(f"w{i % 59}" for i in range(40)), "W7 w8"]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A sentiment-style run fine-tuned for 4 steps (random initialisation with the architecture and
    vocabulary of a tiny pre-training run: the export does not depend on the weights' origin),
    exported as version 1."""
    base = tmp_path_factory.mktemp("classifier")
    write_data(str(base / "data"), num_examples=8)
    pretrained = str(base / "pretrained")
    write_run_files(pretrained, with_vocab_size(get_config("tiny", TINY_OVERRIDES), 64),
                    run_files.read_manifest(str(base / "data")))
    rng = np.random.default_rng(0)
    rows = [(" ".join(f"w{(s + j) % 59}" for j in range(int(rng.integers(2, 20)))),
             "positive" if s < 30 else "negative") for s in rng.integers(0, 59, 24)]
    write_csv(base / "sentences.csv", ["sentence", "label"], rows)
    model_dir = str(base / "finetuned")
    finetune.main(["--task=classification", f"--init_checkpoint={pretrained}", "--random_init",
                   f"--model_dir={model_dir}", f"--train_file={base / 'sentences.csv'}",
                   f"--eval_file={base / 'sentences.csv'}", "--text_columns=sentence", "--label_column=label",
                   "--strategy=cpu", "--override=train.num_steps=4", f"--override=task.max_seq_length={SEQ}",
                   "--override=train.batch_size=8"])
    serving = str(base / "serving")
    version = export(model_dir, serving)
    return {"pretrained": pretrained, "model_dir": model_dir, "serving": serving, "version": version}


@pytest.fixture(scope="module")
def reference(run):
    """The fine-tuned model and the tokenizer of the fine-tuning data path, in this process."""
    return load_finetuned(run["model_dir"]), Tokenizer(os.path.join(run["model_dir"], "vocab.txt"), lowercase=True)


def expected_probabilities(reference, texts):
    """Label probabilities of the fine-tuned model on the fine-tuning data path's features."""
    model, tokenizer = reference
    features, _ = encode_texts(tokenizer, texts, None, SEQ)
    return tf.nn.softmax(model(features, training=False)["logits"]).numpy()


def test_signature_gives_the_fine_tuned_models_probabilities_and_label(run, reference):
    assert os.listdir(run["serving"]) == ["1"] and run["version"] == os.path.join(run["serving"], "1")
    serve = tf.saved_model.load(run["version"]).signatures["serving_default"]
    out = {k: v.numpy() for k, v in serve(text=tf.constant(TEXTS)).items()}
    expected = expected_probabilities(reference, TEXTS)
    np.testing.assert_allclose(out["probabilities"], expected, atol=1e-5)
    assert out["classes"].tolist() == [[b"negative", b"positive"]] * len(TEXTS)
    assert out["label"].tolist() == [[b"negative", b"positive"][i] for i in expected.argmax(-1)]
    alone = serve(text=tf.constant(TEXTS[2:3]))["probabilities"].numpy()  # padding does not matter
    np.testing.assert_allclose(alone[0], expected[2], atol=1e-5)
    assert serve(text=tf.constant([], tf.string))["probabilities"].shape == (0, 2)


def test_clean_process_replays_the_warmup_requests_and_classifies_sentences(run, reference, tmp_path):
    outputs = str(tmp_path / "outputs.npz")
    result = subprocess.run(
        [sys.executable, "-m", "trainers.serving_check", f"--saved_model={run['serving']}", "--replay_warmup",
         f"--outputs={outputs}", "--text=w1 w2 w3", "--text=Ünï w5"], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"loaded {run['version']} with tensorflow and tensorflow_text, no project code" in result.stdout
    assert "refused a request without 'text': TypeError" in result.stdout
    assert "refused a request with int32 'text': InvalidArgumentError" in result.stdout
    # Every warmup request's outputs equal the in-process model's; the requests hold one text,
    # then a batch with an empty, a non-ASCII and an overlong text.
    saved = np.load(outputs)
    requests = sorted({key.split("/")[0] for key in saved.files})
    assert requests == ["request0", "request1"]
    for request in requests:
        texts = [t.decode() for t in saved[f"{request}/input/text"]]
        np.testing.assert_allclose(saved[f"{request}/probabilities"],
                                   expected_probabilities(reference, texts), atol=1e-5)
    assert [len(t) for t in saved["request1/input/text"]][1] == 0
    expected = expected_probabilities(reference, ["w1 w2 w3", "Ünï w5"])
    for text, p in zip(["w1 w2 w3", "Ünï w5"], expected):
        label = ["negative", "positive"][p.argmax()]
        assert f"{label:>12s}  (negative {p[0]:.3f}  positive {p[1]:.3f})  {text}" in result.stdout


def test_saved_model_cli_lists_the_signature_with_dtypes_and_shapes(run):
    result = subprocess.run([sys.executable, "-m", "tensorflow.python.tools.saved_model_cli",  # saved_model_cli
                             "show", "--all", "--dir", run["version"]], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    signature = result.stdout.split("signature_def['serving_default']:")[1]
    found = re.findall(r"(inputs|outputs)\['(\w+)'\] tensor_info:\s+dtype: (\w+)\s+shape: (\S+)", signature)
    assert found == [("inputs", "text", "DT_STRING", "(-1)"), ("outputs", "classes", "DT_STRING", "(-1,"),
                     ("outputs", "label", "DT_STRING", "(-1)"), ("outputs", "probabilities", "DT_FLOAT", "(-1,")]
    assert signature.count("shape: (-1, 2)") == 2 and "tensorflow/serving/predict" in signature


def test_pair_regression_signature_gives_the_models_score(run, reference):
    config = run_files.read_config(run["model_dir"])
    model = FinetuningModel(config.encoder, "classification", 1)
    texts_b = TEXTS[::-1]
    tokenizer = reference[1]
    features, truncated = encode_texts(tokenizer, TEXTS, texts_b, SEQ)
    assert truncated == 2
    expected = model(features, training=False)["logits"].numpy()[:, 0]
    module = TextClassifier(model, text_encoder(run["model_dir"], SEQ), None, pair=True)
    assert [spec.name for spec in module.serve.input_signature] == ["text_a", "text_b"]
    out = module.serve(text_a=tf.constant(TEXTS), text_b=tf.constant(texts_b))
    assert list(out) == ["score"]
    np.testing.assert_allclose(out["score"].numpy(), expected, atol=1e-5)


def test_the_run_records_its_text_columns(run):
    config = run_files.read_config(run["model_dir"])
    assert (config.task.text_columns, config.task.label_column, config.task.num_texts) == ("sentence", "label", 1)


def test_versions_count_up_and_are_never_overwritten(run, tmp_path):
    base = tmp_path / "serving"
    assert version_dir(str(base), None) == str(base / "1")  # no directory yet
    for name in ("1", "3", "tmp-4-123", "notes"):
        (base / name).mkdir(parents=True)
    assert version_dir(str(base), None) == str(base / "4")
    assert version_dir(str(base), 2) == str(base / "2")
    with pytest.raises(ExportError, match=f"{base / '3'} exists; versions are never overwritten"):
        version_dir(str(base), 3)
    with pytest.raises(ExportError, match="positive integer"):
        version_dir(str(base), 0)
    # The command refuses before loading anything; the exported version is left as it was.
    before = sorted(os.listdir(run["version"]))
    with pytest.raises(ExportError, match="1 exists"):
        main([f"--model_dir={run['model_dir']}", f"--output={run['serving']}", "--version=1"])
    assert sorted(os.listdir(run["version"])) == before and os.listdir(run["serving"]) == ["1"]


def test_directories_that_cannot_be_exported_are_one_clear_error(run, tmp_path):
    with pytest.raises(run_files.RunFilesError, match=f"{tmp_path / 'config.json'} not found"):
        export(str(tmp_path), str(tmp_path / "serving"))
    (tmp_path / "seed_1").mkdir()
    with pytest.raises(run_files.RunFilesError, match=f"several seeds .* e.g. {tmp_path / 'seed_1'}"):
        export(str(tmp_path), str(tmp_path / "serving"))
    with pytest.raises(run_files.RunFilesError, match=f"no checkpoint in {run['pretrained']}"):
        export(run["pretrained"], str(tmp_path / "serving"))
    assert not os.path.exists(tmp_path / "serving")
