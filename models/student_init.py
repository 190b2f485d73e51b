"""A student initialised from its teacher's layers (DistilBERT, arXiv:1910.01108: the teacher's
width, one layer in every few kept, the embeddings copied)."""
from __future__ import annotations

import dataclasses

import keras

from configs import EncoderConfig


def student_encoder_config(teacher: EncoderConfig, num_layers: int) -> EncoderConfig:
    """The teacher's sizes with `num_layers` layers of their own (no cross-layer sharing)."""
    return dataclasses.replace(teacher, num_layers=num_layers, num_hidden_groups=0, layer_sharing="all")


def _weights(layer: keras.layers.Layer) -> list:
    return [v for v in layer.variables if "seed_generator" not in v.path]


def copy_layer_weights(source: keras.layers.Layer, target: keras.layers.Layer) -> int:
    """Copies every weight of `source` into `target` of the same structure (random-seed states
    are left alone); returns the number of variables copied."""
    pairs = list(zip(_weights(source), _weights(target)))
    if len(_weights(source)) != len(_weights(target)) or any(tuple(s.shape) != tuple(t.shape) for s, t in pairs):
        raise ValueError(f"{source.name} and {target.name} differ in their weights' number or shapes")
    for s, t in pairs:
        t.assign(s)
    return len(pairs)


def init_from_teacher_layers(teacher, student, layer_map: list[int]) -> int:
    """Copies into `student` (a built FinetuningModel of `student_encoder_config(teacher's, M)`)
    the teacher's embeddings (and embedding projection), teacher layer layer_map[m] (1..L) into
    student layer m + 1, and the task head. Returns the number of variables copied."""
    t, s = teacher.encoder, student.encoder
    copied = copy_layer_weights(t.embeddings, s.embeddings)
    if t.projection is not None:
        copied += copy_layer_weights(t.projection, s.projection)
    for m, layer in enumerate(layer_map):
        copied += copy_layer_weights(t.layers[t.schedule[layer - 1]], s.layers[s.schedule[m]])
    return copied + copy_layer_weights(teacher.head, student.head)
