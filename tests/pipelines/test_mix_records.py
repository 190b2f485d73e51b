"""pipelines.pretraining_data.mix_records: the finalize's merge of the units' records into a shard."""
import os

import pytest
import tensorflow as tf

from pipelines import pretraining_data


def _write(path, records):
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return str(path), os.path.getsize(path)


def _read(path):
    return [r.numpy() for r in tf.data.TFRecordDataset(str(path))]


@pytest.fixture
def sources(tmp_path):
    """Three sources of 300, 100 and 20 records of varied lengths, as one unit each would write."""
    return [_write(tmp_path / f"{name}.tfrecord", [f"{name}{i}".encode() * (1 + i % 5) for i in range(n)])
            for name, n in (("a", 300), ("b", 100), ("c", 20))]


def test_every_record_once_each_source_in_order(sources, tmp_path):
    pretraining_data.mix_records(sources, str(tmp_path / "out.tfrecord"), "12345/train/0")
    out = _read(tmp_path / "out.tfrecord")  # readable as TFRecords: framing and CRCs copied intact
    assert sorted(out) == sorted(r for path, _ in sources for r in _read(path))
    for path, _ in sources:
        mine = set(_read(path))
        assert [r for r in out if r in mine] == _read(path)


def test_sources_spread_through_the_shard_in_proportion(sources, tmp_path):
    pretraining_data.mix_records(sources, str(tmp_path / "out.tfrecord"), "12345/train/0")
    out = _read(tmp_path / "out.tfrecord")
    b_records = set(_read(sources[1][0]))
    # Concatenated, the first 210 records would hold no "b"; mixed, every tenth of the shard holds
    # about its share (b: 100 of 420 records, 24% of the bytes).
    for start in range(0, 420, 42):
        share = sum(r in b_records for r in out[start:start + 42]) / 42
        assert 0.1 < share < 0.4, (start, share)


def test_the_seed_alone_fixes_the_order(sources, tmp_path):
    for name, seed in (("x", "1/train/0"), ("y", "1/train/0"), ("z", "1/train/1")):
        pretraining_data.mix_records(sources, str(tmp_path / f"{name}.tfrecord"), seed)
    x, y, z = ((tmp_path / f"{n}.tfrecord").read_bytes() for n in "xyz")
    assert x == y and x != z and sorted(_read(tmp_path / "x.tfrecord")) == sorted(_read(tmp_path / "z.tfrecord"))


def test_groups_bound_the_open_files(sources, tmp_path, monkeypatch):
    monkeypatch.setattr(pretraining_data, "MIX_GROUP", 2)
    pretraining_data.mix_records(sources, str(tmp_path / "out.tfrecord"), "s")
    assert sorted(_read(tmp_path / "out.tfrecord")) == sorted(r for path, _ in sources for r in _read(path))


def test_a_truncated_file_is_an_error_naming_it(sources, tmp_path):
    path, size = sources[1]
    with open(path, "r+b") as f:
        f.truncate(size - 3)
    with pytest.raises(ValueError, match="b.tfrecord: truncated TFRecord of"):
        pretraining_data.mix_records(sources, str(tmp_path / "out.tfrecord"), "s")
