"""Training input: exact epochs, deterministic order, and resuming from a saved iterator."""
import os

import pytest
import tensorflow as tf

from tests.trainers.conftest import SEQ, write_data
from core import run_files
from core.run_files import find_manifest
from trainers.input_data import make_dataset


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("records"))
    write_data(directory, num_examples=96, num_shards=3)
    return directory


def _keys(batch):
    """One hashable key per example (its ids, which are distinct enough in the test data)."""
    return [tuple(row) for row in batch["input_ids"].numpy()]


def _stream(iterator, num_batches):
    return [key for _ in range(num_batches) for key in _keys(next(iterator))]


def test_every_epoch_holds_each_example_exactly_once(data_dir):
    pattern = os.path.join(data_dir, "train-*")
    everything = sorted(_keys(next(iter(make_dataset(pattern, 1000, SEQ, training=False, seed=0)))))
    assert len(everything) == 96
    stream = _stream(iter(make_dataset(pattern, 8, SEQ, training=True, seed=3, shuffle_buffer=16)), 36)
    epochs = [stream[i * 96:(i + 1) * 96] for i in range(3)]
    for epoch in epochs:
        assert sorted(epoch) == everything
    assert epochs[0] != epochs[1]  # reshuffled every epoch
    assert epochs[0] != everything  # and shuffled at all


def test_order_is_fixed_by_the_seed(data_dir):
    pattern = os.path.join(data_dir, "train-*")
    first = _stream(iter(make_dataset(pattern, 8, SEQ, training=True, seed=3)), 5)
    again = _stream(iter(make_dataset(pattern, 8, SEQ, training=True, seed=3)), 5)
    other = _stream(iter(make_dataset(pattern, 8, SEQ, training=True, seed=4)), 5)
    assert first == again and first != other


def test_restored_iterator_continues_the_same_stream(data_dir, tmp_path):
    """A fresh process would build a new iterator and restore it: it continues where the saved one stood."""
    pattern = os.path.join(data_dir, "train-*")
    reference = _stream(iter(make_dataset(pattern, 8, SEQ, training=True, seed=3, shuffle_buffer=16)), 20)
    iterator = iter(make_dataset(pattern, 8, SEQ, training=True, seed=3, shuffle_buffer=16))
    seen = _stream(iterator, 7)
    path = tf.train.Checkpoint(data=iterator).save(str(tmp_path / "ckpt"))
    fresh = iter(make_dataset(pattern, 8, SEQ, training=True, seed=3, shuffle_buffer=16))
    tf.train.Checkpoint(data=fresh).restore(path).assert_consumed()
    assert seen + _stream(fresh, 13) == reference


def test_workers_read_disjoint_files(data_dir):
    """Worker i of 3 reads exactly the records of file i (files are sharded, not records)."""
    pattern = os.path.join(data_dir, "train-*")
    files = sorted(tf.io.gfile.glob(pattern))
    for i in range(3):
        worker = make_dataset(pattern, 1000, SEQ, training=False, seed=0,
                              input_context=tf.distribute.InputContext(3, i, 3))
        direct = make_dataset(files[i], 1000, SEQ, training=False, seed=0)
        assert sorted(_keys(next(iter(worker)))) == sorted(_keys(next(iter(direct))))
    with pytest.raises(ValueError, match="cannot be sharded over 4 workers"):
        make_dataset(pattern, 8, SEQ, training=True, seed=0, input_context=tf.distribute.InputContext(4, 0, 4))


def test_manifest_errors_are_clear(tmp_path, data_dir):
    with pytest.raises(FileNotFoundError, match="no files match"):
        find_manifest(str(tmp_path / "none-*"))
    (tmp_path / "train-0.tfrecord").write_bytes(b"")
    with pytest.raises(run_files.RunFilesError, match="manifest.json not found"):
        find_manifest(str(tmp_path / "train-*"))
    assert find_manifest(os.path.join(data_dir, "train-*")).vocab_size == 64
