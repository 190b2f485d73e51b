"""Fine-tuning: text layout, metrics, layer-wise rates, and runs of trainers.finetune on tiny data."""
import json
import os
import re
from types import SimpleNamespace

import keras
import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm

from configs import EncoderConfig, finetune_config, resolve_steps
from core import run_files
from models.finetuning_model import FinetuningModel
from pipelines.tokenization import Tokenizer
from tests.trainers.conftest import TINY_OVERRIDES, VOCAB, write_word_task
from trainers.finetune import main as finetune_main
from trainers.optimization import make_optimizer
from trainers.tasks import classification_metrics as cm
from trainers.tasks import glue_data
from trainers.tasks.classification import ClassificationTask
from trainers.tasks.labelled_files import read_labelled_texts
from trainers.tasks.finetuning import layerwise_multipliers
from trainers.text_features import encode_texts, truncated_lengths

TINY_FT = ["task.max_seq_length=16", "train.batch_size=8", "train.learning_rate=1e-3"]


def _pop_loop(a, b, budget):
    while a + b > budget:
        if a > b:
            a -= 1
        else:
            b -= 1
    return a, b


def test_pair_truncation_equals_berts_loop():
    for a in range(0, 14):
        for b in range(0, 14):
            for budget in range(1, 20):
                assert truncated_lengths(a, b, budget) == _pop_loop(a, b, budget), (a, b, budget)


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    path = tmp_path_factory.mktemp("vocab") / "vocab.txt"
    path.write_text("\n".join(VOCAB) + "\n")
    return Tokenizer(str(path), lowercase=True)


def test_texts_and_pairs_take_berts_layout(tokenizer):
    w = {f"w{i}": 5 + i for i in range(59)}
    features, truncated = encode_texts(tokenizer, ["w1 w2", "w3 w4 w5 w6 w7 w8 w9"], ["w10", "W11 w12"], 8)
    assert truncated == 1
    np.testing.assert_array_equal(features["input_ids"], [
        [2, w["w1"], w["w2"], 3, w["w10"], 3, 0, 0],
        [2, w["w3"], w["w4"], w["w5"], 3, w["w11"], w["w12"], 3]])  # the longer text lost tokens
    np.testing.assert_array_equal(features["segment_ids"], [[0, 0, 0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 1, 1, 1]])
    np.testing.assert_array_equal(features["input_mask"].sum(1), [6, 8])
    single, _ = encode_texts(tokenizer, ["w1 w2", ""], None, 5)
    np.testing.assert_array_equal(single["input_ids"], [[2, w["w1"], w["w2"], 3, 0], [2, 3, 0, 0, 0]])


def test_metrics_equal_independent_implementations():
    rng = np.random.default_rng(0)
    labels, predictions = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    predictions[:300] = labels[:300]
    assert cm.matthews_correlation(predictions, labels) == pytest.approx(skm.matthews_corrcoef(labels, predictions))
    assert cm.binary_f1(predictions, labels) == pytest.approx(skm.f1_score(labels, predictions))
    three, guess = rng.integers(0, 3, 300), rng.integers(0, 3, 300)
    assert cm.macro_f1(guess, three, 3) == pytest.approx(skm.f1_score(three, guess, average="macro"))
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    assert cm.pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    ranks = lambda v: np.argsort(np.argsort(v))  # noqa: E731 (no ties in continuous draws)
    assert cm.spearman(x, y) == pytest.approx(np.corrcoef(ranks(x), ranks(y))[0, 1])
    assert cm.matthews_correlation(np.ones(5), np.ones(5)) == 0.0  # undefined -> 0, as GLUE's scorer


