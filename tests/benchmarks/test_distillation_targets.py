"""The distillation benchmark's verdicts (the issue's three targets for the main student's best row) and the
augmented row's schedule."""
import argparse

from benchmarks.distillation import augmented_schedule, targets


def _row(name, model, median, low, high, retained=1.0, speedup=1.0, flop_ratio=1.0):
    return dict(row=name, model=model, accuracy=dict(median=median, min=low, max=high), retained=retained,
                speedup_b32=speedup, flop_ratio=flop_ratio)


def test_the_best_distilled_row_of_the_main_student_is_judged():
    rows = [_row("teacher", "teacher", 0.86, 0.85, 0.87),
            _row("labels", "tinybert_4", 0.78, 0.77, 0.79, retained=0.907, speedup=2.0, flop_ratio=2.3),
            _row("prediction", "tinybert_4", 0.84, 0.835, 0.845, retained=0.977, speedup=2.0, flop_ratio=2.3),
            _row("tinybert", "tinybert_4", 0.82, 0.80, 0.83, retained=0.953, speedup=2.0, flop_ratio=2.3),
            _row("small_prediction", "tiny", 0.90, 0.90, 0.90, retained=1.05, speedup=9.0, flop_ratio=9.0)]
    t = targets(rows, "tinybert_4")
    assert t["retained"]["met"] and "prediction keeps 97.7%" in t["retained"]["detail"]
    # gain 0.06 against the larger spread of the two rows (0.02): met
    assert t["beats_twin"]["met"] and "+0.0600" in t["beats_twin"]["detail"]
    # 2.0x against 80% of 2.3x = 1.84x
    assert t["speedup"]["met"] and "1.84x" in t["speedup"]["detail"]


def test_a_twin_with_a_wide_spread_or_a_slow_student_misses_its_target():
    rows = [_row("teacher", "teacher", 0.86, 0.85, 0.87),
            _row("labels", "tinybert_4", 0.78, 0.69, 0.80),
            _row("prediction", "tinybert_4", 0.83, 0.825, 0.835, retained=0.95, speedup=1.5, flop_ratio=2.3)]
    t = targets(rows, "tinybert_4")
    assert not t["retained"]["met"]
    assert not t["beats_twin"]["met"] and "spread 0.1100" in t["beats_twin"]["detail"]
    assert not t["speedup"]["met"]
    assert targets(rows[:2], "tinybert_4") == {}  # no distilled row yet


def test_the_augmented_row_trains_as_many_steps_as_the_others(tmp_path):
    train, augmented = tmp_path / "train.tsv", tmp_path / "aug.tsv"
    train.write_text("sentence\tlabel\n" + "".join(f"text {i}\tpos\n" for i in range(4)))
    augmented.write_text("sentence\tlabel\n" + "".join(f"text {i}\tpos\n" for i in range(10)))
    args = argparse.Namespace(train_file=str(train), text_columns="sentence", label_column="label",
                              intermediate_epochs=1.0, override=["epochs=5", "epochs=2"])
    assert augmented_schedule(args, str(augmented)) == ["--override=epochs=0.8",
                                                        "--override=distill.intermediate_epochs=0.4"]
    args.override = []  # fine-tuning's default, 3 epochs
    assert augmented_schedule(args, str(augmented))[0] == "--override=epochs=1.2"
