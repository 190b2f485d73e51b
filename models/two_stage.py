"""Two-stage training (ELECTRA paper, sec. 3.2, "Training Algorithms").

1. Train only the generator with the MLM loss for n steps.
2. Initialise the discriminator with the generator's weights, then train only
   the discriminator with the discriminator loss, the generator frozen.

n = ModelConfig.two_stage_generator_steps; generator and discriminator have
the same size and untied weights (the config checks this).
"""

from __future__ import annotations

from configs import ModelConfig


def stage_at(config: ModelConfig, step: int) -> str:
    """Stage of the step that runs when `step` steps are done: joint, generator or discriminator."""
    n = config.two_stage_generator_steps
    if not n:
        return "joint"
    return "generator" if step < n else "discriminator"


def stage_variables(model, stage: str) -> list:
    """The trainable variables that `stage` updates, in model order."""
    if stage == "joint":
        return list(model.trainable_variables)
    if stage == "generator":
        parts = (model.generator, model.generator_head)
    elif stage == "discriminator":
        parts = (model.discriminator, model.discriminator_head)
        if hasattr(model, "sentence_order_head"):  # SOP is the discriminator's task
            parts += (model.sentence_order_head,)
    else:
        raise ValueError(f"unknown training stage {stage!r}")
    wanted = {id(v) for part in parts for v in part.trainable_variables}
    return [v for v in model.trainable_variables if id(v) in wanted]


def init_discriminator_from_generator(model) -> None:
    """Copies the generator encoder's weights (embeddings included) into the discriminator's.

    The discriminator's head keeps its own initialisation (the generator has none).
    """
    source, target = model.generator.variables, model.discriminator.variables
    if model.generator is model.discriminator or len(source) != len(target):
        raise ValueError(
            "two-stage training needs a separate generator of the discriminator's size"
        )
    for src, dst in zip(source, target):
        if tuple(src.shape) != tuple(dst.shape):
            raise ValueError(f"cannot copy {src.path} {src.shape} into {dst.path} {dst.shape}")
        dst.assign(src)
