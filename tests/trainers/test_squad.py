"""SQuAD 1.1 / 2.0 fine-tuning through trainers.finetune, its files, and the serving module."""
import contextlib
import io
import json
import os

import numpy as np
import pytest
import tensorflow as tf

from configs import EncoderConfig, TaskConfig, finetune_config
from trainers.finetune import main as finetune_main
from trainers.export import export
from trainers.serving.squad import SquadServer
from trainers.tasks.squad import SquadTask
from trainers.tasks.labelled_texts import DataFileError
from trainers.tasks.squad_data import SquadData
from trainers.tasks.squad_json import read_squad


def write_squad(path, version_2: bool, paragraphs: int, seed: int, long_words: int, training: bool):
    """A SQuAD file of contexts of the tiny vocabulary's words w1..w58: 3 answerable questions per
    paragraph (answers: 1-3 words), in 2.0 also one unanswerable; paragraph 0 has `long_words`
    words (longer than a window); in training files q0's answer_start is off by one."""
    rng = np.random.default_rng(seed)
    articles, n = [], 0
    for p in range(paragraphs):
        words = [f"w{i}" for i in rng.integers(1, 59, long_words if p == 0 else int(rng.integers(8, 16)))]
        context, qas = " ".join(words), []
        for _ in range(3):
            i = int(rng.integers(0, len(words) - 2))
            text = " ".join(words[i:i + 1 + int(rng.integers(0, 3))])
            start = len(" ".join(words[:i])) + (1 if i else 0)
            qas.append({"id": f"q{n}", "question": f"{words[i - 1] if i else 'w0'} w0",
                        "answers": [{"text": text, "answer_start": start}]} | ({"is_impossible": False} if version_2 else {}))
            n += 1
        if version_2:
            qas.append({"id": f"q{n}", "question": "w0 w0 w0", "answers": [], "is_impossible": True})
            n += 1
        articles.append({"title": f"t{p}", "paragraphs": [{"context": context, "qas": qas}]})
    if training:
        articles[0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] += 1
        paragraph = articles[-1]["paragraphs"][0]
        paragraph["context"] += " \u200b"
        paragraph["qas"].append({"id": "unseen", "question": "w1", "is_impossible": False,
                                 "answers": [{"text": "\u200b", "answer_start": len(paragraph["context"]) - 1}]})
    with open(path, "w") as f:
        json.dump({"version": "v2.0" if version_2 else "1.1", "data": articles}, f)


@pytest.fixture(scope="module")
def squad_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("squad")
    for version_2, suffix in ((False, "v1.1"), (True, "v2.0")):
        write_squad(directory / f"train-{suffix}.json", version_2, 10, 0, long_words=60, training=True)
        write_squad(directory / f"dev-{suffix}.json", version_2, 3, 1, long_words=50, training=False)
    return str(directory)


def finetune(args) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert finetune_main(args) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def squad_v2_run(pretrained_run, squad_dir, tmp_path_factory):
    model_dir = str(tmp_path_factory.mktemp("squad_v2"))
    args = ["--task", "squad_v2", "--model_dir", model_dir, "--data_dir", squad_dir, "--strategy", "cpu"]
    log = finetune(args + ["--init_checkpoint", pretrained_run, "--predict_file", os.path.join(squad_dir, "dev-v2.0.json"),
                           "--override=train.batch_size=8", "--override=task.doc_stride=8"])
    return model_dir, args, log


def read(path):
    with open(path) as f:
        return json.load(f)


def dev_questions(squad_dir, name):
    data = read(os.path.join(squad_dir, name))["data"]
    return [(qa["id"], qa["question"], p["context"]) for a in data for p in a["paragraphs"] for qa in p["qas"]]


