"""Training throughput of our RTD train step against tf-models-official's ELECTRA; prints JSON.

    python -m benchmarks.train_throughput [--config=small] [--batch_size=32] [--steps=4]
        [--repeats=3] [--jit=both|on|off] [--precision=both|float32|mixed_bfloat16]

Ours: `trainers.loop.Trainer` with the pre-training task under OneDeviceStrategy, its real
multi-step loop `Trainer.run_steps` (what `train` runs between checkpoints: tf.data over
synthetic full-length TFRecords, in-model dynamic masking and Gumbel sampling, AdamW with
clipping; XLA via train.jit_compile). Model Garden: `official.nlp.modeling.models.ElectraPretrainer`
over two `networks.BertEncoder`s of the same sizes (generator hidden, heads and
FFN scaled by generator_size, word embeddings shared as in Model Garden's
ELECTRA task, exact GELU, dropout 0.1), trained by a GradientTape step with
loss = 1 x MLM + 50 x discriminator and `AdamWeightDecay` (clip norm 1.0)
over one fixed batch whose masks were drawn beforehand (Model Garden masks in
the input pipeline), the loop in a tf.function like ours; XLA compiles its
per-step function like ours. Timings exclude tracing/compiling (one warm-up
call); the two run alternately, `--repeats` times, and medians are reported.
`tokens_per_step` counts the input tokens each side's timed steps processed (non-padding,
128 per row here), and `optimizer_steps` the updates each optimizer made (warm-up included).
Both run under each `--precision` (Keras 3 and tf_keras mixed-precision
policies; Model Garden's encoders only, its pretrainer heads cannot run in
bfloat16). On CPU, XLA-compiling either small train step takes minutes.

Without XLA, `step_parts` also times our step's parts, each alone as its own
tf.function at the same shapes (masking, generator forward + backward with
its MLM loss, sampling, discriminator forward + backward with its RTD loss
and statistics, optimizer update with clipping), alternating, medians;
`other` is the whole step minus their sum (input pipeline, statistics,
gradient norm; parts that overlap in the whole step make it smaller).
"""
import json
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import tensorflow as tf
import tf_keras

from benchmarks.flags import preset_config, require_positive
from benchmarks.machine import cpu_description
from benchmarks.model_flops import FLOP_FORMULA, train_flops_per_sequence
from core import cli
from models.rtd_loss import discriminator_statistics, masked_lm_statistics
from trainers.distribution import make_strategy
from trainers.loop import Trainer
from trainers.tasks.pretraining import PretrainingTask

SEQ = 128
PARTS = ("masking", "generator_forward_backward", "sampling", "discriminator_forward_backward",
         "optimizer")
SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4}
def write_records(directory: str, vocab_size: int, count: int = 64) -> str:
    """Full-length [CLS] w.. [SEP] examples with random word ids; returns the file pattern."""
    rng = np.random.default_rng(0)
    path = os.path.join(directory, "train-00000-of-00001.tfrecord")
    with tf.io.TFRecordWriter(path) as writer:
        for _ in range(count):
            ids = [2] + rng.integers(5, vocab_size, SEQ - 2).tolist() + [3]
            feature = {name: tf.train.Feature(int64_list=tf.train.Int64List(value=value))
                       for name, value in (("input_ids", ids), ("input_mask", [1] * SEQ),
                                           ("segment_ids", [0] * SEQ))}
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())
    return path


def dense_gradients(grads, variables) -> list:
    """Gradients as dense tensors, zeros where a variable does not affect the loss."""
    return [tf.zeros(v.shape, v.dtype) if g is None else tf.convert_to_tensor(g) for g, v in zip(grads, variables)]


