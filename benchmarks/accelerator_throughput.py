"""Training throughput of the RTD step under Keras 3's JAX backend (GPU/TPU, or CPU); prints JSON.

    python -m benchmarks.accelerator_throughput [--config=small|base|tiny] [--precision=bf16|fp32]
        [--batch_size=N] [--steps=20] [--repeats=3] [--peak_tflops=X] [--override=KEY=VALUE ...]

The model math is the package's own: `models.pretrainer.ElectraPretrainer`
(generator, discriminator, in-model masking and two-stage Gumbel sampling,
dropout as in pre-training), `models.rtd_loss` (the ELECTRA loss and its
statistics) and `trainers.optimization.make_optimizer` (AdamW, warmup x
linear decay, clipping), run through Keras's stateless API in one jitted
JAX function per step (no TensorFlow needed). Sequences are 128 tokens,
full length ([CLS] random ids [SEP]), a few batches cycled on the device.
bf16 is Keras's mixed_bfloat16 policy (float32 weights and optimizer).
The first call compiles; then `--repeats` times `--steps` steps are timed
and the median reported. FLOPs follow `benchmarks/model_flops.py` (the
formula of `train_throughput.py`); model FLOP utilisation divides them by
`--peak_tflops`, by default the dense bf16/fp32 peak of a known chip (else
unreported).
"""
import json
import os
import statistics
import sys
import time

os.environ["KERAS_BACKEND"] = "jax"

import jax  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.flags import preset_config, require_positive  # noqa: E402
from benchmarks.model_flops import FLOP_FORMULA, train_flops_per_sequence  # noqa: E402
from core import cli  # noqa: E402
from models.pretrainer import ElectraPretrainer  # noqa: E402
from models.rtd_loss import LOSS_COUNTS, replica_loss, rtd_metrics, rtd_statistics  # noqa: E402
from trainers.optimization import make_optimizer  # noqa: E402

SEQ = 128
SPECIAL = {"pad": 0, "cls": 2, "sep": 3, "mask": 4}
PRECISIONS = {"bf16": "mixed_bfloat16", "fp32": "float32"}
# Dense peak TFLOP/s per chip (vendor data sheets, SXM parts, no sparsity), by precision.
PEAK_TFLOPS = {"H200": {"bf16": 989.4, "fp32": 66.9}, "H100": {"bf16": 989.4, "fp32": 66.9},
               "A100": {"bf16": 312.0, "fp32": 19.5}}


def synthetic_batches(count: int, batch_size: int, vocab_size: int) -> list:
    """`count` batches of full-length [CLS] w.. [SEP] rows of random word ids."""
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(count):
        ids = rng.integers(5, vocab_size, (batch_size, SEQ)).astype("int32")
        ids[:, 0], ids[:, -1] = SPECIAL["cls"], SPECIAL["sep"]
        batches.append({"input_ids": ids, "input_mask": np.ones_like(ids),
                        "segment_ids": np.zeros_like(ids)})
    return [jax.device_put(b) for b in batches]


def make_train_step(model, optimizer, model_config):
    """A jitted (state, batch) -> (state, statistics) update of the whole RTD objective."""

    def loss_fn(trainable, non_trainable, batch):
        outputs, non_trainable = model.stateless_call(trainable, non_trainable, batch, training=True)
        stats = rtd_statistics(outputs)
        counts = {name: stats[name] for name in LOSS_COUNTS}  # one device: its counts are the global ones
        return replica_loss(stats, counts, model_config), (stats, non_trainable)

    grad_fn = jax.value_and_grad(loss_fn, has_aux=True)

    @jax.jit
    def train_step(state, batch):
        trainable, non_trainable, optimizer_variables = state
        (_, (stats, non_trainable)), grads = grad_fn(trainable, non_trainable, batch)
        trainable, optimizer_variables = optimizer.stateless_apply(optimizer_variables, grads, trainable)
        return (trainable, non_trainable, optimizer_variables), stats

    return train_step


def peak_tflops(device, precision: str):
    """The chip's dense peak from PEAK_TFLOPS, or None."""
    for chip, peaks in PEAK_TFLOPS.items():
        if chip in device.device_kind:
            return peaks[precision]
    return None


