"""The transfer study joins the objectives' curves into records, a summary and one plot per task."""
import json

from benchmarks.studies import transfer_study


def _curve(objective, task, points, random=(0.70, 0.71, 0.72)):
    acc = lambda runs: {"median": sorted(runs)[1], "min": min(runs), "max": max(runs), "runs": list(runs)}  # noqa: E731
    return {"objective": objective, "task": task, "majority_class_accuracy": 0.55, "random_init": acc(random),
            "curve": [{"step": s, "flops": f, "heldout": {"disc_auc": 0.6}, "accuracy": acc(runs)}
                      for s, f, runs in points]}


def test_records_summary_and_plots(tmp_path):
    curves = [_curve("electra", "movies", [(800, 1.000e13, (0.69, 0.70, 0.71)), (1600, 2.0e13, (0.73, 0.74, 0.75))]),
              _curve("mlm", "movies", [(886, 1.004e13, (0.70, 0.72, 0.73)), (1772, 2.008e13, (0.70, 0.71, 0.72))]),
              _curve("electra", "tweets", [(800, 1.0e13, (0.60, 0.61, 0.62))], random=(0.65, 0.66, 0.67))]
    paths = []
    for i, curve in enumerate(curves):
        paths.append(tmp_path / f"c{i}.json")
        paths[-1].write_text(json.dumps(curve))
    assert transfer_study.main([f"--curve={p}" for p in paths] + [f"--json={tmp_path / 'out.json'}",
                                                                  f"--plot_dir={tmp_path / 'plots'}"]) == 0
    result = json.loads((tmp_path / "out.json").read_text())
    rows = result["records"]
    assert len(rows) == 5 + 2  # five points and each task's random initialisation
    first = next(r for r in rows if r["objective"] == "electra" and r["steps"] == 800 and r["task"] == "movies")
    assert first["accuracy"] == [0.69, 0.70, 0.71] and first["flops"] == 1e13 and first["heldout"]["disc_auc"] == 0.6
    movies = result["summary"]["movies"]
    assert movies["electra_first_beats_random_beyond_spread_at_flops"] == 2e13  # 0.73 > random's best 0.72
    assert [o["order"] for o in movies["order_at_shared_budgets"]] == [
        [["mlm", 72.0], ["electra", 70.0]], [["electra", 74.0], ["mlm", 71.0]]]
    assert movies["electra_median_above_mlm_at_flops"] == [2e13]
    assert result["summary"]["tweets"]["electra_first_beats_random_beyond_spread_at_flops"] is None
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["transfer_movies.png", "transfer_tweets.png"]


def test_overlap_finds_texts_of_the_corpus(tmp_path, capsys):
    from benchmarks.studies import overlap
    corpus = "the quick brown fox jumps over the lazy dog near the old river bank at dawn today\n"
    (tmp_path / "corpus.txt").write_text(corpus * 2)
    (tmp_path / "task.tsv").write_text("sentence\tlabel\nThe quick brown fox jumps over the lazy dog, near the old "
                                       "river bank.\tpositive\nsomething else entirely here\tnegative\nfox\tpositive\n")
    assert overlap.main([f"--corpus={tmp_path}/*.txt", f"--labelled={tmp_path}/task.tsv", "--n=5"]) == 0
    result = json.loads(capsys.readouterr().out)["files"][str(tmp_path / "task.tsv")]
    assert (result["texts"], result["shorter_than_n"], result["sharing_an_ngram"], result["found_whole"]) == (3, 2, 1, 1)
