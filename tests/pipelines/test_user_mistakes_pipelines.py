"""pipelines.build_vocab and pipelines.build_pretraining_data given a user's mistake: one stderr
line, status 2, and every file and directory they were pointed at unchanged."""
import os

import pytest

from core import vocabulary
from pipelines import build_pretraining_data, build_vocab
from tests.mistakes import run_mistake, snapshot

SPECIAL = list(vocabulary.RESERVED_TOKENS)
TEXT = "".join(f"The river {w} runs past the old town of {w}. People of {w} fish in it.\n\n"
               for w in ("alba", "brisk", "corra", "dunmore", "elgin", "fife", "garve", "hoy"))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    base = tmp_path_factory.mktemp("pipeline_mistakes")
    (base / "corpus.txt").write_text(TEXT)
    (base / "empty.txt").write_text("")
    (base / "notes.xyz").write_text("what format is this?\n")
    (base / "empty_dir").mkdir()
    (base / "a_file").write_text("not a directory\n")
    (base / "no_specials.txt").write_text("the\nriver\n")
    (base / "pad_not_0.txt").write_text("".join(t + "\n" for t in [SPECIAL[1], SPECIAL[0]] + SPECIAL[2:] + ["a"]))
    (base / "other_vocab.txt").write_text(vocabulary.vocab_text(SPECIAL + ["x"]))
    vocab = str(base / "vocab.txt")
    assert build_vocab.main([f"--input={base}/corpus.txt", f"--output={vocab}", "--vocab_size=120",
                             "--heldout_percent=0", "--workers=1"]) == 0
    done = str(base / "done")
    assert build_pretraining_data.main([f"--input={base}/corpus.txt", f"--output_dir={done}", f"--vocab={vocab}",
                                        "--max_seq_length=32", "--num_shards=2"]) == 0
    (base / "foreign").mkdir()
    for name in ("train-00000-of-00002.tfrecord", "vocab.txt", "notes.txt"):
        (base / "foreign" / name).write_text("another job's file\n")
    return {"base": base, "vocab": vocab, "done": done}


def test_build_pretraining_data_mistakes_are_one_line_and_change_nothing(files, capsys):
    b, vocab, done = files["base"], files["vocab"], files["done"]
    new = str(b / "new_out")
    ok = [f"--input={b}/corpus.txt", f"--vocab={vocab}", "--max_seq_length=32", "--num_shards=2"]
    cases = [
        ([f"--input={b}/none-*.txt", f"--output_dir={new}", f"--vocab={vocab}"], "no input files match", [new]),
        ([f"--input={b}/empty_dir", f"--output_dir={new}", f"--vocab={vocab}"], "empty_dir/*", [new]),
        ([f"--input={b}/notes.xyz", f"--output_dir={new}", f"--vocab={vocab}"], "notes.xyz", [new]),
        ([f"--input={b}/corpus.txt", f"--output_dir={new}", f"--vocab={b}/missing.txt"], "does not exist", [new]),
        ([f"--input={b}/corpus.txt", f"--output_dir={new}", f"--vocab={b}/no_specials.txt"], "lacks special token",
         [new]),
        ([f"--input={b}/corpus.txt", f"--output_dir={new}", f"--vocab={b}/pad_not_0.txt"], "[PAD] must be id 0",
         [new]),
        # Another job's finished output: other settings (shards), other vocabulary, other inputs.
        (ok[:3] + ["--num_shards=3", f"--output_dir={done}"], "holds the output of another job: num_shards", [done]),
        ([f"--input={b}/corpus.txt", f"--vocab={b}/other_vocab.txt", "--max_seq_length=32", "--num_shards=2",
          f"--output_dir={done}"], "holds the output of another job: tokenizer", [done]),
        ([f"--input={b}/corpus.txt,{b}/empty.txt"] + ok[1:] + [f"--output_dir={done}"],
         "holds the output of another job: input_patterns", [done]),
        (ok + [f"--output_dir={b}/foreign"], "holds files this job writes (train-00000-of-00002.tfrecord, "
         "vocab.txt, ...) from another job", [b / "foreign"]),
        (ok + [f"--output_dir={b}/a_file"], "is a file; give a directory", [b / "a_file"]),
        (ok + [f"--output_dir={new}", "--max_seq_length=0"], "--max_seq_length must be positive", [new]),
        (ok + [f"--output_dir={new}", "--heldout_percent=150"], "--heldout_percent must be in [0, 100]", [new]),
    ]
    for argv, expected, watched in cases:
        line = run_mistake(build_pretraining_data.main, argv, capsys, watched + [b / "corpus.txt", vocab])
        assert expected in line, (argv, line)
    assert not os.path.exists(new)


