"""Warmup requests: what TF Serving replays when it loads a model version, so the first real
request does not pay for graph initialisation.

TF Serving reads `assets.extra/tf_serving_warmup_requests` in the version
directory: a TFRecord file of `PredictionLog` protos (tensorflow-serving-api),
at most 1000. Ours cover one text, and a batch with an empty string,
non-ASCII text and a text longer than the model's maximum length.
"""
from __future__ import annotations

import os

import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def sample_texts(max_seq_length: int) -> list[str]:
    """A plain sentence, an empty string, non-ASCII text (accents, Cyrillic, CJK, an emoji) and a
    text of more than `max_seq_length` words (so more tokens than the model takes)."""
    long_text = " ".join(["the quick brown fox jumps over the lazy dog ."] * (max_seq_length // 10 + 1))
    return ["A short sentence, with punctuation!", "", "Ünïcödé: café naïve, Москва, 東京タワー 😀", long_text]


def warmup_inputs(input_names: list[str], max_seq_length: int) -> list[dict[str, list[str]]]:
    """Requests {input name: (B,) texts}: one of batch 1, and one with every sample text, each
    input rotated by one more place so that pairs combine different kinds of text."""
    texts = sample_texts(max_seq_length)
    single = {name: [texts[0]] for name in input_names}
    batch = {name: texts[i:] + texts[:i] for i, name in enumerate(input_names)}
    return [single, batch]


def write_warmup_requests(saved_model_dir: str, signature_name: str, requests: list[dict]) -> str:
    """Writes `requests` ({input name: (B,) strings}) for `signature_name` as PredictionLogs; returns the path."""
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(signature_name=signature_name),
                inputs={name: tf.make_tensor_proto(values, dtype=tf.string) for name, values in inputs.items()})
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path