def main(argv=None) -> int:
    p = cli.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default="small", choices=("tiny", "small", "base"))
    p.add_argument("--precision", default="bf16", choices=sorted(PRECISIONS))
    p.add_argument("--batch_size", type=int, default=0, help="default: the config's")
    p.add_argument("--override", action="append", default=[], help="config key=value, repeatable")
    p.add_argument("--max_predictions", type=int, default=20, help="masked slots per 128-token row")
    p.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--peak_tflops", type=float, default=0.0, help="default: the chip's, if known")
    args = p.parse_args(argv)
    require_positive(args, "steps", "repeats", "max_predictions")
    for name in ("batch_size", "peak_tflops"):
        if getattr(args, name) < 0:
            raise cli.UserError(f"--{name} must not be negative (0: the default), got {getattr(args, name)}")
    if args.max_predictions > SEQ - 2:
        raise cli.UserError(f"--max_predictions={args.max_predictions}: a row has {SEQ - 2} maskable tokens")
    overrides = [f"model.max_predictions_per_seq={args.max_predictions}", "train.warmup_steps=10",
                 f"train.precision={PRECISIONS[args.precision]}"]
    if args.batch_size:
        overrides.append(f"train.batch_size={args.batch_size}")
    config = preset_config(args.config, overrides + args.override)
    batch_size = config.train.batch_size

    keras.mixed_precision.set_global_policy(config.train.precision)
    keras.utils.set_random_seed(config.train.seed)
    model = ElectraPretrainer(config.model, SPECIAL, seed=config.train.seed)
    batches = synthetic_batches(4, batch_size, config.model.encoder.vocab_size)
    model(batches[0], training=False)  # builds the variables
    optimizer = make_optimizer(config.train)
    optimizer.build(model.trainable_variables)
    state = ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
             [v.value for v in optimizer.variables])
    train_step = make_train_step(model, optimizer, config.model)

    step = 0

    def run(steps):
        nonlocal state, step
        totals = None
        for _ in range(steps):
            state, stats = train_step(state, batches[step % len(batches)])
            totals = stats if totals is None else jax.tree_util.tree_map(lambda a, b: a + b, totals, stats)
            step += 1
        return jax.block_until_ready(totals)

    start = time.perf_counter()
    first = run(1)
    compile_seconds = time.perf_counter() - start
    seconds = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        totals = run(args.steps)
        seconds.append(time.perf_counter() - start)
    step_seconds = statistics.median(seconds) / args.steps
    device = jax.devices()[0]
    flops = train_flops_per_sequence(config.model, SEQ)
    achieved = batch_size * flops / step_seconds
    peak = args.peak_tflops or peak_tflops(device, args.precision)
    metrics = {k: float(v) for k, v in rtd_metrics({k: np.asarray(v) for k, v in totals.items()}).items()}
    first_loss = float(rtd_metrics({k: np.asarray(v) for k, v in first.items()})["loss"])
    print(json.dumps({
        "config": args.config, "precision": args.precision, "keras_policy": config.train.precision,
        "seq_length": SEQ, "batch_size": batch_size, "vocab_size": config.model.encoder.vocab_size,
        "max_predictions": config.model.max_predictions_per_seq, "steps": args.steps, "repeats": args.repeats,
        "backend": keras.backend.backend(), "jax": jax.__version__, "keras": keras.__version__,
        "device": device.platform, "device_kind": device.device_kind, "device_count": jax.device_count(),
        "compile_seconds": compile_seconds, "seconds_per_repeat": [round(s, 4) for s in seconds],
        "steps_per_sec": 1 / step_seconds, "sequences_per_sec": batch_size / step_seconds,
        "tokens_per_sec": batch_size * SEQ / step_seconds,
        "train_gflops_per_sequence": flops / 1e9, "achieved_tflops": achieved / 1e12,
        "peak_tflops": peak, "model_flops_utilization": achieved / (peak * 1e12) if peak else None,
        "first_step_loss": first_loss, "last_repeat_metrics": metrics, "flop_formula": FLOP_FORMULA,
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