def part_functions(trainer) -> dict:
    """PARTS of our train step, each a tf.function of no arguments over one fixed batch;
    the inputs of a part (masks, logits, samples, gradients) are computed once beforehand."""
    model, c = trainer.model, trainer.task.config.model
    batch = {k: tf.cast(v, tf.int32) for k, v in next(trainer.train_iterator).items()}
    ids, mask, segments = batch["input_ids"], batch["input_mask"], batch["segment_ids"]
    variables = model.trainable_variables

    def masking():
        return model.mask(ids, mask, segments)

    keys, masked, _, _, _ = masking()

    def generator_forward_backward():
        with tf.GradientTape() as tape:
            logits = model.generator_logits(masked.input_ids, mask, segments, masked.positions, training=True)
            s = masked_lm_statistics(logits, masked.targets, masked.weights)
            loss = c.mlm_weight * s["mlm_loss_sum"] / s["mlm_count"]
        return logits, dense_gradients(tape.gradient(loss, variables), variables)

    logits, generator_grads = generator_forward_backward()

    def sampling():
        return model.corrupt(ids, mask, keys, masked, logits)

    _, corrupted, labels = sampling()

    def discriminator_forward_backward():
        with tf.GradientTape() as tape:
            s = discriminator_statistics(model.discriminate(corrupted, mask, segments, training=True),
                                         labels, mask)
            loss = c.disc_weight * s["disc_loss_sum"] / s["disc_count"]
        return s, dense_gradients(tape.gradient(loss, variables), variables)

    _, discriminator_grads = discriminator_forward_backward()
    grads = [a + b for a, b in zip(generator_grads, discriminator_grads)]

    def optimizer():
        trainer.optimizer.apply(grads, variables)
        return trainer.optimizer.iterations

    return {name: tf.function(f) for name, f in zip(PARTS, (
        masking, generator_forward_backward, sampling, discriminator_forward_backward, optimizer))}


