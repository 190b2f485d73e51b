"""Examples as serialized tf.train.Example records, and TFRecord files.

With `tokenization`, the TensorFlow the Beam job needs: it imports both in
its workers, not in the launching process.
"""
import tensorflow as tf

from pipelines import packing


def to_tf_example(input_ids: list[int], input_mask: list[int], segment_ids: list[int]
                  ) -> tf.train.Example:
    """tf.train.Example with int64 features input_ids, input_mask, segment_ids."""
    def int64s(values):
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))
    return tf.train.Example(features=tf.train.Features(feature={
        "input_ids": int64s(input_ids),
        "input_mask": int64s(input_mask),
        "segment_ids": int64s(segment_ids),
    }))


def serialize_example(input_ids: list[int], segment_ids: list[int], max_seq_length: int) -> bytes:
    """Pads an unpadded example and serializes it as a tf.train.Example, with
    features in a fixed order, so the bytes do not depend on the process."""
    example = to_tf_example(*packing.pad_example(input_ids, segment_ids, max_seq_length))
    return example.SerializeToString(deterministic=True)


def serialize_block(input_ids: list[int]) -> bytes:
    """A causal LM's block (pipelines.blocks) as a tf.train.Example with the one int64 feature
    input_ids, in deterministic bytes."""
    feature = {"input_ids": tf.train.Feature(int64_list=tf.train.Int64List(value=input_ids))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def open_writer(path: str) -> tf.io.TFRecordWriter:
    """A TFRecord writer of `path` (local or gs://, ...); `.write(bytes)`, `.close()`."""
    return tf.io.TFRecordWriter(path)
