"""The ELECTRA paper's Table 5 at small scale: pre-training objectives at equal compute, each
fine-tuned on the same downstream task; prints the table as JSON and as text.

    python -m benchmarks.objective_comparison --data='runs/demo/tfrecords/train-*' \
        --eval_data='runs/demo/tfrecords/heldout-*' --train_file=data/sentiment/train.tsv \
        --eval_file=data/sentiment/dev.tsv --output_dir=runs/objectives \
        [--config=tiny] [--budgets=800] [--seeds=3] [--objectives=electra,mlm,...]

For each budget B (in steps of the preset's ELECTRA) every objective (`electra`,
`electra_15`, `replace_mlm`, `all_tokens_mlm`, `mlm`) pre-trains with `python -m
trainers.pretrain` for round(B x F_electra / F_objective) steps, F = training FLOPs per
sequence (benchmarks/model_flops.py, `train_flops_per_sequence`; its FLOP_FORMULA is
printed with the table): the generator's cost is part of ELECTRA's, as in the paper
(sec. 3.1), so BERT gets the most steps and All-Tokens MLM the fewest. Warmup keeps the
preset's fraction of the steps. One setting per objective family, the preset's (no tuning
on the downstream task): the ELECTRA objectives share its generator size, masking and loss
weights; BERT (mlm) masks 80/10/10. Each pre-trained model, and a random initialisation of
the same architecture, is fine-tuned with `python -m trainers.finetune --task=classification
--seeds=N` (its defaults for the model size: the paper's recipe), and the table gives the
evaluation accuracy's median and min-max over the seeds, the pre-training steps, FLOPs and
held-out metrics (AUC of the RTD head, where there is one; "MLM acc" the masked-LM accuracy of
the generator, or of BERT itself; the JSON adds the kept model's own masked-LM accuracy for
Replace / All-Tokens MLM as disc_accuracy). Finished runs in --output_dir are reused, so an interrupted comparison
resumes by running it again.

Running time (2 cores, the demo's data, tiny, --budgets=800 --seeds=3): 66 minutes measured on
2026-11-30 while another pre-training job shared the cores (pre-training 5-15 min per objective,
each fine-tuning ~2 min). Not part of `make test`.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchmarks.flags import preset_config, require_matches, require_positive
from benchmarks.model_flops import FLOP_FORMULA, train_flops_per_sequence
from configs.presets import with_vocab_size
from core import cli, run_files
from core.run_files import find_manifest
from core.files import check_directory
from trainers.results_table import load as load_results
from trainers.tasks.labelled_files import read_labelled_texts

OBJECTIVES = ("electra", "all_tokens_mlm", "replace_mlm", "electra_15", "mlm")
# The paper's Table 5 (GLUE score, Base size) for the order these rows are printed in.
PAPER_GLUE = {"electra": 85.0, "all_tokens_mlm": 84.3, "replace_mlm": 82.4, "electra_15": 82.4, "mlm": 82.2}


def parse_args(argv=None):
    p = cli.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_study_arguments(p)
    p.add_argument("--budgets", default="", help="comma-separated ELECTRA steps (default: the preset's)")
    p.add_argument("--objectives", default=",".join(OBJECTIVES))
    args = p.parse_args(argv)
    unknown = set(args.objectives.split(",")) - set(OBJECTIVES)
    if unknown:
        p.error(f"unknown objectives {sorted(unknown)}; choose from {OBJECTIVES}")
    try:
        args.budgets = [int(b) for b in args.budgets.split(",")] if args.budgets else []
    except ValueError:
        p.error(f"--budgets={args.budgets}: expected comma-separated numbers of steps")
    if any(b <= 0 for b in args.budgets):
        p.error(f"--budgets must be positive, got {args.budgets}")
    return args


def add_study_arguments(p: argparse.ArgumentParser) -> None:
    """The flags of a study that pre-trains and fine-tunes: the pre-training data, preset and
    overrides, the downstream task (`finetune` reads it) and the output directory."""
    p.add_argument("--data", required=True, help="training TFRecords of pipelines.build_pretraining_data")
    p.add_argument("--eval_data", default="", help="held-out TFRecords (pre-training metrics)")
    p.add_argument("--output_dir", required=True)
    p.add_argument("--config", default="tiny", help="pre-training preset")
    p.add_argument("--override", action="append", default=[], help="pre-training override (every run), repeatable")
    p.add_argument("--train_file", required=True, help="downstream training data (CSV/TSV/JSONL)")
    p.add_argument("--eval_file", required=True, help="downstream evaluation data")
    p.add_argument("--text_columns", default="sentence")
    p.add_argument("--label_column", default="label")
    p.add_argument("--max_seq_length", type=int, default=64, help="of the downstream task")
    p.add_argument("--seeds", type=int, default=3)


def check_inputs(args) -> run_files.DataManifest:
    """What the runs will read and where they write, checked before the first one starts: the data,
    the downstream files and their columns, the output directory and the numbers. Returns the data's
    manifest."""
    manifest = find_manifest(args.data)
    if args.eval_data:
        require_matches(args.eval_data, "--eval_data")
    for path in (args.train_file, args.eval_file):
        read_labelled_texts(path, args.text_columns.split(","), args.label_column)
    require_positive(args, "seeds", "max_seq_length")
    check_directory(args.output_dir, "--output_dir")
    return manifest


def config_for(preset: str, overrides: list[str], vocab_size: int):
    return with_vocab_size(preset_config(preset, overrides), vocab_size)


def run(command: list[str], log_path: str) -> None:
    """Runs `python -m ...` with its output in log_path. A user's mistake the command reports (status
    2) is one with its message; another failure raises with the log's tail."""
    with open(log_path, "a") as log:
        done = subprocess.run([sys.executable, "-m", *command], stdout=log, stderr=subprocess.STDOUT)
    if done.returncode:
        with open(log_path) as log:
            tail = log.read()[-2000:]
        if done.returncode == 2:  # its last line is "PROG: error: MESSAGE"
            message = tail.strip().splitlines()[-1].split(": error: ", 1)[-1] if tail.strip() else "failed"
            raise cli.UserError(f"{command[0]}: {message} (log: {log_path})")
        raise RuntimeError(f"{' '.join(command[:1])} failed (exit {done.returncode}); {log_path}:\n{tail}")


