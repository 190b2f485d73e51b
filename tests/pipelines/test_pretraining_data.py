"""The Beam job end to end on a tiny hand-written dump (in-process runner)."""
import bz2
import collections
import copy
import glob
import json
import os
import signal
import subprocess
import sys

import pytest
import tensorflow as tf
from apache_beam.testing import test_pipeline

from core import run_files, vocabulary
from pipelines import packing, pretraining_data, sentences, tf_records, tokenization, wikipedia

MAX_SEQ_LENGTH = 16
SEED = 7
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "the", "a", "cat", "dog",
         "sat", "ran", "on", "mat", "far", "bird", "sang", "and", "then", "slept", "##s"]

ARTICLE = ("The cat sat on the mat. The dog ran far, and then the dog slept. "
           "A bird sang. The cats sat and sang on a mat. Then a bird ran far.")


def _page(page_id, title, text, ns=0, redirect=False):
    return (f"<page><title>{title}</title><ns>{ns}</ns><id>{page_id}</id>"
            + ('<redirect title="X" />' if redirect else "")
            + f"<revision><id>9{page_id}</id><text>{text}</text></revision></page>")


PAGES = {  # page id -> (title, wikitext); ids 1 -> heldout, 2 and 5 -> train at 50%
    "1": ("Alpha", f"{{{{Infobox}}}}\n'''Alpha''' {ARTICLE}\n\n== History ==\n{ARTICLE} The end."),
    "2": ("Beta", f"[[Bird|Birds]] sang. {ARTICLE}\n{ARTICLE}\n{ARTICLE}"),
    "5": ("Epsilon", "A cat sat."),
}
DUMP = ('<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">'
        + "".join(_page(i, title, text) for i, (title, text) in PAGES.items())
        + _page("3", "Redirect", "#REDIRECT [[Alpha]]", redirect=True)
        + _page("4", "Wikipedia:About", "About.", ns=4)
        + _page("6", "Stub", "{{stub}}\n[[Category:Stubs]]")
        + _page("7", "Bad", "EXPLODE here.")
        + _page("8", "Copy of Epsilon", "A cat sat.")  # exact duplicate of page 5
        + "</mediawiki>")


_real_split_sentences = sentences.split_sentences


def _exploding_split(paragraph):
    if "EXPLODE" in paragraph:
        raise RuntimeError("simulated parser failure")
    return _real_split_sentences(paragraph)


def _expected_records(vocab_path, page_ids):
    """Serialized examples computed directly with the library functions."""
    tokenizer = tokenization.Tokenizer(vocab_path, lowercase=True)
    records = []
    for page_id in page_ids:
        lines = [s for p in wikipedia.wikitext_to_paragraphs(PAGES[page_id][1])
                 for s in sentences.split_sentences(p)]
        for ids, segments in packing.pack_document(
                tokenizer.tokenize_lines(lines), MAX_SEQ_LENGTH, 2, 3,
                packing.document_rng(SEED, page_id)):
            records.append(tf_records.serialize_example(ids, segments, MAX_SEQ_LENGTH))
    return records


def test_split_of_is_stable_and_near_the_percentage():
    ids = [str(i) for i in range(20000)]
    heldout = {i for i in ids if pretraining_data.split_of(i, 5.0) == "heldout"}
    assert len(heldout) / len(ids) == pytest.approx(0.05, abs=0.005)
    assert [pretraining_data.split_of(i, 50) for i in "1235"] == [
        "heldout", "train", "heldout", "train"]  # sha256 of the id: fixed forever
    assert {i for i in ids if pretraining_data.split_of(i, 10.0) == "heldout"} >= heldout
    assert all(pretraining_data.split_of(i, 0) == "train" for i in ids[:100])


def test_add_counts_sums_nested_dicts():
    total = {"a": 1, "d": {"x": 2}}
    pretraining_data.add_counts(total, {"a": 2, "d": {"x": 1, "y": 5}, "b": 3})
    assert total == {"a": 3, "b": 3, "d": {"x": 3, "y": 5}}


def _read_records(pattern):
    return [r.numpy() for r in tf.data.TFRecordDataset(sorted(glob.glob(pattern)))]


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    root = tmp_path_factory.mktemp("job")
    (root / "dumps").mkdir()
    (root / "dumps" / "good.xml.bz2").write_bytes(bz2.compress(DUMP.encode()))
    (root / "dumps" / "broken.xml.bz2").write_bytes(b"BZh91AY&SY this is not bzip2")
    vocab_path = str(root / "vocab.txt")
    with open(vocab_path, "w") as f:
        f.write("".join(t + "\n" for t in VOCAB))
    output_dir = str(root / "out")
    (root / "dumps" / "empty.xml").write_bytes(b"")
    config = pretraining_data.JobConfig(vocab_path, max_seq_length=MAX_SEQ_LENGTH, num_shards=2,
                                        heldout_percent=50, seed=SEED)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sentences, "split_sentences", _exploding_split)
        # The second pattern matches a file the first one does too: read once.
        manifest, metrics = pretraining_data.run(
            test_pipeline.TestPipeline(),
            [str(root / "dumps" / "*.xml*"), str(root / "dumps" / "good.xml.bz2")], output_dir,
            config)
    return manifest, output_dir, vocab_path, metrics