@pytest.mark.parametrize("mode, extra", [("release", 1), ("paper", 0)])
def test_layerwise_learning_rate_of_every_variable(mode, extra):
    """One AdamW step with equal gradients g moves each variable by lr x its multiplier x 0.1 g / (sqrt(0.001) g + eps)
    (the release's AdamW has no bias correction); the multiplier comes from the variable's depth."""
    encoder = EncoderConfig(vocab_size=20, embedding_size=8, hidden_size=16, num_layers=3, num_heads=2,
                            intermediate_size=32, max_position_embeddings=16)
    config = finetune_config("sst2", encoder, [f"layerwise_depths={mode}", "layerwise_lr_decay=0.5"])
    assert config.train.learning_rate == 3e-4 and config.train.weight_decay == 0 and config.epochs == 3
    keras.utils.set_random_seed(0)
    model = FinetuningModel(config.encoder, "classification", 2)
    ids = np.ones((1, 4), np.int32)
    model({"input_ids": ids, "input_mask": ids, "segment_ids": 0 * ids})
    multipliers = layerwise_multipliers(model.layer_depths(), 4, 0.5, mode)
    variables = model.trainable_variables
    expected = []
    for v in variables:
        if "classifier" in v.path:
            expected.append(1.0)
        elif re.search(r"/layer_\d+/", v.path):
            i = int(re.search(r"/layer_(\d+)/", v.path).group(1))
            expected.append(0.5 ** (3 - i + extra))  # top layer (i = 2): 0.5^(1 + extra)
        else:  # embeddings and their projection
            expected.append(0.5 ** (4 + extra))
    assert multipliers == expected and len(set(expected)) == 5
    optimizer = make_optimizer(resolve_steps(config, 1000).train, multipliers)
    optimizer.build(variables)
    before = [np.asarray(v.numpy()) for v in variables]
    optimizer.iterations.assign(47)  # past warmup (9 of 94 steps): lr = 3e-4 x (1 - 47 / 94)
    g = 0.5 / np.sqrt(sum(np.prod(v.shape) for v in variables))  # global norm 0.5: no clipping
    optimizer.apply([np.full(v.shape, g, np.float32) for v in variables], variables)
    unit = 3e-4 * 0.5 * 0.1 * g / (np.sqrt(0.001) * g + 1e-6)
    for v, b, m in zip(variables, before, expected):
        ulp = np.spacing(np.abs(b).max().astype(np.float32))  # rounding of w - update in float32
        np.testing.assert_allclose(b - v.numpy(), unit * m, rtol=1e-4, atol=ulp, err_msg=v.path)


def test_defaults_follow_the_paper_by_size_and_task():
    large = EncoderConfig(hidden_size=1024, num_heads=16, num_layers=24, embedding_size=1024,
                          intermediate_size=4096)
    config = finetune_config("rte", large)
    assert (config.train.learning_rate, config.layerwise_lr_decay, config.epochs) == (5e-5, 0.9, 10)
    assert finetune_config("squad_v2", EncoderConfig(hidden_size=768, num_heads=12)).task.max_seq_length == 512
    assert finetune_config("stsb", EncoderConfig(max_position_embeddings=128)).task.max_seq_length == 128
    steps = resolve_steps(finetune_config("sst2", EncoderConfig()), 1000)
    assert (steps.train.num_steps, steps.train.warmup_steps) == (94, 9)  # ceil(3 x 1000 / 32), 10%
    with pytest.raises(ValueError, match="cannot be overridden"):
        finetune_config("sst2", EncoderConfig(), ["encoder.hidden_size=128"])
    with pytest.raises(ValueError, match="unknown config key"):
        finetune_config("sst2", EncoderConfig(), ["train.lerning_rate=1"])


def _finetune(pretrained, model_dir, train, evaluation, extra=()):
    args = ["--task=classification", "--init_checkpoint", pretrained, "--model_dir", str(model_dir),
            "--train_file", train, "--eval_file", evaluation, "--text_columns=text", "--label_column=label",
            "--strategy=cpu"] + [f"--override={o}" for o in TINY_FT] + list(extra)
    assert finetune_main(args) == 0