def timed(run) -> tuple:
    """((wall-clock seconds, this process's CPU seconds), result) of run()."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    return (time.perf_counter() - wall, time.process_time() - cpu), result


def step_parts(trainer, repeats: int, step: dict) -> dict:
    """Median wall and CPU seconds of each of PARTS alone (alternating, `repeats` times), and the
    rest of a step (`step`: the whole step's {"seconds", "cpu_seconds"})."""
    functions = part_functions(trainer)
    times = {name: [] for name in functions}
    for _ in range(repeats + 1):  # the first round traces
        for name, f in functions.items():
            times[name].append(timed(lambda: tf.nest.map_structure(lambda t: t.numpy(), f()))[0])
    result = {}
    for i, clock in enumerate(("seconds", "cpu_seconds")):
        parts = {name: statistics.median(t[i] for t in ts[1:]) for name, ts in times.items()}
        parts["other"] = step[clock] - sum(parts.values())
        result[clock] = {k: round(v, 4) for k, v in parts.items()}
    result["fraction"] = {k: round(v / step["seconds"], 3) for k, v in result["seconds"].items()}
    return result


class Ours:
    """The Trainer's own multi-step loop; run(n) runs n steps and returns the input tokens they
    processed (the loop's count of non-padding tokens)."""

    def __init__(self, config, pattern):
        task = PretrainingTask(config, SPECIAL, pattern, SEQ)
        self.trainer = Trainer(task, make_strategy("one_device"), tempfile.mkdtemp())

    def run(self, steps: int) -> float:
        totals, _ = self.trainer.run_steps(steps)
        return float(totals["tokens"])

    @property
    def optimizer_steps(self) -> int:
        return self.trainer.step


class ModelGarden:
    """tf-models-official ElectraPretrainer with a comparable custom train step; run(n) runs n steps
    and returns the input tokens they processed (non-padding tokens of their batches)."""

    def __init__(self, config, batch_size: int, jit: bool):
        from official.modeling.optimization.legacy_adamw import AdamWeightDecay
        from official.nlp.modeling import models, networks
        d, g = config.model.encoder, config.model.generator_encoder()
        tf_keras.mixed_precision.set_global_policy(config.train.precision)

        def encoder(c, embedding_layer=None):
            return networks.BertEncoder(
                vocab_size=c.vocab_size, hidden_size=c.hidden_size, num_layers=c.num_layers,
                num_attention_heads=c.num_heads, max_sequence_length=c.max_position_embeddings,
                type_vocab_size=c.type_vocab_size, inner_dim=c.intermediate_size, inner_activation="gelu",
                output_dropout=c.dropout_rate, attention_dropout=c.attention_dropout_rate,
                embedding_width=c.embedding_size, embedding_layer=embedding_layer, dict_outputs=True)

        discriminator = encoder(d)
        generator = encoder(g, discriminator.get_embedding_layer())
        # Its heads stay float32: under mixed_bfloat16 its sampling adds float32 noise to
        # bfloat16 logits and fails.
        tf_keras.mixed_precision.set_global_policy("float32")
        self.model = models.ElectraPretrainer(
            generator, discriminator, vocab_size=d.vocab_size, num_classes=2,
            num_token_predictions=config.model.max_predictions_per_seq, mlm_activation="gelu",
            mlm_initializer=tf_keras.initializers.TruncatedNormal(stddev=d.initializer_range))
        self.optimizer = AdamWeightDecay(
            config.train.learning_rate, epsilon=config.train.adam_epsilon,
            weight_decay_rate=config.train.weight_decay, gradient_clip_norm=config.train.clip_norm,
            exclude_from_weight_decay=["LayerNorm", "layer_norm", "bias"])
        self.batch = self._masked_batch(batch_size, d.vocab_size, config.model.max_predictions_per_seq)
        self.model(self.batch)
        # The encoders' poolers and the sentence-classification head are outside the loss.
        self.variables = [v for v in self.model.trainable_variables
                          if "pooler" not in v.name and "classification" not in v.name]
        self.step = tf.function(self._step, jit_compile=jit)
        self.mlm_weight, self.disc_weight = config.model.mlm_weight, config.model.disc_weight

    @staticmethod
    def _masked_batch(batch_size, vocab_size, predictions):
        """Model Garden's pretraining features, masks drawn once: 15% of positions 1..T-2 -> [MASK]."""
        rng = np.random.default_rng(1)
        ids = rng.integers(5, vocab_size, (batch_size, SEQ))
        ids[:, 0], ids[:, -1] = 2, 3
        positions = np.sort(np.stack([rng.choice(np.arange(1, SEQ - 1), predictions, replace=False)
                                      for _ in range(batch_size)]), axis=1)
        targets = np.take_along_axis(ids, positions, axis=1)
        masked = ids.copy()
        np.put_along_axis(masked, positions, 4, axis=1)
        return {"input_word_ids": tf.constant(masked, tf.int32), "input_mask": tf.ones_like(masked, tf.int32),
                "input_type_ids": tf.zeros_like(masked, tf.int32),
                "masked_lm_positions": tf.constant(positions, tf.int32),
                "masked_lm_ids": tf.constant(targets, tf.int32),
                "masked_lm_weights": tf.ones(positions.shape, tf.float32)}

    def _step(self, batch):
        with tf.GradientTape() as tape:
            out = self.model(batch, training=True)
            weights = batch["masked_lm_weights"]
            mlm = tf.nn.sparse_softmax_cross_entropy_with_logits(batch["masked_lm_ids"], out["lm_outputs"])
            mlm = tf.reduce_sum(mlm * weights) / tf.reduce_sum(weights)
            mask = tf.cast(batch["input_mask"], tf.float32)
            disc = tf.nn.sigmoid_cross_entropy_with_logits(tf.cast(out["disc_label"], tf.float32),
                                                           out["disc_logits"])
            disc = tf.reduce_sum(disc * mask) / tf.reduce_sum(mask)
            loss = self.mlm_weight * mlm + self.disc_weight * disc
        grads = tape.gradient(loss, self.variables)
        self.optimizer.apply_gradients(zip(grads, self.variables))
        return tf.linalg.global_norm(grads)

    @tf.function
    def _steps(self, steps):
        norm, tokens = tf.constant(0.0), tf.constant(0.0)
        for _ in tf.range(steps):
            norm += self.step(self.batch)
            tokens += tf.reduce_sum(tf.cast(self.batch["input_mask"], tf.float32))
        return norm, tokens

    def run(self, steps: int) -> float:
        _, tokens = self._steps(tf.constant(steps))
        return float(tokens)

    @property
    def optimizer_steps(self) -> int:
        return int(self.optimizer.iterations.numpy())


def rates(times: list, tokens: float, steps: int, batch_size: int, flops_per_sequence: float) -> dict:
    """Median-based rates from per-repeat (wall, CPU) seconds of `steps` steps each, and the
    input tokens the repeats processed. The CPU seconds (all threads) tell how much work a
    step is when other processes share the cores."""
    step_s = statistics.median(wall for wall, _ in times) / steps
    tokens_per_step = tokens / (steps * len(times))
    return {"steps_per_sec": 1 / step_s, "sequences_per_sec": batch_size / step_s,
            "tokens_per_step": tokens_per_step, "tokens_per_sec": tokens_per_step / step_s,
            "gflops_per_sec": batch_size * flops_per_sequence / step_s / 1e9,
            "cpu_seconds_per_step": statistics.median(cpu for _, cpu in times) / steps,
            "seconds_per_repeat": [round(wall, 3) for wall, _ in times]}


def main(argv=None) -> int:
    p = cli.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="small", choices=("small", "tiny"))
    p.add_argument("--batch_size", type=int, default=32)
    p.add_argument("--steps", type=int, default=4, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--jit", default="both", choices=("both", "on", "off"))
    p.add_argument("--precision", default="both", choices=("both", "float32", "mixed_bfloat16"))
    args = p.parse_args(argv)
    require_positive(args, "batch_size", "steps", "repeats")
    data_dir = tempfile.mkdtemp()
    result = {"config": args.config, "seq_length": SEQ, "batch_size": args.batch_size, "steps": args.steps,
              "repeats": args.repeats, "device": "GPU" if tf.config.list_logical_devices("GPU") else "CPU",
              **cpu_description(), "tensorflow": tf.__version__, "flop_formula": FLOP_FORMULA}
    precisions = ("float32", "mixed_bfloat16") if args.precision == "both" else (args.precision,)
    for precision in precisions:
        for jit in {"both": (False, True), "on": (True,), "off": (False,)}[args.jit]:
            config = preset_config(args.config, [
                f"train.batch_size={args.batch_size}", f"train.jit_compile={jit}", f"train.precision={precision}",
                "train.steps_per_loop=1000000", "train.shuffle_buffer=64"])
            pattern = write_records(data_dir, config.model.encoder.vocab_size)
            flops = train_flops_per_sequence(config.model, SEQ)
            result["train_gflops_per_sequence"] = flops / 1e9
            runners = {"ours": Ours(config, pattern), "model_garden": ModelGarden(config, args.batch_size, jit)}
            seconds, tokens = {name: [] for name in runners}, {name: 0.0 for name in runners}
            for name, runner in runners.items():  # warm-up: tracing and compiling
                runner.run(1)
            for _ in range(args.repeats):
                for name, runner in runners.items():
                    clock, processed = timed(lambda: runner.run(args.steps))
                    seconds[name].append(clock)
                    tokens[name] += processed
            entry = {name: {**rates(s, tokens[name], args.steps, args.batch_size, flops),
                            "optimizer_steps": runners[name].optimizer_steps} for name, s in seconds.items()}
            entry["ours_over_model_garden"] = (entry["ours"]["steps_per_sec"]
                                               / entry["model_garden"]["steps_per_sec"])
            entry["ours_over_model_garden_cpu"] = (entry["model_garden"]["cpu_seconds_per_step"]
                                                   / entry["ours"]["cpu_seconds_per_step"])
            if not jit:
                step = {"seconds": 1 / entry["ours"]["steps_per_sec"],
                        "cpu_seconds": entry["ours"]["cpu_seconds_per_step"]}
                entry["step_parts"] = step_parts(runners["ours"].trainer, args.repeats, step)
            key = "xla" if jit else "no_xla"
            result.setdefault(precision, {})[key] = entry
            print(json.dumps({precision: {key: entry}}), file=sys.stderr, flush=True)
    if len(precisions) == 2 and "no_xla" in result["float32"]:
        result["ours_bfloat16_over_float32"] = (result["mixed_bfloat16"]["no_xla"]["ours"]["steps_per_sec"]
                                                / result["float32"]["no_xla"]["ours"]["steps_per_sec"])
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
