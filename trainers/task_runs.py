"""What trainers.finetune and trainers.distill share: the labelled data's flags and reading, the
run's config derived from it, the seeds' run directories and the summary of their results."""
from __future__ import annotations

import dataclasses
import os

import numpy as np

from configs import EncoderConfig, FinetuneConfig, finetune_config, resolve_steps
from core import cli
from trainers.distribution import STRATEGIES
from trainers.tasks.classification_data import ClassificationData

LOWER_IS_BETTER = ("loss", "mse")


def add_data_flags(p) -> None:
    """The flags naming a run's labelled data, its config overrides, seeds and strategy."""
    p.add_argument("--data_dir", default="", help="GLUE task or SQuAD directory")
    p.add_argument("--train_file", default="")
    p.add_argument("--eval_file", default="")
    p.add_argument("--text_columns", default="",
                   help="one or two column names, comma-separated (--eval_only: default the run's)")
    p.add_argument("--label_column", default="", help="(--eval_only: default the run's)")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="dotted config override, repeatable, e.g. train.learning_rate=1e-4")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run(s) in --model_dir if they were made from other inputs (data files, "
                        "labels, pre-trained run, seeds): their checkpoints and results are deleted")
    p.add_argument("--skip_bad_rows", action="store_true",
                   help="leave out (and count) rows of --train_file/--eval_file with the wrong number of fields or "
                        "no label, instead of stopping at the first one")
    p.add_argument("--seeds", type=int, default=1, help="train this many times (seeds seed, seed+1, ...)")
    p.add_argument("--strategy", default="auto", choices=STRATEGIES)
    p.add_argument("--tpu", default="")


def seed_dirs(model_dir: str, seed: int, count: int) -> list[tuple[int, str]]:
    """(seed, run directory) of each run: model_dir itself for one seed, else model_dir/seed_S."""
    if count == 1:
        return [(seed, model_dir)]
    return [(seed + k, os.path.join(model_dir, f"seed_{seed + k}")) for k in range(count)]


def summarize(runs: dict) -> dict:
    """{split: {metric: {median, best, runs}}} over the seeds' eval results {seed: {split: metrics}}."""
    summary = {}
    for results in runs.values():
        for split, metrics in results.items():
            for name, value in metrics.items():
                if isinstance(value, float):
                    summary.setdefault(split, {}).setdefault(name, []).append(value)
    out = {}
    for split, metrics in summary.items():
        out[split] = {}
        for name, values in metrics.items():
            best = min(values) if name in LOWER_IS_BETTER else max(values)
            out[split][name] = {"median": float(np.median(values)), "best": best, "runs": values}
    return out


def format_table(task: str, seeds: list[int], summary: dict, baselines: dict) -> str:
    lines = [f"{task}: {len(seeds)} run(s), seeds {', '.join(map(str, seeds))}",
             f"  {'split':<16}{'metric':<22}{'median':>9}{'best':>9}   runs"]
    for split, metrics in summary.items():
        for name, v in metrics.items():
            runs = " ".join(f"{x:.4f}" for x in v["runs"])
            lines.append(f"  {split:<16}{name:<22}{v['median']:>9.4f}{v['best']:>9.4f}   {runs}")
        if split in baselines:
            lines.append(f"  {split:<16}{'majority_class_accuracy':<22}{baselines[split]:>9.4f}")
    return "\n".join(lines)


def read_task_data(args, task: str, text_columns: str, label_column: str, labels=None, need_train=True):
    """The task's labelled data: SQuAD's JSON from --data_dir, else GLUE's TSVs or the user's files."""
    if task in ("squad_v1", "squad_v2"):
        from trainers.tasks.squad_data import SquadData
        return SquadData(task, args.data_dir, need_train=need_train)
    columns = tuple(c.strip() for c in text_columns.split(",") if c.strip())
    return ClassificationData(task, task in ("stsb", "regression"), args.data_dir, args.train_file, args.eval_file,
                              columns, label_column, labels=labels, need_train=need_train,
                              skip_bad_rows=args.skip_bad_rows)


def derive_config(task: str, encoder: EncoderConfig, overrides: list[str], data,
                  pooler: bool = False) -> FinetuneConfig:
    """The run's config: the paper's defaults for the encoder's size (and BERT's pooler head where
    the pre-trained run has a pooler), the user's overrides, the number of steps from the training
    examples, and the data's text and label columns."""
    try:
        config = finetune_config(task, encoder, overrides, pooler)
    except ValueError as err:  # an unknown key or a bad value: the user's flags
        raise cli.UserError(f"--override: {err}") from None
    config = resolve_steps(config, data.num_train_examples(), overrides)
    return dataclasses.replace(config, task=dataclasses.replace(
        config.task, text_columns=",".join(data.text_columns), label_column=data.label_column))
