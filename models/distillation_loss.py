"""Knowledge-distillation losses as per-replica sums (the loop divides them by global counts).

Prediction layer (the knowledge-distillation paper, arXiv:1503.02531): the KL
divergence from the teacher's to the student's softmax at temperature T, times
T^2; for regression the squared difference of the outputs (as TinyBERT does for
STS-B). DistilBERT (arXiv:1910.01108): 1 - cosine between the last hidden
states. TinyBERT (arXiv:1909.10351): MSE of the embedding outputs, of mapped
layers' hidden states (through a learned projection when the widths differ)
and of their pre-softmax attention scores, over real (non-padding) tokens only
(`intermediate_sums`).
"""
from __future__ import annotations

from keras import ops


def soft_cross_entropy(student_logits, teacher_logits, temperature: float):
    """KL(softmax(t / T) || softmax(s / T)) * T^2 per example: logits (B, K) -> (B,) float32.

    It differs from the soft cross-entropy -sum p_t log p_s by the teacher's
    entropy, which does not depend on the student: same gradient, 0 when the
    student's distribution is the teacher's. The T^2 keeps the gradient's scale
    independent of T.
    """
    s = ops.log_softmax(ops.cast(student_logits, "float32") / temperature, axis=-1)
    t = ops.log_softmax(ops.cast(teacher_logits, "float32") / temperature, axis=-1)
    return ops.sum(ops.exp(t) * (t - s), axis=-1) * temperature**2


def output_squared_error(student_outputs, teacher_outputs):
    """Regression: (s - t)^2 of the single output, (B, 1) each -> (B,) float32."""
    diff = ops.cast(student_outputs[:, 0], "float32") - ops.cast(teacher_outputs[:, 0], "float32")
    return ops.square(diff)


def token_mse_sum(student_states, teacher_states, input_mask):
    """Sum over real tokens of the mean squared difference over the width:
    (B, T, H) twice, mask (B, T) 1/0 -> scalar float32 (divide by the real tokens for the MSE)."""
    diff = ops.cast(student_states, "float32") - ops.cast(teacher_states, "float32")
    per_token = ops.mean(ops.square(diff), axis=-1)
    return ops.sum(per_token * ops.cast(input_mask, "float32"))


def cosine_distance_sum(student_states, teacher_states, input_mask):
    """Sum over real tokens of 1 - cos(s, t): (B, T, H) twice, mask (B, T) -> scalar float32."""
    s, t = ops.cast(student_states, "float32"), ops.cast(teacher_states, "float32")
    cosine = ops.sum(s * t, axis=-1) / ops.maximum(ops.norm(s, axis=-1) * ops.norm(t, axis=-1), 1e-12)
    return ops.sum((1.0 - cosine) * ops.cast(input_mask, "float32"))


def attention_score_mse_sum(student_scores, teacher_scores, input_mask):
    """Sum of squared differences of pre-softmax attention scores over every head and every
    (query, key) pair of real tokens: (B, N, T, T) twice, mask (B, T) -> scalar float32.
    Divide by `attention_pairs` for the MSE."""
    mask = ops.cast(input_mask, "float32")
    pairs = mask[:, None, :, None] * mask[:, None, None, :]
    diff = ops.cast(student_scores, "float32") - ops.cast(teacher_scores, "float32")
    return ops.sum(ops.square(diff) * pairs)


def attention_pairs(input_mask, num_heads: int):
    """The number of terms of `attention_score_mse_sum`: heads x sum over rows of (real tokens)^2."""
    real = ops.sum(ops.cast(input_mask, "float32"), axis=-1)
    return ops.sum(ops.square(real)) * num_heads


def uniform_layer_map(student_layers: int, teacher_layers: int) -> list[int]:
    """TinyBERT's uniform mapping: student layer m (1..M) learns from teacher layer
    floor(m * N / M) (1..N; 0 is the embedding output); the top layers always meet.
    E.g. 3 of 12: [4, 8, 12]; 4 of 6: [1, 3, 4, 6]."""
    if not 0 < student_layers <= teacher_layers:
        raise ValueError(f"a student of {student_layers} layers cannot map onto a teacher of {teacher_layers}")
    return [m * teacher_layers // student_layers for m in range(1, student_layers + 1)]


def parse_layer_map(text: str, student_layers: int, teacher_layers: int) -> list[int]:
    """The teacher layer (1..N) of each student layer from "a,b,c" (one per student layer), or the
    uniform map for ""; a count or a layer out of range is a ValueError naming it."""
    if not text:
        return uniform_layer_map(student_layers, teacher_layers)
    try:
        layers = [int(x) for x in text.split(",")]
    except ValueError:
        raise ValueError(f"layer map {text!r} is not comma-separated integers") from None
    if len(layers) != student_layers:
        raise ValueError(f"layer map {text!r} names {len(layers)} teacher layers for a student of {student_layers}")
    outside = [x for x in layers if not 1 <= x <= teacher_layers]
    if outside:
        raise ValueError(f"layer map {text!r}: teacher layer {outside[0]} is out of range; the teacher has "
                         f"layers 1..{teacher_layers}")
    return layers


def intermediate_sums(student: dict, teacher: dict, input_mask, layer_map: list[int]) -> dict:
    """TinyBERT's intermediate-layer sums for one batch.

    student: {"hidden_states": M + 1 tensors (B, T, H) at the teacher's width (projected),
    "attention_scores": M tensors (B, N, T, T)}; teacher: the same of its L layers; layer_map:
    the teacher layer (1..L) of each student layer. -> {"embedding_sum", "hidden_sum" (summed
    over the M layers; divide by the real tokens for TinyBERT's sum of per-layer MSEs),
    "attention_sum" (divide by `attention_pairs`)}, scalars float32.
    """
    s_states, t_states = student["hidden_states"], teacher["hidden_states"]
    hidden = attention = 0.0
    for m, layer in enumerate(layer_map, start=1):
        hidden = hidden + token_mse_sum(s_states[m], t_states[layer], input_mask)
        attention = attention + attention_score_mse_sum(student["attention_scores"][m - 1],
                                                        teacher["attention_scores"][layer - 1], input_mask)
    return {"embedding_sum": token_mse_sum(s_states[0], t_states[0], input_mask),
            "hidden_sum": hidden, "attention_sum": attention}
