"""Fine-tuning accuracy against pre-training steps: the budget at which pre-training starts to
help a downstream task. Prints the curve as JSON and as text.

    python -m benchmarks.transfer_curve --data='runs/demo/tfrecords/train-*' \
        --eval_data='runs/demo/tfrecords/heldout-*' --train_file=data/sentiment/train.tsv \
        --eval_file=data/sentiment/dev.tsv --output_dir=runs/curve \
        [--config=tiny] [--steps=12000] [--every=1500] [--finetune_at=1500,6000,12000] \
        [--task_name=sentiment] [--seeds=3] [--override=KEY=VALUE ...]

One pre-training run (`python -m trainers.pretrain`, the preset with --override, --steps steps)
keeps its checkpoint every --every steps (train.milestone_every) and evaluates the held-out data
there; each kept checkpoint (or those of --finetune_at), and a random initialisation of the same
architecture, is fine-tuned with `python -m trainers.finetune --task=classification --seeds=N` (the
paper's recipe for the model size), into OUTPUT_DIR/TASK_NAME/ (so several tasks share one
pre-training run), and the curve is written to OUTPUT_DIR/TASK_NAME/curve.json. Rows: step, pre-training FLOPs (benchmarks/model_flops.py, the generator included),
held-out discriminator AUC and masked-LM accuracy at that step, and the evaluation accuracy's
median and min-max over the seeds. `first_helps_at` is the first step whose worst seed beats the
random initialisation's best; `first_median_above` the first whose median beats random's median.
All checkpoints lie on one learning-rate schedule (warmup, then linear decay to --steps): step N
of the curve has not decayed to 0 as a run of N steps would have. Finished work in --output_dir is
reused, so an interrupted curve resumes by running it again.

Running time (2 cores, the demo's data, tiny, 3 seeds), measured 2026-11-30: pre-training
~5.6 steps/s alone (12,000 steps: 36 minutes; 51 with fine-tunings beside it), each point's
fine-tunings 4-5 minutes; --steps=6000 --every=1500 took 30 + 17 minutes. Not part of `make test`.
"""
import argparse
import glob
import json
import os
import sys
import time

import tensorflow as tf

from benchmarks.model_flops import FLOP_FORMULA, train_flops_per_sequence
from benchmarks.objective_comparison import add_study_arguments, check_inputs, config_for, finetune, run
from core import cli, run_files
from trainers.loop import MILESTONES
from trainers.results_table import load as load_results

HELDOUT = ("disc_auc", "disc_loss", "mlm_accuracy")


def parse_args(argv=None):
    p = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_arguments(p)
    p.add_argument("--steps", type=int, default=12000, help="pre-training steps of the run")
    p.add_argument("--every", type=int, default=1500, help="keep (and evaluate) a checkpoint every N steps")
    p.add_argument("--finetune_at", default="", help="comma-separated steps to fine-tune (multiples of --every; "
                                                     "default: every kept checkpoint)")
    p.add_argument("--task_name", default="classification", help="names the downstream task's folder and curve")
    args = p.parse_args(argv)
    if args.steps <= 0:
        p.error(f"--steps must be positive, got {args.steps}")
    if args.every <= 0 or args.steps % args.every:
        p.error(f"--every={args.every} must be positive and divide --steps={args.steps}")
    try:
        args.finetune_at = sorted({int(s) for s in args.finetune_at.split(",") if s.strip()})
    except ValueError:
        p.error(f"--finetune_at={args.finetune_at}: expected comma-separated numbers of steps")
    wrong = [s for s in args.finetune_at if s <= 0 or s % args.every or s > args.steps]
    if wrong:
        p.error(f"--finetune_at {wrong}: each must be a positive multiple of --every={args.every} up to --steps")
    if not args.task_name or "/" in args.task_name:
        p.error(f"--task_name={args.task_name!r}: give a plain folder name")
    return args


def checkpoints(model_dir: str, every: int) -> dict[int, str]:
    """{step: checkpoint prefix} of the run's checkpoints at multiples of `every` (milestones and
    regular ones)."""
    found = {}
    for directory in (model_dir, os.path.join(model_dir, MILESTONES)):
        for index in glob.glob(os.path.join(directory, "ckpt-*.index")):
            prefix = index[:-len(".index")]
            step = int(prefix.rsplit("-", 1)[1])
            if step and step % every == 0:
                found.setdefault(step, prefix)
    return dict(sorted(found.items()))


