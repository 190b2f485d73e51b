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
    path = os.path.join(model_dir, "results.json")
    if not os.path.exists(path):
        raise cli.UserError(f"{path} not found: run trainers.finetune with --model_dir={model_dir} first")
    with open(path) as f:
        return json.load(f)


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
    print(table({d: load(d) for d in args.model_dirs}, tuple(args.metric)))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
