"""Transfer curves of several pre-training objectives side by side: one JSON record per point and a
plot per task of dev accuracy against pre-training FLOPs, random initialisation as a band.

    python -m benchmarks.studies.transfer_study --curve=runs/curve_electra/sentiment/curve.json \\
        --curve=runs/curve_mlm/sentiment/curve.json ... --json=results.json --plot_dir=results/

Reads the curve.json files of benchmarks.transfer_curve (one per objective and task, each with its
random initialisation). Points of different objectives are compared at equal FLOPs when their
budgets agree within 1%. Prints per task: the first budget at which ELECTRA's worst seed beats
the random initialisation's best, the objectives' order at each shared budget, and whether
ELECTRA leads BERT's masked LM (objective `mlm`) at equal compute anywhere.
"""
import json
import os
import sys

from core import cli

SAME_BUDGET = 0.01  # relative FLOPs difference within which two points share a budget


def records(curves: list[dict]) -> list[dict]:
    """One record per fine-tuned point: objective, task, steps, FLOPs, each seed's accuracy, its
    median, min and max, and the pre-training run's held-out metrics there; random
    initialisations as objective "random_init" with 0 FLOPs (one per task)."""
    out, random_seen = [], set()
    for curve in curves:
        for row in curve["curve"]:
            acc = row["accuracy"]
            out.append({"objective": curve["objective"], "task": curve["task"], "steps": row["step"],
                        "flops": row["flops"], "accuracy": acc["runs"], "median": acc["median"],
                        "min": acc["min"], "max": acc["max"], "heldout": row["heldout"]})
        if curve["task"] not in random_seen:
            random_seen.add(curve["task"])
            acc = curve["random_init"]
            out.append({"objective": "random_init", "task": curve["task"], "steps": 0, "flops": 0,
                        "accuracy": acc["runs"], "median": acc["median"], "min": acc["min"], "max": acc["max"],
                        "heldout": {}, "majority_class_accuracy": curve["majority_class_accuracy"]})
    return out


def budgets(points: list[dict]) -> list[list[dict]]:
    """Points of one task grouped by FLOPs agreeing within SAME_BUDGET, in increasing order."""
    groups = []
    for point in sorted(points, key=lambda p: p["flops"]):
        if groups and point["flops"] <= groups[-1][0]["flops"] * (1 + SAME_BUDGET):
            groups[-1].append(point)
        else:
            groups.append([point])
    return groups


def summary(rows: list[dict]) -> dict:
    """Per task: first_helps (ELECTRA's first budget whose worst seed beats random's best), the
    largest ELECTRA budget, the order of objectives at each shared budget, and the budgets where
    ELECTRA's median beats MLM's."""
    out = {}
    for task in sorted({r["task"] for r in rows}):
        random = next(r for r in rows if r["task"] == task and r["objective"] == "random_init")
        points = [r for r in rows if r["task"] == task and r["objective"] != "random_init"]
        electra = sorted((r for r in points if r["objective"] == "electra"), key=lambda r: r["flops"])
        helps = next((r["flops"] for r in electra if r["min"] > random["max"]), None)
        orders, leads = [], []
        for group in budgets(points):
            if len(group) < 2:
                continue
            ranked = sorted(group, key=lambda r: -r["median"])
            orders.append({"flops": group[0]["flops"],
                           "order": [(r["objective"], round(100 * r["median"], 2)) for r in ranked]})
            by = {r["objective"]: r for r in group}
            if "electra" in by and "mlm" in by and by["electra"]["median"] > by["mlm"]["median"]:
                leads.append(group[0]["flops"])
        out[task] = {"random_init": {k: random[k] for k in ("median", "min", "max")},
                     "majority_class_accuracy": random["majority_class_accuracy"],
                     "electra_first_beats_random_beyond_spread_at_flops": helps,
                     "electra_largest_flops": electra[-1]["flops"] if electra else None,
                     "order_at_shared_budgets": orders, "electra_median_above_mlm_at_flops": leads}
    return out


def plot(rows: list[dict], task: str, path: str) -> None:
    """Dev accuracy (median, min-max bars) against pre-training FLOPs per objective; random
    initialisation as a band (min-max of its seeds) and the majority class as a dotted line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    random = next(r for r in rows if r["task"] == task and r["objective"] == "random_init")
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.axhspan(100 * random["min"], 100 * random["max"], color="0.85", label="random initialisation (min-max)")
    ax.axhline(100 * random["majority_class_accuracy"], color="0.5", linestyle=":", label="majority class")
    for objective in sorted({r["objective"] for r in rows if r["task"] == task} - {"random_init"}):
        points = sorted((r for r in rows if r["task"] == task and r["objective"] == objective),
                        key=lambda r: r["flops"])
        x = [r["flops"] for r in points]
        y = [100 * r["median"] for r in points]
        err = [[100 * (r["median"] - r["min"]) for r in points], [100 * (r["max"] - r["median"]) for r in points]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=objective)
    ax.set_xscale("log")
    ax.minorticks_off()  # one labelled tick per shared budget instead of overlapping minor labels
    ticks = [group[0]["flops"] for group in budgets([r for r in rows if r["task"] == task and r["flops"]])]
    ax.set_xticks(ticks, [f"{t:.1e}".replace("e+", "e") for t in ticks], fontsize=8)
    ax.set_xlabel("pre-training FLOPs (generator included)")
    ax.set_ylabel("dev accuracy, % (median, min-max of seeds)")
    ax.set_title(f"{task}: fine-tuned accuracy against pre-training compute")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    p = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--curve", action="append", required=True, help="a curve.json of benchmarks.transfer_curve")
    p.add_argument("--json", required=True, help="file to write the records and summary to")
    p.add_argument("--plot_dir", required=True, help="folder for one PNG per task")
    p.add_argument("--command", default="", help="the commands that made the curves, recorded in the JSON")
    args = p.parse_args(argv)
    curves = []
    for path in args.curve:
        try:
            with open(path) as f:
                curves.append(json.load(f))
        except (OSError, json.JSONDecodeError) as err:
            raise cli.UserError(f"{path}: {err}") from None
        if not {"curve", "random_init", "task", "objective"} <= set(curves[-1]):
            raise cli.UserError(f"{path}: not a curve.json of benchmarks.transfer_curve")
    rows = records(curves)
    result = {"command": args.command, "summary": summary(rows), "records": rows}
    os.makedirs(args.plot_dir, exist_ok=True)
    for task in sorted({r["task"] for r in rows}):
        plot(rows, task, os.path.join(args.plot_dir, f"transfer_{task}.png"))
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result["summary"], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