def test_finetuning_learns_a_separable_task_and_reports_seeds(pretrained_run, tmp_path, capsys):
    train = write_word_task(tmp_path / "train.csv", 160)
    dev = write_word_task(tmp_path / "dev.csv", 40, seed=1)
    model_dir = tmp_path / "ft"
    _finetune(pretrained_run, model_dir, train, dev, ["--seeds=2", "--override=epochs=4", "--predict_file", dev])
    out = capsys.readouterr().out
    assert "encoder initialised from" in out and "majority_class_accuracy" in out
    results = json.loads((model_dir / "results.json").read_text())
    accuracy = results["summary"]["eval"]["accuracy"]
    assert len(accuracy["runs"]) == 2 and accuracy["median"] == pytest.approx(np.median(accuracy["runs"]))
    assert accuracy["best"] == max(accuracy["runs"]) and min(accuracy["runs"]) > 0.85
    assert json.loads((model_dir / "seed_12345" / "labels.json").read_text()) == ["high", "low"]
    # The run's files, read back through core/run_files.py, agree with each other and the pre-trained run.
    run = str(model_dir / "seed_12345")
    config, tokenizer = run_files.read_config(run), run_files.read_tokenizer(run)
    assert tokenizer.max_seq_length == config.task.max_seq_length == 16
    assert (config.task.text_columns, config.task.label_column) == ("text", "label")
    assert tokenizer.vocab_size == config.encoder.vocab_size == len(run_files.read_vocabulary(run, tokenizer).pieces)
    assert tokenizer.vocab_fingerprint == run_files.read_tokenizer(pretrained_run).vocab_fingerprint
    assert len(run_files.read_labels(run)) == 2
    predictions = (model_dir / "seed_12346" / "predictions" / "dev.predictions.tsv").read_text().splitlines()
    assert predictions[0] == "id\tprediction\tp_high\tp_low" and len(predictions) == 41

    # --eval_only reproduces the stored evaluation exactly.
    stored = json.loads((model_dir / "seed_12345" / "eval_results.json").read_text())
    assert finetune_main(["--task=classification", "--model_dir", str(model_dir), "--eval_only", "--seeds=2",
                          "--eval_file", dev, "--text_columns=text", "--label_column=label", "--strategy=cpu"]) == 0
    again = json.loads((model_dir / "seed_12345" / "eval_results.json").read_text())
    assert again["eval"]["accuracy"] == stored["eval"]["accuracy"]
    assert again["eval"]["loss"] == pytest.approx(stored["eval"]["loss"], rel=1e-6)


def test_random_initialisation_baseline_uses_the_same_architecture(pretrained_run, tmp_path, capsys):
    train = write_word_task(tmp_path / "train.csv", 40, pair=True, header=("a", "b", "label"))
    args = ["--task=classification", "--init_checkpoint", pretrained_run, "--random_init",
            "--model_dir", str(tmp_path / "random"), "--train_file", train, "--eval_file", train,
            "--text_columns=a,b", "--label_column=label", "--strategy=cpu",
            "--override=train.num_steps=2"] + [f"--override={o}" for o in TINY_FT]
    assert finetune_main(args) == 0
    assert "random initialisation" in capsys.readouterr().out
    config = json.loads((tmp_path / "random" / "config.json").read_text())
    pretrained = json.loads(open(os.path.join(pretrained_run, "config.json")).read())
    assert config["encoder"]["hidden_size"] == pretrained["model"]["encoder"]["hidden_size"]
    assert config["encoder"]["dropout_rate"] == 0.1 and config["train"]["num_steps"] == 2


