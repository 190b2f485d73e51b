"""trainers.distill on tiny data: general then two-stage task distillation through the one loop,
killed and resumed equal to an uninterrupted run; the student exports as a fine-tuned model; a
user's mistake is one line."""
import json
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from core import vocabulary
from tests.mistakes import run_mistake
from tests.trainers.conftest import VOCAB, write_word_task
from trainers import distill
from trainers.export import export
from trainers.finetune import main as finetune_main
from trainers.loop import Trainer
from trainers.model_loading import load_finetuned, pretrained_run
from trainers.text_features import encode_texts
from pipelines.tokenization import Tokenizer

SEQ = 16
SMALL = ["train.batch_size=8", f"task.max_seq_length={SEQ}"]
# tiny's 2 layers at width 16 (the teacher's is 32: projections), 2 heads like the teacher.
STUDENT = ["model.encoder.embedding_size=16", "model.encoder.hidden_size=16", "model.encoder.num_heads=2",
           "model.encoder.intermediate_size=32", "model.encoder.max_position_embeddings=32"]


class Killed(Exception):
    pass


@pytest.fixture(scope="module")
def setup(pretrained_run, tiny_data, tmp_path_factory):
    """A teacher fine-tuned from the session's pre-trained run (2 layers, width 32, 2 heads), and its data."""
    base = tmp_path_factory.mktemp("distill")
    train = write_word_task(base / "train.csv", 40)
    teacher = str(base / "teacher")
    assert finetune_main(["--task=classification", f"--init_checkpoint={pretrained_run}", f"--model_dir={teacher}",
                          f"--train_file={train}", f"--eval_file={train}", "--text_columns=text",
                          "--label_column=label", "--strategy=cpu", "--override=epochs=2"]
                         + [f"--override={o}" for o in SMALL]) == 0
    return {"base": base, "teacher": teacher, "train": train, "pretrained": pretrained_run, "data": tiny_data}


def _task_args(s, model_dir, *extra):
    return [f"--teacher={s['teacher']}", f"--model_dir={model_dir}", f"--train_file={s['train']}",
            f"--eval_file={s['train']}", "--strategy=cpu", "--override=epochs=0.8",
            "--override=distill.intermediate_epochs=0.6"] + [f"--override={o}" for o in SMALL] + list(extra)


def _weights(model_dir):
    reader = tf.train.load_checkpoint(str(model_dir))
    names = sorted(n for n in reader.get_variable_to_shape_map() if n.startswith(("model/", "optimizer/")))
    return {n: reader.get_tensor(n) for n in names}


def test_general_then_tinybert_distillation_killed_and_resumed_equals_an_uninterrupted_run(setup, monkeypatch):
    b = setup["base"]
    general = str(b / "general")
    assert distill.main([f"--teacher={setup['pretrained']}", "--student=tiny", f"--data={setup['data']}/train-*",
                         f"--model_dir={general}", "--strategy=cpu", "--override=train.num_steps=4",
                         "--override=train.batch_size=8", "--override=train.shuffle_buffer=64"]
                        + [f"--override={o}" for o in STUDENT]) == 0
    assert pretrained_run(general)[1].model.encoder.hidden_size == 16  # a pre-trained run of the student
    run = lambda model_dir: distill.main(_task_args(setup, model_dir, f"--student={general}",  # noqa: E731
                                                    "--method=tinybert"))
    straight, killed = b / "straight", b / "killed"
    assert run(straight) == 0
    # Killed right after a checkpoint of each stage (3 intermediate steps, then 4), then rerun.
    save = Trainer._save
    kills = [(str(killed / "intermediate"), 1), (str(killed), 2)]

    def save_then_die(trainer, last_step):
        save(trainer, last_step)
        if kills and (trainer.model_dir, trainer.step) == kills[0]:
            kills.pop(0)
            raise Killed
    monkeypatch.setattr(Trainer, "_save", save_then_die)
    for _ in range(2):
        with pytest.raises(Killed):
            run(killed)
    assert run(killed) == 0 and not kills
    for stage in ("intermediate", ""):
        a, k = _weights(straight / stage), _weights(killed / stage)
        assert a.keys() == k.keys() and len(a) > 20
        for name in a:
            np.testing.assert_array_equal(a[name], k[name], err_msg=f"{stage}: {name}")
    # The student serves like any fine-tuned model: the export of its run gives its probabilities.
    serve = tf.saved_model.load(export(str(straight), str(b / "serving"))).signatures["serving_default"]
    texts = ["w1 w2 w3", "w40 w41 w50 w7"]
    features, _ = encode_texts(Tokenizer(str(straight / "vocab.txt"), lowercase=True), texts, None, SEQ)
    expected = tf.nn.softmax(load_finetuned(str(straight))(features, training=False)["logits"]).numpy()
    np.testing.assert_allclose(serve(text=tf.constant(texts))["probabilities"].numpy(), expected, atol=1e-5)
    assert os.path.exists(b / "serving" / "1" / "assets.extra" / "tf_serving_warmup_requests")


def test_distillation_mistakes_are_one_line_and_change_nothing(setup, capsys):
    b, teacher = setup["base"], setup["teacher"]
    other = b / "other_vocabulary"  # the pre-trained run with the same number of pieces in another order
    shutil.copytree(setup["pretrained"], other)
    (other / "vocab.txt").write_text(vocabulary.vocab_text(VOCAB[:5] + VOCAB[5:][::-1]))
    settings = json.loads((other / "data.json").read_text())
    (other / "data.json").write_text(json.dumps(dict(settings, vocab_fingerprint="")))  # as before fingerprints
    new = str(b / "new")
    cases = [
        (_task_args(setup, new, f"--teacher={setup['pretrained']}", "--student=tiny"),
         "is a pre-trained run, not a fine-tuned one"),
        (_task_args(setup, new, f"--student={other}"), "has another vocabulary"),
        (_task_args(setup, new, "--student=teacher", "--student_layers=2", "--override=distill.layer_map=1,3"),
         "distill.layer_map: layer map '1,3': teacher layer 3 is out of range; the teacher has layers 1..2"),
        (_task_args(setup, new, "--student=tinybert_4", "--method=tinybert"), "compares heads one to one"),
        (_task_args(setup, new, "--student=teacher", "--student_layers=3"), "the teacher has 2 layers"),
        (_task_args(setup, new, "--student=huge"), "neither a preset"),
    ]
    for argv, expected in cases:
        line = run_mistake(distill.main, argv, capsys, [teacher, setup["pretrained"], other])
        assert expected in line, (argv, line)
    assert not os.path.exists(new)