def finetune(args, init: str, model_dir: str, random_init: bool) -> dict:
    """Fine-tunes (or reuses) and returns {median, min, max, runs} of the eval accuracy."""
    if not os.path.exists(os.path.join(model_dir, "results.json")):
        run(["trainers.finetune", "--task=classification", f"--init_checkpoint={init}", f"--model_dir={model_dir}",
             f"--train_file={args.train_file}", f"--eval_file={args.eval_file}",
             f"--text_columns={args.text_columns}", f"--label_column={args.label_column}",
             f"--override=task.max_seq_length={args.max_seq_length}", f"--seeds={args.seeds}"]
            + (["--random_init"] if random_init else []), model_dir + ".log")
    runs = load_results(model_dir)["summary"]["eval"]["accuracy"]["runs"]
    return {"median": statistics.median(runs), "min": min(runs), "max": max(runs), "runs": runs}


def pretrain(args, objective: str, steps: int, warmup: int, model_dir: str) -> dict:
    """Pre-trains (or reuses) and returns its held-out metrics (empty without --eval_data)."""
    results = os.path.join(model_dir, "eval_results.json")
    if not os.path.exists(results):
        overrides = args.override + [f"model.objective={objective}", f"train.num_steps={steps}",
                                     f"train.warmup_steps={warmup}"]
        run(["trainers.pretrain", f"--config={args.config}", f"--data={args.data}", f"--model_dir={model_dir}"]
            + ([f"--eval_data={args.eval_data}"] if args.eval_data else [])
            + [f"--override={o}" for o in overrides], model_dir + ".log")
    if not os.path.exists(results):
        return {}
    metrics = run_files.read_json(results)
    keep = ["mlm_accuracy", "most_frequent_token_accuracy"]
    if objective in ("electra", "electra_15", "all_tokens_mlm"):  # an RTD head (all_tokens_mlm: the copy gate)
        keep += ["disc_auc", "disc_loss", "constant_disc_loss"]
    if objective in ("replace_mlm", "all_tokens_mlm"):  # the kept model's own masked-LM accuracy
        keep += ["disc_accuracy"]
    return {k: metrics[k] for k in keep if k in metrics}


