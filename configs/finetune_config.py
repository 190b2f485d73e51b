"""Typed, frozen configuration for fine-tuning a pre-trained discriminator (ELECTRA paper, Table 7).

`finetune_config(task, encoder, overrides)` gives the paper's defaults for
the pre-trained model's size and the task, then applies dotted overrides
(`train.learning_rate=1e-4`, `epochs=5`, `task.max_seq_length=256`; unknown
keys are errors). The encoder's sizes come from the pre-trained run and
cannot be overridden; its dropout rates can.
"""
from __future__ import annotations

import dataclasses

from configs.pretrain_config import EncoderConfig, TrainConfig, apply_overrides

GLUE_TASKS = ("cola", "sst2", "mrpc", "stsb", "qqp", "mnli", "qnli", "rte", "wnli")
SQUAD_TASKS = ("squad_v1", "squad_v2")
USER_TASKS = ("classification", "regression")
TASKS = GLUE_TASKS + SQUAD_TASKS + USER_TASKS
REGRESSION_TASKS = ("stsb", "regression")
# "release": the ELECTRA release's depth map (head at depth L + 2, layer i at i + 1,
# embeddings at 0), so the top encoder layer gets decay^2; "paper": the head at
# the full rate and each level below one factor lower (top layer decay^1).
LAYERWISE_DEPTHS = ("release", "paper")


@dataclasses.dataclass(frozen=True)
class TaskConfig:
    """The task and its input sizes; SQuAD's span settings as in the ELECTRA release."""

    name: str = "classification"
    max_seq_length: int = 128
    # The input's text columns, comma-separated (one text or a pair), and the label column:
    # set from GLUE's files or --text_columns / --label_column; export serves that many texts.
    text_columns: str = ""
    label_column: str = ""
    doc_stride: int = 128  # SQuAD: tokens between the starts of a long context's windows
    max_query_length: int = 64  # SQuAD: question tokens kept
    max_answer_length: int = 30  # SQuAD: longest answer span, in tokens
    n_best_size: int = 20  # SQuAD: start and end candidates per window
    answerable_weight: float = 0.5  # SQuAD 2.0: weight of the answerability loss

    def __post_init__(self):
        if self.name not in TASKS:
            raise ValueError(f"task {self.name!r} is not one of {TASKS}")
        if self.max_seq_length < 8:
            raise ValueError(f"task.max_seq_length must be >= 8, got {self.max_seq_length}")
        if min(self.doc_stride, self.max_query_length, self.max_answer_length, self.n_best_size) < 1:
            raise ValueError("task.doc_stride, max_query_length, max_answer_length and n_best_size must be >= 1")
        if self.is_squad and self.max_seq_length < self.max_query_length + 4:
            raise ValueError(f"task.max_seq_length {self.max_seq_length} leaves no room for a context after a "
                             f"question of task.max_query_length {self.max_query_length} tokens, [CLS] and 2 [SEP]")

    @property
    def is_regression(self) -> bool:
        return self.name in REGRESSION_TASKS

    @property
    def is_squad(self) -> bool:
        return self.name in SQUAD_TASKS

    @property
    def num_texts(self) -> int:
        return len([c for c in self.text_columns.split(",") if c])


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    """Fine-tuning: the task, the pre-trained encoder's sizes, optimisation and schedule.

    train.num_steps and train.warmup_steps are resolved when the training data
    is known: ceil(epochs x examples / batch) and warmup_proportion of it.
    layerwise_lr_decay: each level below the head trains at this factor of the
    rate above it (1 turns it off); layerwise_depths: see LAYERWISE_DEPTHS.
    pooler: classification and regression read BERT's pooler (dense + tanh on
    [CLS], part of the head, at its learning rate) instead of [CLS] itself;
    default: whether the pre-trained run has one (an imported BERT).
    """

    task: TaskConfig = TaskConfig()
    encoder: EncoderConfig = EncoderConfig()
    train: TrainConfig = TrainConfig()
    epochs: float = 3.0
    warmup_proportion: float = 0.1
    layerwise_lr_decay: float = 0.8
    layerwise_depths: str = "release"
    pooler: bool = False

    def __post_init__(self):
        if self.pooler and self.task.is_squad:
            raise ValueError("pooler: the SQuAD head reads every token's hidden state, not a pooled [CLS]")
        if self.layerwise_depths not in LAYERWISE_DEPTHS:
            raise ValueError(f"layerwise_depths must be one of {LAYERWISE_DEPTHS}, got {self.layerwise_depths!r}")
        if not 0 < self.layerwise_lr_decay <= 1:
            raise ValueError(f"layerwise_lr_decay must be in (0, 1], got {self.layerwise_lr_decay}")
        if self.epochs <= 0 or not 0 <= self.warmup_proportion < 1:
            raise ValueError("epochs must be > 0 and warmup_proportion in [0, 1)")
        if self.task.max_seq_length > self.encoder.max_position_embeddings:
            raise ValueError(f"task.max_seq_length {self.task.max_seq_length} exceeds the model's "
                             f"max_position_embeddings {self.encoder.max_position_embeddings}")


