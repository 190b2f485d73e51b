"""Fine-tuning results side by side: `python -m trainers.results_table DIR [DIR ...]`.

Each DIR is a trainers.finetune model directory (its results.json); prints,
per evaluation split and metric, every run's median, min-max over its seeds
and its initialisation, with the majority-class accuracy beneath.
"""
from __future__ import annotations

import json
import os
import sys

from core import cli


def load(model_dir: str) -> dict:
    """results.json of fine-tuning run `model_dir`, checked to be what trainers.finetune writes."""
    path = os.path.join(model_dir, "results.json")
    if os.path.isfile(model_dir):
        raise cli.UserError(f"{model_dir} is a file; give the trainers.finetune model directory that holds "
                            "results.json")
    if not os.path.exists(path):
        raise cli.UserError(f"{path} not found: run trainers.finetune with --model_dir={model_dir} first")
    try:
        with open(path, encoding="utf-8") as f:
            results = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise cli.UserError(f"{path}: not valid JSON ({err})") from None
    if not _finetune_results(results):
        raise cli.UserError(f"{path}: not a results.json of trainers.finetune (expected its init and its summary: "
                            "split -> metric -> median and runs)")
    return results


def _finetune_results(results) -> bool:
    summary = results.get("summary") if isinstance(results, dict) else None
    return isinstance(summary, dict) and "init" in results and all(
        isinstance(metrics, dict) and all(
            isinstance(value, dict) and isinstance(value.get("median"), (int, float))
            and isinstance(value.get("runs"), list) and value["runs"] for value in metrics.values())
        for metrics in summary.values())


def table(results: dict[str, dict], metrics: tuple[str, ...] = ()) -> str:
    """Text table of {name: results.json} over their common splits and (given or all) metrics."""
    lines = []
    first = next(iter(results.values()))
    for split, by_metric in first["summary"].items():
        for metric in metrics or tuple(m for m in by_metric if m not in ("loss", "examples")):
            lines.append(f"{split} {metric}:")
            for name, result in results.items():
                value = result["summary"].get(split, {}).get(metric)
                if value:
                    runs = value["runs"]
                    lines.append(f"  {name:<40} median {value['median']:.4f}  (min {min(runs):.4f}, max "
                                 f"{max(runs):.4f}, {len(runs)} seed(s); init {result['init']})")
            majority = first.get("majority_class_accuracy", {}).get(split)
            if metric == "accuracy" and majority is not None:
                lines.append(f"  {'majority class':<40} {majority:.4f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dirs", nargs="+")
    parser.add_argument("--metric", action="append", default=[], help="metrics to show (default: all)")
    args = parser.parse_args(argv)
    results = {d: load(d) for d in args.model_dirs}
    found = {metric for result in results.values() for metrics in result["summary"].values() for metric in metrics}
    for metric in args.metric:
        if metric not in found:
            raise cli.UserError(f"--metric {metric}: no run has it (they have {', '.join(sorted(found)) or 'none'})")
    print(table(results, tuple(args.metric)))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