def heldout_by_step(model_dir: str) -> dict[int, dict]:
    """{step: {metric: value}} of the run's held-out evaluations (TensorBoard eval/ and, for the
    last step, eval_results.json)."""
    found = {}
    for path in glob.glob(os.path.join(model_dir, "eval", "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag in HELDOUT:
                    found.setdefault(event.step, {})[value.tag] = float(tf.make_ndarray(value.tensor))
    final = os.path.join(model_dir, run_files.EVAL_RESULTS)
    if os.path.exists(final):
        metrics = run_files.read_json(final)
        steps = run_files.read_config(model_dir).train.num_steps
        found[steps] = {k: metrics[k] for k in HELDOUT + ("constant_disc_loss",) if k in metrics}
    return found


def text_table(result: dict) -> str:
    random = result["random_init"]
    lines = [f"{result['task']}: eval accuracy over {result['seeds']} fine-tuning seeds against pre-training "
             f"steps ({result['config']} {' '.join(result['overrides'])}; majority class "
             f"{result['majority_class_accuracy']:.4f})",
             f"  {'step':>7}{'PFLOPs':>9}{'AUC':>8}{'MLM acc':>9}{'median':>9}{'min-max':>16}"]
    for row in result["curve"]:
        acc, held = row["accuracy"], row["heldout"]
        auc = f"{held['disc_auc']:.3f}" if "disc_auc" in held else "-"
        mlm = f"{held['mlm_accuracy']:.3f}" if "mlm_accuracy" in held else "-"
        lines.append(f"  {row['step']:>7}{row['flops'] / 1e15:>9.3f}{auc:>8}{mlm:>9}{acc['median']:>9.4f}"
                     f"{acc['min']:>8.4f}-{acc['max']:.4f}")
    lines.append(f"  {'random':>7}{0:>9.3f}{'-':>8}{'-':>9}{random['median']:>9.4f}"
                 f"{random['min']:>8.4f}-{random['max']:.4f}")
    lines.append(f"first step whose worst seed beats random's best: {result['first_helps_at']}; "
                 f"whose median beats random's median: {result['first_median_above']}")
    lines.append(f"FLOPs: {result['flop_formula']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    manifest = check_inputs(args)
    config = config_for(args.config, args.override, manifest.vocab_size)
    per_step = config.train.batch_size * train_flops_per_sequence(config.model, manifest.max_seq_length)
    started = time.time()
    os.makedirs(args.output_dir, exist_ok=True)
    model_dir = os.path.join(args.output_dir, "pretrain")
    if not os.path.exists(os.path.join(model_dir, "eval_results.json" if args.eval_data else "checkpoint")):
        print(f"[0s] pre-training {args.steps} steps, a checkpoint kept every {args.every}", flush=True)
        overrides = args.override + [f"train.num_steps={args.steps}", f"train.milestone_every={args.every}",
                                     f"train.eval_every={args.every}"]
        run(["trainers.pretrain", f"--config={args.config}", f"--data={args.data}", f"--model_dir={model_dir}"]
            + ([f"--eval_data={args.eval_data}"] if args.eval_data else [])
            + [f"--override={o}" for o in overrides], model_dir + ".log")
    heldout = heldout_by_step(model_dir)
    task_dir = os.path.join(args.output_dir, args.task_name)
    os.makedirs(task_dir, exist_ok=True)
    curve = []
    for step, prefix in checkpoints(model_dir, args.every).items():
        if args.finetune_at and step not in args.finetune_at:
            continue
        print(f"[{time.time() - started:.0f}s] fine-tuning the checkpoint of step {step}", flush=True)
        accuracy = finetune(args, prefix, os.path.join(task_dir, f"step_{step}"), random_init=False)
        curve.append({"step": step, "flops": step * per_step, "checkpoint": prefix,
                      "heldout": heldout.get(step, {}), "accuracy": accuracy})
    print(f"[{time.time() - started:.0f}s] random initialisation", flush=True)
    random_dir = os.path.join(task_dir, "random_init")
    random = finetune(args, model_dir, random_dir, random_init=True)
    majority = load_results(random_dir)["majority_class_accuracy"]["eval"]
    result = {"task": args.task_name, "objective": config.model.objective, "train_file": args.train_file,
              "eval_file": args.eval_file, "seeds": args.seeds, "config": args.config, "overrides": args.override,
              "steps": args.steps, "every": args.every, "flop_formula": FLOP_FORMULA, "curve": curve,
              "random_init": random, "majority_class_accuracy": majority,
              "first_helps_at": next((r["step"] for r in curve if r["accuracy"]["min"] > random["max"]), None),
              "first_median_above": next((r["step"] for r in curve
                                          if r["accuracy"]["median"] > random["median"]), None),
              "seconds": round(time.time() - started)}
    with open(os.path.join(task_dir, "curve.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    print(text_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