def test_user_data_mistakes_are_clear_errors(pretrained_run, tmp_path):
    train = write_word_task(tmp_path / "train.csv", 20)
    bad_label = tmp_path / "dev.csv"
    bad_label.write_text("text,label\nw1 w2,low\nw3 w4,medium\n")
    common = ["--task=classification", "--init_checkpoint", pretrained_run, "--model_dir", str(tmp_path / "m"),
              "--strategy=cpu"]
    with pytest.raises(ValueError, match=r"dev.csv, line 3: label 'medium' was not seen in the training data"):
        finetune_main(common + ["--train_file", train, "--eval_file", str(bad_label), "--text_columns=text",
                                "--label_column=label"])
    with pytest.raises(ValueError, match=r"train.csv: no column 'sentence'; its columns are 'text', 'label'"):
        finetune_main(common + ["--train_file", train, "--eval_file", train, "--text_columns=sentence",
                                "--label_column=label"])
    with pytest.raises(ValueError, match=r"missing.csv: file not found"):
        finetune_main(common + ["--train_file", str(tmp_path / "missing.csv"), "--eval_file", train,
                                "--text_columns=text", "--label_column=label"])
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text('{"text": "w1", "label": 1}\n{"text": "w2", "label": 0\n')
    with pytest.raises(ValueError, match=r"train.jsonl, line 2: not valid JSON"):
        finetune_main(common + ["--train_file", str(jsonl), "--eval_file", str(jsonl), "--text_columns=text",
                                "--label_column=label"])
    with pytest.raises(ValueError, match="no config.json beside it"):
        finetune_main(["--task=classification", "--init_checkpoint", str(tmp_path), "--model_dir",
                       str(tmp_path / "m"), "--train_file", train, "--eval_file", train, "--text_columns=text",
                       "--label_column=label"])
    empty = tmp_path / "empty.tsv"
    empty.write_text("text\tlabel\nw1 w2\tlow\n\thigh\nw40\thigh\n")
    data = read_labelled_texts(str(empty), ["text"], "label")
    assert (data.texts_a, data.labels, data.lines, data.empty) == (["w1 w2", "w40"], ["low", "high"], [2, 4], 1)
    assert "1 rows with an empty text" in data.report()


def test_labelled_files_refuse_bad_rows_unless_told_and_accept_a_spreadsheets_encoding(tmp_path):
    tsv = tmp_path / "train.tsv"
    tsv.write_text("text\tlabel\nw1 w2\tlow\nw3\tw4\thigh\nw5\t\nw6\thigh\n")
    with pytest.raises(ValueError, match=r"train.tsv, line 3: 3 fields where the header's 2 are expected "
                                         r"\(a delimiter inside a text\?\); fix the file, or pass --skip_bad_rows"):
        read_labelled_texts(str(tsv), ["text"], "label")
    tsv.write_text("text\tlabel\nw1 w2\tlow\nw5\t \nw6\thigh\n")
    with pytest.raises(ValueError, match=r"train.tsv, line 3: empty label"):
        read_labelled_texts(str(tsv), ["text"], "label")
    tsv.write_text("text\tlabel\nw1 w2\tlow\nw3\tw4\thigh\nw5\t\nw6\thigh\nw7\tlow\nw8\tlow\n")
    data = read_labelled_texts(str(tsv), ["text"], "label", skip_bad_rows=True)
    assert (data.texts_a, data.labels, data.malformed, data.first_malformed) == (
        ["w1 w2", "w6", "w7", "w8"], ["low", "high", "low", "low"], 2, 3)
    assert "2 bad rows left out (first at line 3)" in data.report()
    jsonl = tmp_path / "train.jsonl"
    jsonl.write_text('{"text": "w1", "label": 1}\n{"text": "w2", "label": null}\n')
    with pytest.raises(ValueError, match=r"train.jsonl, line 2: no label"):
        read_labelled_texts(str(jsonl), ["text"], "label")
    # A spreadsheet's export: byte-order mark, CRLF line ends, quoted fields.
    csv_file = tmp_path / "sheet.csv"
    csv_file.write_bytes("\ufeffsentence,label\r\n\"a, b\",positive\r\nc d,negative\r\n".encode("utf-8"))
    data = read_labelled_texts(str(csv_file), ["sentence"], "label")
    assert (data.texts_a, data.labels, data.lines) == (["a, b", "c d"], ["positive", "negative"], [2, 3])
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"text,label\nw1,low\ncaf\xe9,high\n")
    with pytest.raises(ValueError, match=r"latin.csv, line 3: not UTF-8 text \(byte 0xe9 at byte offset 21\)"):
        read_labelled_texts(str(latin), ["text"], "label")