def windows(squad_dir, name, skip=()):
    """Windows of 32 tokens, doc_stride 8, of a file's questions: every word is one piece."""
    count = 0
    for qid, question, context in dev_questions(squad_dir, name):
        room, pieces = 32 - len(question.split()) - 3, len(context.replace("\u200b", "").split())
        count += 0 if qid in skip else 1 + -(-max(0, pieces - room) // min(room, 8))
    return count


def test_squad_v2_fine_tunes_evaluates_and_writes_predictions(squad_v2_run, squad_dir):
    model_dir, _, log = squad_v2_run
    # 41 training questions, one with its answer off its offset, one whose answer has no word
    # piece: left out and reported.
    assert "train-v2.0.json: 40 questions, left out: 1 answer text not at its answer_start (first: id 'q0')" in log
    assert ("train-v2.0.json: 39 questions, left out: 1 answer covers no word piece (first: id 'unseen'); "
            "1 answer text not at its answer_start (first: id 'q0')") in log
    train_windows = windows(squad_dir, "train-v2.0.json", skip=("q0", "unseen"))
    assert f"train: 39 questions, {train_windows} windows of 32 tokens" in log
    assert f"dev: 12 questions, {windows(squad_dir, 'dev-v2.0.json')} windows" in log
    dev = read(os.path.join(model_dir, "eval_results.json"))["dev"]
    assert dev["questions"] == 12 and dev["HasAns_total"] == 9 and dev["NoAns_total"] == 3
    assert dev["f1"] == pytest.approx(dev["best_f1"]) and 0 <= dev["exact"] <= dev["f1"] <= 100
    predictions = read(os.path.join(model_dir, "predictions", "predictions.json"))
    nbest = read(os.path.join(model_dir, "predictions", "nbest_predictions.json"))
    null_odds = read(os.path.join(model_dir, "predictions", "null_odds.json"))
    questions = dev_questions(squad_dir, "dev-v2.0.json")
    assert list(predictions) == list(nbest) == list(null_odds) == [qid for qid, _, _ in questions]
    for qid, _, context in questions:
        entries = nbest[qid]
        assert 1 <= len(entries) <= 20 and entries[0]["probability"] >= entries[-1]["probability"]
        assert all(context[e["start"]:e["end"]] == e["text"] for e in entries)
        expected = "" if null_odds[qid] > dev["best_f1_thresh"] else entries[0]["text"]
        assert predictions[qid] == expected


def test_eval_only_and_the_saved_model_reproduce_the_run(squad_v2_run, squad_dir, tmp_path):
    model_dir, args, _ = squad_v2_run
    results = read(os.path.join(model_dir, "eval_results.json"))
    finetune(args + ["--eval_only"])
    assert read(os.path.join(model_dir, "eval_results.json")) == results

    assert SquadServer.from_run(model_dir).null_threshold == results["dev"]["best_f1_thresh"]
    version = export(model_dir, str(tmp_path / "serving"))  # with its warmup requests
    assert os.path.exists(os.path.join(version, "assets.extra", "tf_serving_warmup_requests"))
    serve = tf.saved_model.load(version).signatures["serving_default"]
    questions = dev_questions(squad_dir, "dev-v2.0.json")
    out = serve(question=tf.constant([q for _, q, _ in questions]), context=tf.constant([c for _, _, c in questions]))
    out = {k: v.numpy() for k, v in out.items()}
    nbest = read(os.path.join(model_dir, "predictions", "nbest_predictions.json"))
    null_odds = read(os.path.join(model_dir, "predictions", "null_odds.json"))
    predictions = read(os.path.join(model_dir, "predictions", "predictions.json"))
    best = [nbest[qid][0] for qid, _, _ in questions]
    assert [a.decode() for a in out["answer"]] == [b["text"] for b in best]
    assert out["start"].tolist() == [b["start"] for b in best] and out["end"].tolist() == [b["end"] for b in best]
    np.testing.assert_allclose(out["score"], [b["start_log_prob"] + b["end_log_prob"] for b in best], atol=1e-5)
    np.testing.assert_allclose(out["no_answer_score"], [null_odds[qid] for qid, _, _ in questions], atol=1e-5)
    assert out["has_answer"].tolist() == [predictions[qid] != "" for qid, _, _ in questions]


@pytest.mark.slow
def test_squad_v1_fine_tunes_and_evaluates(pretrained_run, squad_dir, tmp_path):
    log = finetune(["--task", "squad_v1", "--init_checkpoint", pretrained_run, "--random_init", "--model_dir",
                    str(tmp_path), "--data_dir", squad_dir, "--strategy", "cpu", "--override=train.batch_size=8",
                    "--override=train.num_steps=2"])
    assert "train-v1.1.json: 30 questions, left out: 1 answer text not at its answer_start" in log
    dev = read(os.path.join(tmp_path, "eval_results.json"))["dev"]
    assert set(dev) == {"exact", "f1", "questions", "windows", "batches"} and dev["questions"] == 9
    assert 0 <= dev["exact"] <= dev["f1"] <= 100


@pytest.mark.parametrize("task", ["squad_v1", "squad_v2"])
def test_loss_is_the_release_span_loss_plus_answerability_for_v2(task):
    config = finetune_config(task, EncoderConfig(vocab_size=64, embedding_size=16, hidden_size=32, num_heads=2,
                                                 intermediate_size=64, num_layers=1, max_position_embeddings=16))
    squad = SquadTask(config, {}, {})
    model = squad.build_model()
    rng = np.random.default_rng(0)
    segment_ids = np.array([[0] * 5 + [1] * 8 + [0] * 3, [0] * 4 + [1] * 12], np.int32)
    batch = {"input_ids": rng.integers(5, 64, (2, 16)).astype(np.int32), "segment_ids": segment_ids,
             "input_mask": np.array([[1] * 13 + [0] * 3, [1] * 16], np.int32),
             "start_positions": np.array([6, 0], np.int32), "end_positions": np.array([8, 0], np.int32),
             "answerable": np.array([1, 0], np.int32)}
    stats = squad.statistics(model, batch, training=False)
    out = {k: np.asarray(v, np.float64) for k, v in model(batch, training=False).items()}

    def cross_entropy(logits, positions):
        log_probs = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1, keepdims=True)) \
            - logits.max(1, keepdims=True)
        return -log_probs[np.arange(2), positions]
    loss = (cross_entropy(out["start_logits"], batch["start_positions"])
            + cross_entropy(out["end_logits"], batch["end_positions"])) / 2
    if task == "squad_v2":
        z = out["answerable_logits"]
        loss += 0.5 * (np.log1p(np.exp(-np.abs(z))) + np.maximum(z, 0) - z * batch["answerable"])
    assert float(stats["loss_sum"]) == pytest.approx(loss.sum(), rel=1e-5) and float(stats["windows"]) == 2
    # Only context tokens (segment 1) and [CLS] may hold an answer's start or end.
    allowed = segment_ids * batch["input_mask"]
    allowed[:, 0] = 1
    for logits in (out["start_logits"], out["end_logits"]):
        assert (logits[allowed == 0] < -1e3).all() and (logits[allowed == 1] > -1e3).all()