def model_size(encoder: EncoderConfig) -> str:
    """The paper's size class of an encoder: small (hidden < 768), base, or large (>= 1024)."""
    return "large" if encoder.hidden_size >= 1024 else "base" if encoder.hidden_size >= 768 else "small"


# Paper, Table 7: learning rate by size; layer-wise decay 0.8 (0.9 for large).
SIZE_DEFAULTS = {"small": (3e-4, 0.8), "base": (1e-4, 0.8), "large": (5e-5, 0.9)}


def default_epochs(task: str) -> float:
    """3 epochs; 10 for RTE and STS-B, 2 for SQuAD (paper, Table 7)."""
    return 10.0 if task in ("rte", "stsb") else 2.0 if task in SQUAD_TASKS else 3.0


def finetune_config(task: str, encoder: EncoderConfig, overrides: list[str] = (),
                    pooler: bool = False) -> FinetuneConfig:
    """The paper's fine-tuning defaults for `task` on a pre-trained `encoder`, with overrides.

    Dropout 0.1, batch 32, AdamW (eps 1e-6, weight decay 0), warmup 10%,
    learning rate and layer-wise decay by size, epochs by task; max_seq_length
    128 (512 for SQuAD), capped by the model's position table; SQuAD's
    max_query_length 64, at most half of max_seq_length. `pooler`: the pre-trained
    run has BERT's pooler (classification and regression then read it).
    """
    lr, decay = SIZE_DEFAULTS[model_size(encoder)]
    length = min(512 if task in SQUAD_TASKS else 128, encoder.max_position_embeddings)
    config = FinetuneConfig(
        task=TaskConfig(name=task, max_seq_length=length, max_query_length=min(64, length // 2)),
        encoder=dataclasses.replace(encoder, dropout_rate=0.1, attention_dropout_rate=0.1),
        train=TrainConfig(batch_size=32, num_steps=1, learning_rate=lr, warmup_steps=0, weight_decay=0.0,
                          log_every=100, checkpoint_every=1000, steps_per_loop=100),
        epochs=default_epochs(task),
        layerwise_lr_decay=decay,
        pooler=pooler and task not in SQUAD_TASKS,
    )
    config = apply_overrides(config, list(overrides))
    fixed = ("dropout_rate", "attention_dropout_rate")
    changed = [f.name for f in dataclasses.fields(EncoderConfig)
               if f.name not in fixed and getattr(config.encoder, f.name) != getattr(encoder, f.name)]
    if changed:
        raise ValueError(f"encoder.{changed[0]} comes from the pre-trained model and cannot be overridden "
                         "(only encoder.dropout_rate and encoder.attention_dropout_rate can)")
    return config


def resolve_steps(config: FinetuneConfig, num_examples: int, overrides: list[str] = ()) -> FinetuneConfig:
    """`config` with train.num_steps = ceil(epochs x num_examples / batch_size) and
    warmup_steps = warmup_proportion of it, unless overridden; logging and
    checkpoints at most every 1/20 of the run."""
    t = config.train
    given = {o.split("=", 1)[0].strip() for o in overrides}
    steps = t.num_steps if "train.num_steps" in given else max(1, -(-int(config.epochs * num_examples) // t.batch_size))
    changes = {"num_steps": steps}
    if "train.warmup_steps" not in given:
        changes["warmup_steps"] = int(config.warmup_proportion * steps)
    for name in ("log_every", "checkpoint_every", "steps_per_loop"):
        if f"train.{name}" not in given:
            changes[name] = max(1, min(getattr(t, name), steps // 20 or 1))
    return dataclasses.replace(config, train=dataclasses.replace(t, **changes))