def _write_tsv(path, header, rows):
    path.write_text("".join("\t".join(map(str, r)) + "\n" for r in ([header] if header else []) + rows))


def test_glue_files_are_read_by_column_and_predictions_take_the_servers_format(tmp_path):
    _write_tsv(tmp_path / "train.tsv", ["sentence", "label"], [["w1 w2 ' \" w3", 1], ["w4", 0]])
    sst = glue_data.read_split("sst2", str(tmp_path), "train")
    assert (sst.texts_a, sst.texts_b, sst.labels) == (["w1 w2 ' \" w3", "w4"], None, ["1", "0"])
    _write_tsv(tmp_path / "dev_mismatched.tsv",
               ["index", "promptID", "pairID", "genre", "sentence1", "sentence2", "label1", "gold_label"],
               [[0, 1, 2, "fiction", "w1 w2", "w3", "neutral", "neutral"], [1, 1, 2, "x", "w4", "w5", "a", "entailment"]])
    mnli = glue_data.read_split("mnli", str(tmp_path), "dev_mismatched")
    assert (mnli.texts_a, mnli.texts_b, mnli.labels) == (["w1 w2", "w4"], ["w3", "w5"], ["neutral", "entailment"])
    _write_tsv(tmp_path / "cola.tsv", None, [["gj04", 1, "", "w1 w2 w3"], ["gj04", 0, "*", "w3 w1"]])
    cola = glue_data.read_split("cola", "", "", path=str(tmp_path / "cola.tsv"))
    assert (cola.texts_a, cola.labels) == (["w1 w2 w3", "w3 w1"], ["1", "0"])
    _write_tsv(tmp_path / "test.tsv", ["index", "genre", "sentence1", "sentence2", "score"][:4],
               [[7, "news", "w1", "w2"], [9, "news", "", "w3"]])
    test = glue_data.read_split("stsb", "", "", labelled=False, path=str(tmp_path / "test.tsv"))
    assert test.ids == ["7", "9"] and test.empty == 1 and test.labels == [None, None]  # kept for the server
    glue_data.write_submission("stsb", test, [5.7, -0.2], str(tmp_path / "STS-B.tsv"))
    assert (tmp_path / "STS-B.tsv").read_text() == "index\tprediction\n7\t5.000\n9\t0.000\n"
    assert glue_data.submission_name("mnli", "glue/MNLI/test_mismatched.tsv") == "MNLI-mm.tsv"
    _write_tsv(tmp_path / "broken.tsv", ["index", "sentence1", "sentence2", "label"], [[0, "w1"], [1, "w2"], [2, "w3", "w4", "0"]])
    with pytest.raises(ValueError, match="broken.tsv, line 2: 2 of 3 rows are bad"):
        glue_data.read_split("rte", "", "", path=str(tmp_path / "broken.tsv"))


def test_stsb_regression_fine_tunes_and_its_metrics_match_its_predictions(pretrained_run, tmp_path):
    rng = np.random.default_rng(0)
    header = ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2"]

    def rows(count):
        out = []
        for i in range(count):
            a = [f"w{j}" for j in rng.integers(0, 59, 6)]
            overlap = int(rng.integers(0, 7))
            b = a[:overlap] + [f"w{j}" for j in rng.integers(0, 59, 6 - overlap)]
            out.append([i, "news", "f", 2012, i, "s", "s", " ".join(a), " ".join(b), f"{5 * overlap / 6:.2f}"])
        return out

    _write_tsv(tmp_path / "train.tsv", header + ["score"], rows(48))
    dev = rows(20)
    _write_tsv(tmp_path / "dev.tsv", header + ["score"], dev)
    _write_tsv(tmp_path / "test.tsv", header, [r[:-1] for r in dev])
    model_dir = tmp_path / "stsb"
    assert finetune_main(["--task=stsb", "--init_checkpoint", pretrained_run, "--model_dir", str(model_dir),
                          "--data_dir", str(tmp_path), "--strategy=cpu", "--predict_file", str(tmp_path / "test.tsv"),
                          "--override=train.num_steps=6"] + [f"--override={o}" for o in TINY_FT]) == 0
    results = json.loads((model_dir / "eval_results.json").read_text())["dev"]
    submission = (model_dir / "predictions" / "STS-B.tsv").read_text().splitlines()
    assert submission[0] == "index\tprediction" and [r.split("\t")[0] for r in submission[1:]] == [
        str(i) for i in range(20)]
    assert all(0 <= float(r.split("\t")[1]) <= 5 for r in submission[1:])  # clipped as the server wants
    assert set(results) >= {"pearson", "spearman", "mse", "loss", "examples"} and results["examples"] == 20
    assert results["loss"] == pytest.approx(results["mse"], rel=1e-5)  # the loss is the squared error


