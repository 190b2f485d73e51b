"""SQuAD from raw strings in one TensorFlow graph, for a SavedModel.

`SquadServer(model, tokenizer, task)` wraps a fine-tuned span model
(FinetuningModel, head "span") and the run's tokenizer; its `serve` runs
trainers.tasks.squad_graph's featurization (long contexts cut into windows
doc_stride pieces apart), the model and the span search, the very functions
fine-tuning evaluates with:

  question, context: (B,) string ->
    answer (B,) string: the best span's text ("" if the context has no valid span);
    start, end (B,) int32: its Unicode character (code point) offsets [start, end) in the
      context (-1 if none);
    score (B,) float32: its start plus end log-probability (-inf if none);
  SQuAD 2.0 also:
    no_answer_score (B,) float32: the no-answer logit (minus the highest answerability logit
      of the context's windows; the scale of null_odds.json);
    has_answer (B,) bool: no_answer_score <= null_threshold (fine-tuning chooses it on dev:
      eval_results.json's dev best_f1_thresh; `from_run` reads it) and a span was found.
"""
from __future__ import annotations

import os

import tensorflow as tf

from configs import FinetuneConfig, TaskConfig
from core import run_files
from models.finetuning_model import FinetuningModel
from pipelines.tokenization import Tokenizer
from trainers.model_loading import load_finetuned
from trainers.tasks.squad_graph import SquadFeaturizer, answer_texts, merge_windows, window_candidates


class SquadServer(tf.Module):
    """model: a FinetuningModel with head "span" (built); tokenizer: the run's
    pipelines.tokenization.Tokenizer; task: the run's TaskConfig (squad_v1 or squad_v2);
    null_threshold: SQuAD 2.0's no-answer threshold."""

    def __init__(self, model: FinetuningModel, tokenizer: Tokenizer, task: TaskConfig, null_threshold: float = 0.0):
        super().__init__()
        if not task.is_squad:
            raise ValueError(f"task {task.name} is not a SQuAD task")
        # The model's layers, not the keras.Model (whose own default signature would be saved too).
        self.encoder, self.head = model.encoder, model.head
        self.featurizer = SquadFeaturizer.from_tokenizer(tokenizer, task)
        self.version_2 = task.name == "squad_v2"
        self.max_answer_length, self.n_best_size = task.max_answer_length, task.n_best_size
        self.null_threshold = float(null_threshold)

    @classmethod
    def from_run(cls, run_dir: str) -> "SquadServer":
        """The server of a SQuAD fine-tuning run directory: its latest checkpoint, tokenizer and
        (2.0) the no-answer threshold its dev evaluation chose (0 if it has none)."""
        config = run_files.read_config(run_dir)
        if not isinstance(config, FinetuneConfig) or not config.task.is_squad:
            raise run_files.RunFilesError(f"{run_dir} is not a SQuAD fine-tuning run")
        settings = run_files.read_tokenizer(run_dir)
        tokenizer = Tokenizer(os.path.join(run_dir, settings.file), settings.lowercase)
        model = load_finetuned(run_dir, beam_size=config.task.n_best_size)
        results = os.path.join(run_dir, run_files.EVAL_RESULTS)
        threshold = 0.0
        if tf.io.gfile.exists(results):
            threshold = run_files.read_json(results).get("dev", {}).get("best_f1_thresh", 0.0)
        return cls(model, tokenizer, config.task, threshold)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="question"),
                                  tf.TensorSpec([None], tf.string, name="context")], autograph=False)
    def serve(self, question, context):
        none = tf.fill(tf.shape(question), -1)
        windows = self.featurizer.featurize(question, context, none, none)
        mask, segment_ids = windows["input_mask"], windows["segment_ids"]
        out = self.head(self.encoder(windows["input_ids"], mask, segment_ids, training=False), mask, segment_ids)
        candidates = window_candidates(out["start_top_log_probs"], out["start_top_index"], out["end_log_probs"],
                                       windows["start_char"], windows["end_char"], self.max_answer_length,
                                       self.n_best_size)
        spans = merge_windows(candidates, out["answerable_logits"], windows["example"], tf.shape(context)[0])
        start, end = spans["start"][:, 0], spans["end"][:, 0]
        result = {"answer": answer_texts(context, start, end), "start": start, "end": end,
                  "score": spans["score"][:, 0]}
        if self.version_2:
            result["no_answer_score"] = spans["no_answer"]
            result["has_answer"] = (spans["no_answer"] <= self.null_threshold) & (start >= 0)
        return result
