"""TinyBERT's data augmentation: variants drawn as specified, deterministic for a seed, counted."""
import collections
import csv
import json

import numpy as np
import pytest
import tensorflow as tf

from configs import get_config, with_vocab_size
from core import run_files
from models.pretrainer import ElectraPretrainer
from pipelines.augment_task import main
from pipelines.augmentation import is_word, variants, words
from tests.mistakes import run_mistake
from tests.trainers.conftest import TINY_OVERRIDES, VOCAB, write_data
from trainers.checkpointing import model_state
from trainers.pretrain import write_run_files


def test_variants_replace_eligible_words_with_their_candidates_and_are_distinct():
    tokens = ["a", "good", ",", "w5", "film", "."]
    assert words("a good, w5 film.") == tokens
    assert [is_word(t) for t in tokens + ["##s", "[MASK]", "42"]] == [True, True, False, True, True, False,
                                                                        False, False, False]
    candidates = {1: ["bad", "fine"], 4: ["movie"]}
    counts = collections.Counter()
    out = variants(tokens, candidates, 50, 0.5, np.random.default_rng(0), counts)
    assert len(out) == len(set(out)) == 5  # every distinct variant: 3 x 2 - the original
    for text in out:
        new = text.split(" ")
        assert [i for i in range(6) if new[i] != tokens[i]] and all(
            new[i] == tokens[i] or new[i] in candidates.get(i, []) for i in range(6))
    assert counts["variants_drawn"] == 50 and counts["duplicates_dropped"] == 45
    other = variants(tokens, candidates, 3, 0.5, np.random.default_rng(1), collections.Counter())
    assert other != variants(tokens, candidates, 3, 0.5, np.random.default_rng(0), collections.Counter())
    none = collections.Counter()
    assert variants(tokens, candidates, 5, 0.0, np.random.default_rng(0), none) == []
    assert none["duplicates_dropped"] == 5


@pytest.fixture(scope="module")
def masked_lm(tmp_path_factory):
    """A pre-trained run of the tiny vocabulary with random weights (its generator ranks words)."""
    base = tmp_path_factory.mktemp("augment")
    write_data(str(base / "data"), num_examples=8)
    run = str(base / "run")
    config = with_vocab_size(get_config("tiny", TINY_OVERRIDES + ["model.encoder.num_layers=1"]), len(VOCAB))
    write_run_files(run, config, run_files.read_manifest(str(base / "data")))
    pretrainer = ElectraPretrainer(config.model, {"pad": 0, "cls": 2, "sep": 3, "mask": 4})
    zeros = tf.zeros((1, 8), tf.int32)
    pretrainer({"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros})
    tf.train.Checkpoint(model=model_state(pretrainer)).save(f"{run}/ckpt")
    with open(base / "train.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows([["w1 w2, w3 w4", "low"], ["w40 w41 w42.", "high"], ["w7", "low"]])
    return base, run


def test_augmentation_is_deterministic_for_a_seed_and_counted(masked_lm, tmp_path, capsys):
    base, run = masked_lm
    args = [f"--input={base / 'train.csv'}", "--text_columns=text", "--label_column=label", f"--masked_lm={run}",
            "--variants=4", "--candidates=3"]
    outputs = {}
    for name in ("a", "b"):
        assert main(args + [f"--output={tmp_path / name}.tsv", "--seed=3"]) == 0
        outputs[name] = (tmp_path / f"{name}.tsv").read_text()
    assert outputs["a"] == outputs["b"]
    lines = outputs["a"].splitlines()
    counts = json.loads((tmp_path / "a.json").read_text())["counts"]
    assert lines[0] == "text\tlabel" and counts["rows"] == 3 and counts["rows_written"] == len(lines) - 1
    assert counts["variants_written"] == counts["variants_drawn"] - counts["duplicates_dropped"] == len(lines) - 4
    assert counts["variants_drawn"] == 12 and counts["words"] == 10 and counts["eligible_words"] == 8
    assert lines[1] == "w1 w2 , w3 w4\tlow"  # the row itself, then its variants with its label
    originals, current = {"w1 w2 , w3 w4": "low", "w40 w41 w42 .": "high", "w7": "low"}, None
    for text, label in (line.split("\t") for line in lines[1:]):
        current = text if text in originals else current
        assert label == originals[current] and len(text.split(" ")) == len(current.split(" "))
    assert f"{counts['rows_written']}" in capsys.readouterr().out
    line = run_mistake(main, args + [f"--output={tmp_path / 'd.tsv'}", "--probability=2"], capsys, [tmp_path])
    assert "--probability in [0, 1]" in line
