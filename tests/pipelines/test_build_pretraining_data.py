"""Flag handling of the pre-training data command (no pipeline run)."""
import os
import subprocess
import sys

import pytest

from pipelines import build_pretraining_data, inputs
from core.cli import UserError


def test_inputs_are_split_and_unknown_flags_go_to_beam():
    args, beam_args = build_pretraining_data.parse_args(
        ["--input=a/*.bz2,b.xml", "--input", "c.xml", "--output_dir=o", "--vocab=v",
         "--no_lowercase", "--direct_num_workers=2", "--runner=DirectRunner"])
    assert inputs.split_patterns(args.input) == ["a/*.bz2", "b.xml", "c.xml"]
    assert (args.lowercase, args.max_seq_length, args.seed) == (False, 128, 12345)
    assert beam_args == ["--direct_num_workers=2", "--runner=DirectRunner"]


def test_fails_fast_on_unmatched_input(tmp_path):
    with pytest.raises(UserError, match="no input files match"):
        build_pretraining_data.main([f"--input={tmp_path}/*.bz2", f"--output_dir={tmp_path}",
                                     f"--vocab={tmp_path}/vocab.txt"])


def test_fails_fast_on_missing_vocab(tmp_path):
    (tmp_path / "dump.xml").write_text("<mediawiki/>")
    with pytest.raises(UserError, match="vocab file .* does not exist"):
        build_pretraining_data.main([f"--input={tmp_path}/*.xml", f"--output_dir={tmp_path}",
                                     f"--vocab={tmp_path}/vocab.txt"])


@pytest.mark.parametrize("flag, message", [
    ("--format=pdf", "invalid choice: 'pdf'"), ("--num_shards=0", "--num_shards must be positive"),
    ("--heldout_percent=120", "--heldout_percent must be in"),
    ("--quality_filter=some", "invalid choice: 'some'")])
def test_bad_flags_are_clear_errors(flag, message, capsys):
    with pytest.raises(SystemExit):
        build_pretraining_data.parse_args(["--input=a", "--output_dir=o", "--vocab=v", flag])
    assert message in capsys.readouterr().err


def test_unknown_file_format_fails_fast(tmp_path):
    (tmp_path / "data.parquet").write_bytes(b"x")
    with pytest.raises(UserError, match="cannot tell the format .* pass --format"):
        build_pretraining_data.main([f"--input={tmp_path}/*", f"--output_dir={tmp_path}/o",
                                     f"--vocab={tmp_path}/vocab.txt"])


def test_quality_flags_reach_the_job_config():
    args, _ = build_pretraining_data.parse_args(
        ["--input=a", "--output_dir=o", "--vocab=v", "--min_words=7", "--quality_filter=all",
         "--strict", "--split_mb=0.5"])
    config = build_pretraining_data.job_config(args)
    assert (config.quality_filter.min_words, config.quality_formats, config.strict,
            config.split_bytes) == (7, "all", True, 2**19)
    assert config.filters("text") and config.quality_filter.max_words == 100_000


def test_launching_process_does_not_import_tensorflow(tmp_path):
    # Only the workers need TensorFlow (tokenizer, TFRecord writer): the command
    # starts in about a second, and with N worker processes TF loads N times, not N + 1.
    code = ("import sys\n"
            "from pipelines import build_pretraining_data, pretraining_data\n"
            "config = pretraining_data.JobConfig(vocab_path=sys.argv[1])\n"
            "tokenizer, _ = pretraining_data._static_fields(config, ['x'])\n"
            "assert tokenizer.special_token_ids['pad'] == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('tensorflow', 'tensorflow_text', 'keras')))\n")
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\n")
    out = subprocess.run([sys.executable, "-c", code, str(vocab)], capture_output=True,
                         text=True, check=True, cwd=os.path.dirname(os.path.dirname(
                             os.path.dirname(os.path.abspath(__file__))))).stdout
    assert out.strip() == "[]"