def test_bad_files_are_one_clear_error_naming_the_file_and_place(tmp_path):
    with pytest.raises(DataFileError, match=r"train-v1.1.json not found"):
        SquadData("squad_v1", str(tmp_path))
    with pytest.raises(DataFileError, match="give --data_dir"):
        SquadData("squad_v2", "")
    path = tmp_path / "bad.json"
    path.write_text('{"data": [\n  {"paragraphs": [}\n]}')
    with pytest.raises(DataFileError, match=r"bad.json: not valid JSON \(line 2, column 19"):
        read_squad(str(path), False, training=True)
    qa = {"id": "a", "question": "w1", "answers": [{"text": "w1", "answer_start": 0}]}
    for qas, message in (([{"id": "a", "answers": []}], r"data\[0\].paragraphs\[0\].qas\[0\]: missing 'question'"),
                         ([qa, qa], r"data\[0\].paragraphs\[0\].qas\[1\]: id 'a' repeats data\[0\].paragraphs\[0\]"
                                    r".qas\[0\]"),
                         ([qa | {"answers": [{"text": "w1", "answer_start": "0"}]}],
                          r"data\[0\].paragraphs\[0\].qas\[0\].answers\[0\].answer_start: expected int, got str")):
        path.write_text(json.dumps({"data": [{"paragraphs": [{"context": "w1 w2", "qas": qas}]}]}))
        with pytest.raises(DataFileError, match=f"bad.json: {message}"):
            read_squad(str(path), False, training=True)


def test_training_questions_without_a_usable_answer_are_counted(tmp_path):
    qas = [{"id": "ok", "question": "w1", "answers": [{"text": "w2", "answer_start": 3}]},
           {"id": "moved", "question": "w1", "answers": [{"text": "w2", "answer_start": 2}]},
           {"id": "none", "question": "w1", "answers": []},
           {"id": "impossible", "question": "w1", "answers": [], "is_impossible": True}]
    path = tmp_path / "train.json"
    path.write_text(json.dumps({"data": [{"paragraphs": [{"context": "w1 w2", "qas": qas}]}]}))
    v2 = read_squad(str(path), True, training=True)
    assert v2.ids == ["ok", "impossible"] and v2.answer_start.tolist() == [3, -1]
    assert v2.report() == (f"{path}: 2 questions, left out: 1 answer text not at its answer_start (first: id "
                           "'moved'); 1 answerable question without an answer (first: id 'none')")
    v1 = read_squad(str(path), False, training=False)  # evaluation keeps every question
    assert v1.ids == ["ok", "moved", "none", "impossible"] and v1.answer_start.tolist() == [3, -1, -1, -1]


def test_query_length_must_leave_room_for_the_context():
    with pytest.raises(ValueError, match="leaves no room"):
        TaskConfig(name="squad_v1", max_seq_length=32, max_query_length=29)
    assert TaskConfig(name="squad_v1", max_seq_length=32, max_query_length=28).max_query_length == 28