def text_table(result: dict) -> str:
    lines = [f"{result['task']}: eval accuracy over {result['seeds']} fine-tuning seeds "
             f"(majority class {result['majority_class_accuracy']:.4f})"]
    random = result["random_init"]
    for budget in result["budgets"]:
        lines.append(f"budget {budget['electra_steps']} ELECTRA steps = {budget['flops']:.3g} FLOPs")
        lines.append(f"  {'initialisation':<16}{'steps':>7}{'PFLOPs':>9}{'median':>9}{'min-max':>16}"
                     f"{'AUC':>8}{'MLM acc':>9}{'paper':>7}")
        for row in budget["rows"]:
            acc, held = row["accuracy"], row.get("heldout", {})
            auc = f"{held['disc_auc']:.3f}" if "disc_auc" in held else "-"
            mlm = f"{held['mlm_accuracy']:.3f}" if "mlm_accuracy" in held else "-"
            paper = f"{PAPER_GLUE[row['objective']]:.1f}" if row["objective"] in PAPER_GLUE else "-"
            lines.append(f"  {row['objective']:<16}{row['steps']:>7}{row['flops'] / 1e15:>9.3f}"
                         f"{acc['median']:>9.4f}{acc['min']:>8.4f}-{acc['max']:.4f}{auc:>8}{mlm:>9}{paper:>7}")
        lines.append(f"  {'random_init':<16}{0:>7}{0:>9.3f}{random['median']:>9.4f}"
                     f"{random['min']:>8.4f}-{random['max']:.4f}")
    lines.append(f"FLOPs: {result['flop_formula']}")
    lines.append(f"Paper's order (GLUE, Table 5): {' > '.join(PAPER_GLUE)}; the last three within 0.2.")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    manifest = check_inputs(args)
    vocab_size, length = manifest.vocab_size, manifest.max_seq_length
    base = config_for(args.config, args.override + ["model.objective=electra"], vocab_size)
    budgets = args.budgets or [base.train.num_steps]
    warmup_fraction = base.train.warmup_steps / base.train.num_steps
    batch = base.train.batch_size
    objectives = args.objectives.split(",")
    per_step = {objective: batch * train_flops_per_sequence(config_for(  # every objective's config checked first
        args.config, args.override + [f"model.objective={objective}"], vocab_size).model, length)
        for objective in objectives}
    started = time.time()
    result = {"task": "classification", "seeds": args.seeds, "config": args.config, "overrides": args.override,
              "flop_formula": FLOP_FORMULA, "budgets": []}
    os.makedirs(args.output_dir, exist_ok=True)
    for budget in budgets:
        total = budget * batch * train_flops_per_sequence(base.model, length)
        rows = []
        for objective in objectives:
            steps = max(1, round(total / per_step[objective]))
            model_dir = os.path.join(args.output_dir, f"{objective}_{budget}")
            print(f"[{time.time() - started:.0f}s] {objective}: {steps} steps", flush=True)
            held = pretrain(args, objective, steps, max(1, round(warmup_fraction * steps)), model_dir)
            accuracy = finetune(args, model_dir, model_dir + "_finetuned", random_init=False)
            rows.append({"objective": objective, "steps": steps, "flops": steps * per_step[objective], "heldout": held,
                         "accuracy": accuracy})
        result["budgets"].append({"electra_steps": budget, "flops": total, "rows": rows})
    # Random initialisation of the same architecture (the run directory gives its sizes and vocabulary).
    random_dir = os.path.join(args.output_dir, "random_init_finetuned")
    print(f"[{time.time() - started:.0f}s] random initialisation", flush=True)
    accuracy = finetune(args, os.path.join(args.output_dir, f"{objectives[0]}_{budgets[0]}"), random_dir, True)
    result["random_init"] = accuracy
    result["majority_class_accuracy"] = load_results(random_dir)["majority_class_accuracy"]["eval"]
    result["seconds"] = round(time.time() - started)
    with open(os.path.join(args.output_dir, "comparison.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    print(text_table(result))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
