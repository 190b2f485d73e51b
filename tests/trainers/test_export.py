import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from core import run_files, vocabulary
from pipelines import build_vocab, tokenization
from tests.trainers.conftest import SEQ, TINY_OVERRIDES, write_data
from trainers.export import ExportError, export
from trainers.model_loading import load_pretrainer
from trainers.pretrain import main as pretrain_main
from trainers.text_features import encode_texts

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def exported(pretrained_run, tmp_path_factory):
    serving = str(tmp_path_factory.mktemp("serving"))
    output = export(pretrained_run, serving)
    assert output == os.path.join(serving, "1")
    return pretrained_run, output


def test_signature_tokenizes_raw_text_and_matches_the_trained_discriminator(exported):
    model_dir, output = exported
    serve = tf.saved_model.load(output).signatures["serving_default"]
    texts = ["w1 w2 w3 w7", "W10 w11 unknownword", " ".join(f"w{i % 59}" for i in range(100))]
    out = {k: v.numpy() for k, v in serve(text=tf.constant(texts)).items()}

    assert out["tokens"].shape == (3, SEQ)  # the long text is truncated to max_seq_length
    assert [t.decode() for t in out["tokens"][0][:6]] == ["[CLS]", "w1", "w2", "w3", "w7", "[SEP]"]
    assert [t.decode() for t in out["tokens"][1][:5]] == ["[CLS]", "w10", "w11", "[UNK]", "[SEP]"]
    np.testing.assert_array_equal(out["input_mask"].sum(1), [6, 5, SEQ])
    assert out["token_ids"][2, SEQ - 1] == 3 and out["tokens"][0][6] == b""
    assert (out["replaced_probability"][out["input_mask"] == 0] == 0).all()

    pretrainer, _ = load_pretrainer(model_dir)
    ids, mask = out["token_ids"], out["input_mask"]
    logits = pretrainer.discriminate(ids, mask, np.zeros_like(ids), training=False)
    expected = tf.sigmoid(logits).numpy() * mask
    np.testing.assert_allclose(out["replaced_probability"], expected, atol=1e-6)


def test_serving_check_runs_in_a_process_without_project_code(exported, tmp_path):
    model_dir, output = exported
    outputs = str(tmp_path / "outputs.npz")
    result = subprocess.run(
        [sys.executable, "-m", "trainers.serving_check", f"--saved_model={output}", "--text=w1 w2 w3 w4",
         "--swap=w3:w40", "--replay_warmup", f"--outputs={outputs}"], cwd=REPO, capture_output=True, text=True,
        timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "no project code" in result.stdout
    assert "w40" in result.stdout and "<- swapped in" in result.stdout
    assert "mean replaced probability: swapped-in token(s)" in result.stdout
    assert "refused a request with int32 'text'" in result.stdout

    # Warmup requests replayed there: the fine-tuning data path's ids, the in-process discriminator's
    # probabilities (one text; a batch with empty, non-ASCII and overlong texts).
    saved = np.load(outputs)
    pretrainer, _ = load_pretrainer(model_dir)
    tokenizer = tokenization.Tokenizer(os.path.join(model_dir, "vocab.txt"), lowercase=True)
    for request in ("request0", "request1"):
        texts = [t.decode() for t in saved[f"{request}/input/text"]]
        ids, mask = saved[f"{request}/token_ids"], saved[f"{request}/input_mask"]
        expected, _ = encode_texts(tokenizer, texts, None, SEQ)
        np.testing.assert_array_equal(ids, expected["input_ids"][:, :ids.shape[1]])
        np.testing.assert_array_equal(mask.sum(1), expected["input_mask"].sum(1))
        logits = pretrainer.discriminate(ids, mask, np.zeros_like(ids), training=False)
        np.testing.assert_allclose(saved[f"{request}/replaced_probability"], tf.sigmoid(logits).numpy() * mask,
                                   atol=1e-6)
    lengths = saved["request1/input_mask"].sum(1).tolist()
    assert lengths[1] == 2 and lengths[3] == SEQ  # "" is [CLS] [SEP]; the long text is cut


def test_sentencepiece_data_exports_with_its_model_in_the_graph(exported, tmp_path):
    # Data tokenized with a SentencePiece model of the data's 64-token size.
    data = tmp_path / "data"
    manifest = write_data(str(data), num_examples=32)
    rng = np.random.default_rng(0)
    lines = [" ".join(f"w{(start + j) % 59}" for j in range(int(rng.integers(5, 20))))
             for start in rng.integers(0, 59, 3000)]
    (data / "spm.model").write_bytes(build_vocab.learn_sentencepiece(lines, 64, lowercase=True))
    pieces = vocabulary.read(str(data / "spm.model")).pieces
    (data / "vocab.txt").write_text("".join(piece + "\n" for piece in pieces))
    tokenizer = run_files.TokenizerSettings.of_vocabulary(vocabulary.read(str(data / "spm.model")), True, SEQ)
    run_files.write_manifest(str(data), dataclasses.replace(manifest, tokenizer=tokenizer))
    model_dir = str(tmp_path / "model")
    overrides = [o for o in TINY_OVERRIDES if "num_steps" not in o] + ["train.num_steps=2"]
    pretrain_main(["--data", str(data / "train-*"), "--model_dir", model_dir, "--strategy", "cpu"]
                  + [f"--override={o}" for o in overrides])
    output = export(model_dir, os.path.join(model_dir, "serving"))

    serve = tf.saved_model.load(output).signatures["serving_default"]
    out = serve(text=tf.constant(["W1 w2 w3 w7"]))
    mask = out["input_mask"][0].numpy().astype(bool)
    # Built after training: its seeding (tf.random.set_seed) clears TensorFlow's
    # eager kernel cache, which owns tf_text's SentencePiece model resource.
    tokenizer = tokenization.Tokenizer(str(data / "spm.model"), lowercase=True)
    [ids] = tokenizer.tokenize_lines(["w1 w2 w3 w7"])  # lower-cased in the graph too
    assert len(ids) >= 4 and 1 not in ids  # pieces, not [UNK]
    assert out["token_ids"][0].numpy()[mask].tolist() == [2] + ids + [3]
    assert [t.decode() for t in out["tokens"][0].numpy()[mask]] == [
        tokenizer.vocab[i] for i in [2] + ids + [3]]
    # Its SavedModel records the tokenizer it serves; another model's base directory refuses it.
    record = run_files.read_export_record(output)
    assert record["tokenizer"]["vocab_fingerprint"] == tokenizer_fingerprint(model_dir)
    assert record["kind"] == "pre-training" and record["labels"] is None
    base = os.path.dirname(exported[1])
    with pytest.raises(ExportError, match=r"version 1 serves another model \(.*vocab_fingerprint"):
        export(model_dir, base)
    assert os.listdir(base) == ["1"]
    assert export(exported[0], base) == os.path.join(base, "2")  # the same run: a new version


def tokenizer_fingerprint(model_dir: str) -> str:
    return run_files.read_tokenizer(model_dir).vocab_fingerprint
