"""Configuration: frozen dataclasses and named presets."""

from configs.presets import PRESETS, get_config, with_vocab_size
from configs.pretrain_config import (
    GENERATOR_TRAINING,
    GENERATORS,
    LAYER_SHARING,
    MASKING,
    OBJECTIVES,
    SHARING,
    EncoderConfig,
    ModelConfig,
    PretrainConfig,
    TrainConfig,
    apply_overrides,
    from_dict,
)
from configs.finetune_config import (
    GLUE_TASKS,
    SQUAD_TASKS,
    TASKS,
    FinetuneConfig,
    TaskConfig,
    finetune_config,
    resolve_steps,
)
