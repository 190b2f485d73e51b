"""A training shard corrupted in the middle: a clear error naming the file after saving the
last good state, or with --skip_corrupt_records its readable part only, counted and reported."""
import dataclasses
import json
import os

import pytest

from core import run_files
from core.cli import UserError
from tests.trainers.conftest import TINY_OVERRIDES, write_data
from tests.trainers.test_run_options import scalars
from trainers.input_data import scan_records
from trainers.pretrain import main as pretrain_main


@pytest.fixture
def corrupt_data(tmp_path):
    directory = tmp_path / "data"
    manifest = write_data(str(directory))
    shards = sorted(p.name for p in directory.glob("train-*"))
    train = dataclasses.replace(manifest.splits["train"], shards=tuple(run_files.Shard(name, 128) for name in shards))
    run_files.write_manifest(str(directory), dataclasses.replace(manifest, splits=dict(manifest.splits, train=train)))
    path = directory / shards[0]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside a record near the middle of the file
    path.write_bytes(bytes(data))
    return directory, str(path)


def _args(data_dir, model_dir, *extra):
    return ["--data", f"{data_dir}/train-*", "--eval_data", f"{data_dir}/heldout-*", "--model_dir", str(model_dir),
            "--strategy", "cpu"] + [f"--override={o}" for o in TINY_OVERRIDES + ["train.num_steps=40"]] + list(extra)


def test_corrupt_record_stops_with_the_file_named_after_saving_the_last_good_state(corrupt_data, tmp_path):
    data_dir, corrupt = corrupt_data
    good, offset = scan_records(corrupt)
    assert 40 < good < 90 and offset > 0
    with pytest.raises(UserError) as error:
        pretrain_main(_args(data_dir, tmp_path / "run"))
    message = str(error.value)
    assert message.startswith(f"{corrupt}: corrupted record at byte {offset} (after {good} readable records)")
    assert "--skip_corrupt_records" in message and "\n" not in message
    saved = sorted(p.name for p in (tmp_path / "run").glob("ckpt-*.index"))
    step = int(saved[-1][len("ckpt-"):-len(".index")])
    assert 0 < step < 40 and f"ckpt-{step}" in message


def test_skip_corrupt_records_trains_on_the_readable_part_and_reports_the_count(corrupt_data, tmp_path, capsys):
    data_dir, corrupt = corrupt_data
    good, offset = scan_records(corrupt)
    assert pretrain_main(_args(data_dir, tmp_path / "run", "--skip_corrupt_records")) == 0
    out = capsys.readouterr().out
    assert f"skipping corrupt records: {corrupt} from byte {offset} ({128 - good} records; {good} kept)" in out
    assert "step 40/40" in out
    results = json.loads((tmp_path / "run" / "eval_results.json").read_text())
    assert results["skipped_corrupt_records"] == 128 - good
    assert results["corrupt_files"] == {corrupt: {"offset": offset, "records_kept": good, "records_lost": 128 - good}}
    assert scalars(os.path.join(tmp_path, "run", "train"))["skipped_corrupt_records"] == {0: 128 - good}
