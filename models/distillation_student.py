"""The model a distillation run trains: the student, and the projections onto its teacher's width.

The student's variables come first, in the student's own order, so a checkpoint of
this model reads as a checkpoint of the student alone (trainers.model_loading
restores a model's variables by position and ignores the rest): a distilled run is
exported, fine-tuned or distilled again like any run of the student's kind.
"""
from __future__ import annotations

import keras

from models.finetuning_model import FinetuningModel


class DistillationStudent(keras.Model):
    """student: a built FinetuningModel (task distillation) or ElectraPretrainer (general
    distillation: its discriminator is the student's encoder). With `teacher_width` set and
    different from the student's width, learned projections (TinyBERT's W_e for the embedding
    output, W_h shared by the hidden states) map the student's states to it.

    Call: {"input_ids", "input_mask", "segment_ids"} (B, T) int ->
      default: {"logits": (B, K)} (FinetuningModel students; the student's own forward pass);
      return_hidden: also "hidden": the last hidden states (B, T, H_t), projected;
      return_layers: also "hidden_states": M + 1 tensors (B, T, H_t), the embedding output and
        each layer's, projected; "attention_scores": M tensors (B, N, T, T), pre-softmax.
    """

    def __init__(self, student: keras.Model, teacher_width: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.student = student
        width = self.encoder.config.hidden_size
        self.embedding_projection = self.hidden_projection = None
        if teacher_width and teacher_width != width:
            self.embedding_projection = keras.layers.Dense(teacher_width, name="embedding_projection")
            self.hidden_projection = keras.layers.Dense(teacher_width, name="hidden_projection")
            self.embedding_projection.build((None, None, width))
            self.hidden_projection.build((None, None, width))

    @property
    def encoder(self):
        return self.student.encoder if isinstance(self.student, FinetuningModel) else self.student.discriminator

    @property
    def classifies(self) -> bool:
        return isinstance(self.student, FinetuningModel)

    def projections(self) -> list:
        return [p for p in (self.embedding_projection, self.hidden_projection) if p is not None]

    def _project(self, states, first: bool):
        layer = self.embedding_projection if first else self.hidden_projection
        return states if layer is None else layer(states)

    def call(self, features, training=None, return_hidden=False, return_layers=False):
        ids, mask, segments = features["input_ids"], features["input_mask"], features["segment_ids"]
        if not (return_hidden or return_layers):
            return {"logits": self.student(features, training=training)["logits"]}
        if return_layers:
            layers = self.encoder(ids, mask, segments, training=training, return_layers=True)
            states = layers["hidden_states"]
            out = {"hidden_states": [self._project(h, i == 0) for i, h in enumerate(states)],
                   "attention_scores": layers["attention_scores"]}
            last = states[-1]
        else:
            last = self.encoder(ids, mask, segments, training=training)
            out = {}
        if return_hidden:
            out["hidden"] = self._project(last, False)
        if self.classifies:
            out["logits"] = self.student.head(last, training=training)
        return out