def test_build_pretraining_data_reruns_and_overwrites_only_its_own_files(files, capsys):
    b, vocab, done = files["base"], files["vocab"], files["done"]
    ok = [f"--input={b}/corpus.txt", f"--vocab={vocab}", "--max_seq_length=32", "--num_shards=2"]
    before = snapshot(done)
    assert build_pretraining_data.main(ok + [f"--output_dir={done}"]) == 0
    assert "holds this job's finished output" in capsys.readouterr().out and snapshot(done) == before
    # A directory as --input stands for the files in it.
    (b / "dir_input").mkdir()
    (b / "dir_input" / "corpus.txt").write_text(TEXT)
    assert build_pretraining_data.main([f"--input={b}/dir_input"] + ok[1:] + [f"--output_dir={b}/from_dir"]) == 0
    assert "1 file(s)" in capsys.readouterr().out
    assert build_pretraining_data.main(ok + [f"--output_dir={b}/foreign", "--overwrite"]) == 0
    out = capsys.readouterr().out
    assert "--overwrite: replacing 2 file(s)" in out and "train-00000-of-00002.tfrecord, vocab.txt" in out
    assert (b / "foreign" / "notes.txt").read_text() == "another job's file\n"  # not this job's: kept
    assert sorted(os.listdir(b / "foreign")) == sorted(os.listdir(done) + ["notes.txt"])


def test_build_vocab_mistakes_are_one_line_and_change_nothing(files, capsys):
    b, vocab = files["base"], files["vocab"]
    new = str(b / "new_vocab.txt")
    ok = [f"--input={b}/corpus.txt", "--heldout_percent=0", "--workers=1"]
    cases = [
        ([f"--input={b}/none-*.txt", f"--output={new}"], "no input files match", [new]),
        ([f"--input={b}/empty_dir", f"--output={new}"], "empty_dir/*", [new]),
        ([f"--input={b}/notes.xyz", f"--output={new}"], "notes.xyz", [new]),
        ([f"--input={b}/empty.txt", f"--output={new}"], "no usable text", [new]),
        (ok + [f"--output={b}/empty_dir"], "is a directory", [b / "empty_dir"]),
        (ok + [f"--output={vocab}", "--vocab_size=100"], "exists and holds another vocabulary", [vocab]),
        (ok + [f"--output={b}/a_file/vocab.txt"], "a_file", [b / "a_file"]),
        (ok + [f"--output={new}", "--vocab_size=3"], "--vocab_size must exceed", [new]),
        (ok + [f"--output={new}", "--heldout_percent=100"], "--heldout_percent must be in [0, 100)", [new]),
        (ok + [f"--output={new}", "--model=sentencepiece"], "must end with .model", [new]),
        (ok + [f"--output={new}", "--workers=0"], "--workers must be positive", [new]),
        (ok + [f"--output={new}", "--max_documents=0"], "--max_documents must be positive", [new]),
    ]
    for argv, expected, watched in cases:
        line = run_mistake(build_vocab.main, argv, capsys, watched + [b / "corpus.txt"])
        assert expected in line, (argv, line)
    assert not os.path.exists(new)
    # The same vocabulary again is left as it is; --overwrite replaces another.
    assert build_vocab.main(ok + [f"--output={vocab}", "--vocab_size=120"]) == 0
    assert "already holds this vocabulary" in capsys.readouterr().out
    assert build_vocab.main(ok + [f"--output={b}/other_vocab.txt", "--vocab_size=120", "--overwrite"]) == 0
    assert "--overwrite: replacing" in capsys.readouterr().out
    assert open(b / "other_vocab.txt").read() == open(vocab).read()
