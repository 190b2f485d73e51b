"""A student initialised from its teacher's layers holds exactly those variables."""
import keras
import numpy as np

from configs import EncoderConfig
from models.distillation_loss import uniform_layer_map
from models.distillation_student import DistillationStudent
from models.finetuning_model import FinetuningModel
from models.student_init import init_from_teacher_layers, student_encoder_config


def _built(config, seed):
    keras.utils.set_random_seed(seed)
    model = FinetuningModel(config, "classification", 3)
    zeros = np.zeros((1, 8), np.int32)
    model({"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros})
    return model


def _values(layer):
    return [np.asarray(v) for v in layer.variables if "seed_generator" not in v.path]


def test_every_other_layer_embeddings_and_head_are_copied_exactly():
    teacher_config = EncoderConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_layers=6, num_heads=2,
                                   intermediate_size=32, max_position_embeddings=16)
    teacher = _built(teacher_config, 0)
    student = _built(student_encoder_config(teacher_config, 3), 1)
    layer_map = uniform_layer_map(3, 6)
    assert layer_map == [2, 4, 6]
    copied = init_from_teacher_layers(teacher, student, layer_map)
    t, s = teacher.encoder, student.encoder
    pairs = [(t.embeddings, s.embeddings), (t.projection, s.projection), (teacher.head, student.head)]
    pairs += [(t.layers[teacher_layer - 1], s.layers[m]) for m, teacher_layer in enumerate(layer_map)]
    assert copied == sum(len(_values(a)) for a, _ in pairs) == len(_values(student))
    for source, target in pairs:
        for a, b in zip(_values(source), _values(target)):
            np.testing.assert_array_equal(a, b)


def test_a_distillation_model_s_variables_begin_with_the_student_s():
    """So that its checkpoints read as the student's (trainers.model_loading restores by position)."""
    config = EncoderConfig(vocab_size=50, embedding_size=8, hidden_size=16, num_layers=2, num_heads=2,
                           intermediate_size=32, max_position_embeddings=16)
    student = _built(config, 0)
    model = DistillationStudent(student, teacher_width=24)
    own = student.variables
    assert [id(v) for v in model.variables[:len(own)]] == [id(v) for v in own]
    assert len(model.variables) == len(own) + 4  # two projections' kernel and bias
