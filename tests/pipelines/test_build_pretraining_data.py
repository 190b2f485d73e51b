"""Flag handling of the pre-training data command (no pipeline run)."""
import pytest

from pipelines import build_pretraining_data, inputs


def test_inputs_are_split_and_unknown_flags_go_to_beam():
    args, beam_args = build_pretraining_data.parse_args(
        ["--input=a/*.bz2,b.xml", "--input", "c.xml", "--output_dir=o", "--vocab=v",
         "--no_lowercase", "--direct_num_workers=2", "--runner=DirectRunner"])
    assert inputs.split_patterns(args.input) == ["a/*.bz2", "b.xml", "c.xml"]
    assert (args.lowercase, args.max_seq_length, args.seed) == (False, 128, 12345)
    assert beam_args == ["--direct_num_workers=2", "--runner=DirectRunner"]


def test_fails_fast_on_unmatched_input(tmp_path):
    with pytest.raises(SystemExit, match="no input files match"):
        build_pretraining_data.main([f"--input={tmp_path}/*.bz2", f"--output_dir={tmp_path}",
                                     f"--vocab={tmp_path}/vocab.txt"])


def test_fails_fast_on_missing_vocab(tmp_path):
    (tmp_path / "dump.xml").write_text("<mediawiki/>")
    with pytest.raises(SystemExit, match="vocab file .* does not exist"):
        build_pretraining_data.main([f"--input={tmp_path}/*.xml", f"--output_dir={tmp_path}",
                                     f"--vocab={tmp_path}/vocab.txt"])