def test_manifest_counts(job):
    manifest, output_dir, vocab_path, _ = job
    manifest = copy.deepcopy(manifest.to_dict())
    train = _expected_records(vocab_path, ["2", "5"])
    heldout = _expected_records(vocab_path, ["1"])
    tokens = lambda records: sum(
        sum(tf.train.Example.FromString(r).features.feature["input_mask"].int64_list.value)
        for r in records)
    assert manifest["documents_read"] == 10  # 8 pages + 1 corrupt and 1 empty file
    assert manifest["documents_written"] == 3
    assert manifest["documents_skipped"] == {
        "redirect": 1, "not_main_namespace": 1, "empty_after_cleaning": 1, "duplicate": 1,
        "page_error": 1, "corrupt_compression": 1, "empty_file": 1}
    assert manifest["dead_letters"] == 3
    assert manifest["documents_read"] == (manifest["documents_written"]
                                          + sum(manifest["documents_skipped"].values()))
    shards = manifest["splits"]["train"].pop("shards")
    assert [s["file"] for s in shards] == ["train-00000-of-00002.tfrecord",
                                           "train-00001-of-00002.tfrecord"]
    for shard in shards:
        records = _read_records(os.path.join(output_dir, shard["file"]))
        assert (shard["examples"], shard["tokens"]) == (len(records), tokens(records))
    assert abs(shards[0]["examples"] - shards[1]["examples"]) <= 1  # round-robin
    assert manifest["splits"]["heldout"].pop("shards") == [{
        "file": "heldout-00000-of-00001.tfrecord", "examples": len(heldout),
        "tokens": tokens(heldout)}]
    assert manifest["splits"] == {
        "train": {"documents": 2, "examples": len(train), "tokens": tokens(train),
                  "pattern": "train-*"},
        "heldout": {"documents": 1, "examples": len(heldout), "tokens": tokens(heldout),
                    "pattern": "heldout-*"}}
    assert manifest["examples"] == len(train) + len(heldout) > 3  # documents span examples
    assert manifest["tokens"] == tokens(train) + tokens(heldout)
    assert {k: manifest[k] for k in ("max_seq_length", "vocab_size", "lowercase", "vocab_file",
                                     "special_token_ids", "seed")} == {
        "max_seq_length": MAX_SEQ_LENGTH, "vocab_size": len(VOCAB), "lowercase": True,
        "vocab_file": "vocab.txt", "seed": SEED,
        "special_token_ids": {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}}
    assert manifest["input_patterns"][0].endswith("dumps/*.xml*")
    assert manifest["vocab_fingerprint"] == vocabulary.read(vocab_path).fingerprint
    with open(os.path.join(output_dir, "manifest.json")) as f:
        assert json.load(f) == job[0].to_dict()
    assert run_files.read_manifest(output_dir) == job[0]
    with open(os.path.join(output_dir, "vocab.txt")) as f:
        assert f.read().split("\n")[:-1] == VOCAB


def test_metrics_equal_manifest_counts(job):
    manifest, _, _, metrics = job
    expected = pretraining_data.manifest_as_metrics(manifest)
    assert metrics == expected
    assert metrics["documents_skipped_duplicate"] == 1 and metrics["train_00000_examples"] > 0


def test_dead_letters_name_file_offset_and_reason(job):
    _, output_dir, _, _ = job
    with open(os.path.join(output_dir, "dead_letter.jsonl")) as f:
        letters = sorted((json.loads(line) for line in f), key=lambda d: d["reason"])
    assert [(os.path.basename(d["file"]), d["reason"], d["doc_id"]) for d in letters] == [
        ("broken.xml.bz2", "corrupt_compression", ""), ("empty.xml", "empty_file", ""),
        ("good.xml.bz2", "page_error", "7")]
    bad_page = letters[2]
    assert DUMP.encode()[bad_page["offset"]:].startswith(b"<page><title>Bad</title>")
    assert "simulated parser failure" in bad_page["detail"]