def test_evaluation_metrics_come_from_the_rows_in_example_order():
    """Rows arrive in any order (replicas); metrics use them sorted by example."""
    encoder = EncoderConfig(vocab_size=20, embedding_size=8, hidden_size=16, num_layers=1, num_heads=2,
                            intermediate_size=32, max_position_embeddings=16)
    rng = np.random.default_rng(0)
    order = rng.permutation(50)
    scores, targets = rng.normal(size=50), rng.normal(size=50)
    task = ClassificationTask(finetune_config("stsb", encoder), {}, 1)
    sums = {"loss_sum": np.float32(np.sum((scores - targets) ** 2)), "examples": np.float32(50)}
    rows = {"logits": scores[order, None], "label": targets[order], "example": order}
    metrics = task.evaluation_metrics(sums, rows, 0, "dev")
    assert metrics["pearson"] == pytest.approx(stats.pearsonr(scores, targets)[0])
    assert metrics["spearman"] == pytest.approx(stats.spearmanr(scores, targets)[0])
    assert metrics["mse"] == pytest.approx(metrics["loss"])
    logits, labels = rng.normal(size=(50, 2)), rng.integers(0, 2, 50)
    cola = ClassificationTask(finetune_config("cola", encoder), {}, 2)
    metrics = cola.evaluation_metrics({"loss_sum": 1.0, "examples": 50.0},
                                      {"logits": logits[order], "label": labels[order], "example": order}, 0, "dev")
    assert metrics["mcc"] == pytest.approx(skm.matthews_corrcoef(labels, logits.argmax(-1)))


def test_a_milestone_checkpoint_initialises_fine_tuning_with_its_own_weights(tiny_data, tmp_path):
    """RUN/milestones/ckpt-N (train.milestone_every) belongs to RUN: fine-tuning takes that
    checkpoint's discriminator, not the run's latest."""
    from trainers.model_loading import load_discriminator, load_pretrainer, pretrained_run
    from trainers.pretrain import main as pretrain_main
    run = tmp_path / "run"
    overrides = [o for o in TINY_OVERRIDES if "num_steps" not in o] + ["train.num_steps=4", "train.milestone_every=2"]
    assert pretrain_main(["--data", os.path.join(tiny_data, "train-*"), "--model_dir", str(run), "--strategy=cpu"]
                         + [f"--override={o}" for o in overrides]) == 0
    milestone = str(run / "milestones" / "ckpt-2")
    assert pretrained_run(milestone)[0] == str(run)
    latest = load_pretrainer(str(run))[0].discriminator
    expected = load_pretrainer(str(run), checkpoint=milestone)[0].discriminator
    weights = lambda encoder: [np.asarray(v) for v in encoder.variables if "seed_generator" not in v.path]  # noqa: E731
    assert not all(np.array_equal(a, b) for a, b in zip(weights(latest), weights(expected), strict=True))
    assert load_discriminator(milestone, SimpleNamespace(encoder=latest)) == str(run)
    for got, want in zip(weights(latest), weights(expected), strict=True):
        np.testing.assert_array_equal(got, want)