def test_strict_turns_a_skip_into_an_error(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    vocab_path = tmp_path / "vocab.txt"
    vocab_path.write_text("".join(t + "\n" for t in VOCAB))
    config = pretraining_data.JobConfig(str(vocab_path), max_seq_length=MAX_SEQ_LENGTH,
                                        strict=True)
    with pytest.raises(Exception, match="--strict: empty_file in .*empty.txt at byte 0"):
        pretraining_data.run(test_pipeline.TestPipeline(), [str(tmp_path / "*.txt")],
                             str(tmp_path / "out"), config)


def test_records_are_exactly_the_packed_documents(job):
    _, output_dir, vocab_path, _ = job
    assert sorted(os.path.basename(p) for p in glob.glob(os.path.join(output_dir, "*.tfrecord"))) \
        == ["heldout-00000-of-00001.tfrecord", "train-00000-of-00002.tfrecord",
            "train-00001-of-00002.tfrecord"]
    for split, page_ids in (("train", ["2", "5"]), ("heldout", ["1"])):
        written = _read_records(os.path.join(output_dir, f"{split}-*"))
        assert collections.Counter(written) == collections.Counter(
            _expected_records(vocab_path, page_ids))


def test_records_parse_with_cls_first_and_sep_last(job):
    _, output_dir, _, _ = job
    features = {name: tf.io.FixedLenFeature([MAX_SEQ_LENGTH], tf.int64)
                for name in ("input_ids", "input_mask", "segment_ids")}
    records = _read_records(os.path.join(output_dir, "*.tfrecord"))
    assert records
    for record in records:
        example = {k: v.numpy().tolist()
                   for k, v in tf.io.parse_single_example(record, features).items()}
        length = sum(example["input_mask"])
        assert example["input_mask"] == [1] * length + [0] * (MAX_SEQ_LENGTH - length)
        assert example["input_ids"][0] == 2 and example["input_ids"][length - 1] == 3
        assert example["input_ids"][length:] == [0] * (MAX_SEQ_LENGTH - length)
        assert example["segment_ids"][length:] == [0] * (MAX_SEQ_LENGTH - length)


_KILLED_AT_THIRD_FILE = """
import os, signal, sys
from pipelines import build_pretraining_data, pretraining_data
written = []
def or_die(write):
    def write_or_die(sources, destination, *rest):
        written.append(destination)
        if len(written) == 3:  # dead letters and the first shard are written
            os.kill(os.getpid(), signal.SIGKILL)
        write(sources, destination, *rest)
    return write_or_die
pretraining_data._concatenate = or_die(pretraining_data._concatenate)
pretraining_data.mix_records = or_die(pretraining_data.mix_records)
build_pretraining_data.main(sys.argv[1:])
"""


def test_rerun_after_a_killed_job_removes_its_leftovers_and_nothing_else(tmp_path):
    (tmp_path / "dump.xml").write_text(DUMP)
    (tmp_path / "broken.xml.bz2").write_bytes(b"BZh91AY&SY not bzip2")
    (tmp_path / "vocab.txt").write_text("".join(t + "\n" for t in VOCAB))
    out = tmp_path / "out"
    users = {"notes.txt": "mine", "train-notes.tfrecord": "mine too",
             "_temporary/part-00000": "another tool's"}
    for name, text in users.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    flags = [f"--input={tmp_path}/*.xml*", f"--output_dir={out}", f"--vocab={tmp_path}/vocab.txt",
             f"--max_seq_length={MAX_SEQ_LENGTH}", "--num_shards=3"]
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    killed = subprocess.run([sys.executable, "-c", _KILLED_AT_THIRD_FILE, *flags], cwd=root,
                            capture_output=True)
    assert killed.returncode == -signal.SIGKILL
    assert sorted(os.listdir(out)) == ["_pretraining_data_temporary", "_temporary",
                                       "dead_letter.jsonl", "notes.txt",
                                       "train-00000-of-00003.tfrecord", "train-notes.tfrecord"]
    assert os.listdir(out / "_pretraining_data_temporary")  # the units' files

    # Another job (2 shards) is refused and changes nothing; the same job clears what its killed run left.
    other = pretraining_data.JobConfig(str(tmp_path / "vocab.txt"), max_seq_length=MAX_SEQ_LENGTH, num_shards=2)
    before = sorted(os.listdir(out))
    with pytest.raises(run_files.RunFilesError, match="holds files this job writes .* from another job; "
                                                      "use a new directory, or --overwrite"):
        pretraining_data.run(test_pipeline.TestPipeline(), [f"{tmp_path}/*.xml*"], str(out), other)
    assert sorted(os.listdir(out)) == before
    config = pretraining_data.JobConfig(str(tmp_path / "vocab.txt"), max_seq_length=MAX_SEQ_LENGTH, num_shards=3)
    manifest, _ = pretraining_data.run(test_pipeline.TestPipeline(), [f"{tmp_path}/*.xml*"],
                                       str(out), config)
    assert sorted(os.listdir(out)) == [
        "_temporary", "dead_letter.jsonl", "heldout-00000-of-00001.tfrecord", "manifest.json",
        "notes.txt", "train-00000-of-00003.tfrecord", "train-00001-of-00003.tfrecord",
        "train-00002-of-00003.tfrecord", "train-notes.tfrecord", "vocab.txt"]
    assert {name: (out / name).read_text() for name in users} == users
    assert manifest.examples == len(_read_records(str(out / "*-of-*.tfrecord"))) > 0
    dead_letters = (out / "dead_letter.jsonl").read_text().splitlines()
    assert manifest.dead_letters == 1 == len(dead_letters)
