"""Distils a fine-tuned teacher into a smaller, faster student (DistilBERT, TinyBERT).

    python -m trainers.distill --teacher=RUN --student=PRESET_OR_RUN --model_dir=DIR --train_file=F
        --eval_file=F [--text_columns=a[,b] --label_column=c] [--method=prediction] [--seeds=N]
    python -m trainers.distill --teacher=PRETRAINED_RUN --student=PRESET --data=GLOB --model_dir=DIR

The teacher is a classification or regression run of trainers.finetune (one
seed's directory); it is frozen and called inside each training step of the one
loop (trainers/tasks/distillation.py). The student is a preset's shape
(tinybert_4, tiny, small, ...; random weights), a pre-trained run (e.g. a
general distillation's: its discriminator, as trainers.finetune starts from
it), or `teacher`: the teacher's width with --student_layers of its layers,
embeddings, layers of the layer map and task head copied (DistilBERT). The
data flags, labels and columns default to the teacher's; the schedule is the
fine-tuning recipe for the student's size without layer-wise decay;
`--override=distill.KEY=VALUE` sets the losses (configs/distill_config.py).

Writes to DIR (or DIR/seed_S) a fine-tuning run of the student, which
trainers.export, trainers.serving_check and trainers.finetune --eval_only read
like any other, plus distillation.json; TinyBERT's first stage trains in
intermediate/. DIR/results.json as trainers.finetune's, with the teacher's
results. General distillation writes a pre-trained run of the student.
Rerunning resumes.
"""
from __future__ import annotations

import dataclasses
import gc
import os
import sys

import tensorflow as tf

from configs import PRESETS, FinetuneConfig, PretrainConfig, apply_overrides, get_config, resolve_steps, with_vocab_size
from configs.distill_config import PREFIX, DistillConfig, distill_config
from core import cli, run_files
from core.cli import UserError
from models.distillation_loss import parse_layer_map
from models.student_init import init_from_teacher_layers, student_encoder_config
from pipelines.tokenization import Tokenizer
from trainers.checkpointing import require_checkpoint, restore_weights
from trainers.distribution import make_strategy, worker_input_context
from trainers.loop import Trainer
from trainers.model_loading import load_discriminator, load_finetuned, pretrained_run
from trainers.task_runs import add_data_flags, derive_config, format_table, read_task_data, seed_dirs, summarize
from trainers.tasks.distillation import DistillationTask
from trainers.tasks.general_distillation import GeneralDistillationTask

TEACHER = "teacher"  # --student: the teacher's own layers (DistilBERT)
TASK_METHODS = ("prediction", "distilbert", "tinybert", "labels")


def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--teacher", required=True,
                   help="a fine-tuned classification or regression run (one seed's directory); with --data, a "
                        "pre-trained run")
    p.add_argument("--student", required=True,
                   help=f"a preset ({', '.join(p for p in PRESETS if not p.startswith('gpt'))}), a pre-trained run "
                        "directory, or 'teacher' (--student_layers of the teacher's layers)")
    p.add_argument("--student_layers", type=int, default=0,
                   help="with --student=teacher: the student's layers (default half the teacher's)")
    p.add_argument("--method", default="prediction", choices=TASK_METHODS,
                   help="prediction: soft targets + labels; distilbert: + cosine of the last hidden states; "
                        "tinybert: intermediate layers first, then prediction; labels: the labels only (the "
                        "student's twin without a teacher)")
    p.add_argument("--model_dir", required=True)
    p.add_argument("--data", default="", help="general distillation: glob of pre-training TFRecords (no labels)")
    p.add_argument("--eval_data", default="", help="general distillation: glob of held-out TFRecords")
    add_data_flags(p)
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error("--seeds must be >= 1")
    if args.student_layers and args.student != TEACHER:
        p.error("--student_layers goes with --student=teacher")
    if args.data and (args.train_file or args.eval_file or args.data_dir or args.seeds > 1):
        p.error("--data (general distillation) takes no labelled data flags and one seed")
    return args


def split_overrides(overrides: list[str]) -> tuple[list[str], list[str]]:
    """(the run config's overrides, the distill.KEY ones)."""
    return ([o for o in overrides if not o.startswith(PREFIX)], [o for o in overrides if o.startswith(PREFIX)])


def read_teacher(path: str, general: bool):
    """(run directory, config) of --teacher: a fine-tuned classification or regression run, or
    for general distillation a pre-trained ELECTRA/BERT run."""
    if not run_files.has_config(path):
        seeded = sorted(tf.io.gfile.glob(os.path.join(path, "seed_*")))
        if seeded:
            raise UserError(f"--teacher {path} holds the runs of {len(seeded)} seeds; give one of them "
                            f"(e.g. {seeded[0]})")
    config = run_files.read_config(path)
    if general:
        if not isinstance(config, PretrainConfig) or config.model.objective == "causal_lm":
            raise UserError(f"--teacher {path}: general distillation (--data) needs a pre-trained encoder run "
                            "(trainers.pretrain or trainers.convert), not a fine-tuned or causal-LM run")
    elif not isinstance(config, FinetuneConfig):
        raise UserError(f"--teacher {path} is a pre-trained run, not a fine-tuned one: distillation learns a "
                        "fine-tuned teacher's predictions (fine-tune it with trainers.finetune first, or give "
                        "--data for general distillation)")
    elif config.task.is_squad:
        raise UserError(f"--teacher {path} is a SQuAD run; distillation takes classification and regression")
    require_checkpoint(path)
    return path, config


def preset_encoder(name: str, vocab_size: int):
    """The encoder sizes of preset `name` with the teacher's vocabulary size."""
    config = get_config(name)
    if config.model.objective == "causal_lm":
        raise UserError(f"--student {name} is a causal language model; a student is an encoder")
    return dataclasses.replace(config.model.encoder, vocab_size=vocab_size)


def resolve_student(args, teacher: FinetuneConfig, tokenizer: run_files.TokenizerSettings):
    """(student EncoderConfig, pooler, how its weights start: "random", TEACHER or a run directory)."""
    if args.student == TEACHER:
        layers = args.student_layers or max(1, teacher.encoder.num_layers // 2)
        if not 0 < layers <= teacher.encoder.num_layers:
            raise UserError(f"--student_layers {layers}: the teacher has {teacher.encoder.num_layers} layers")
        return student_encoder_config(teacher.encoder, layers), teacher.pooler, TEACHER
    if args.student in PRESETS:
        return preset_encoder(args.student, teacher.encoder.vocab_size), False, "random"
    if not tf.io.gfile.isdir(args.student):
        raise UserError(f"--student {args.student}: neither a preset ({', '.join(PRESETS)}), nor a run "
                        "directory, nor 'teacher'")
    run_dir, pretrained = pretrained_run(args.student)
    held = run_files.read_tokenizer(run_dir)
    if held.vocab_fingerprint != tokenizer.vocab_fingerprint:
        raise UserError(f"--student {run_dir} has another vocabulary (fingerprint {held.vocab_fingerprint}) than "
                        f"the teacher ({tokenizer.vocab_fingerprint}); a student reads the teacher's token ids")
    return pretrained.model.encoder, pretrained.model.pooler, run_dir


def layer_map_of(distill: DistillConfig, student_layers: int, teacher_layers: int, needed: bool) -> list[int]:
    """The teacher layer of each student layer (distill.layer_map or uniform); [] where unused."""
    if not needed:
        return []
    try:
        return parse_layer_map(distill.layer_map, student_layers, teacher_layers)
    except ValueError as err:
        raise UserError(f"distill.layer_map: {err}") from None


def check_heads(distill: DistillConfig, student_heads: int, teacher_heads: int) -> None:
    if distill.intermediate and distill.attention_weight > 0 and student_heads != teacher_heads:
        raise UserError(f"the attention-score loss compares heads one to one: the student has {student_heads}, the "
                        f"teacher {teacher_heads} (set distill.attention_weight=0 or pick a student with "
                        f"{teacher_heads} heads)")


def intermediate_config(config: FinetuneConfig, distill: DistillConfig, examples: int, overrides: list[str]):
    """TinyBERT's first stage: distill.intermediate_epochs (and learning rate) on the same data."""
    stage = dataclasses.replace(config, epochs=distill.intermediate_epochs)
    kept = [o for o in overrides if o.split("=")[0].strip() not in ("train.num_steps", "train.warmup_steps")]
    stage = resolve_steps(stage, examples, kept)
    if distill.intermediate_learning_rate:
        stage = dataclasses.replace(stage, train=dataclasses.replace(
            stage.train, learning_rate=distill.intermediate_learning_rate))
    return stage


@dataclasses.dataclass
class Plan:
    """Everything a task distillation's seeds share."""
    teacher_dir: str
    config: FinetuneConfig
    stage_config: FinetuneConfig | None  # TinyBERT's intermediate stage
    distill: DistillConfig
    layer_map: list
    init: str
    data: object
    features: dict
    tokenizer: run_files.TokenizerSettings


def start_student(plan: Plan, trainer: Trainer, run_dir: str) -> None:
    """Sets a new student's weights as --student says (preset: as initialised)."""
    student = trainer.model.student
    if plan.init == TEACHER:
        copied = init_from_teacher_layers(load_finetuned(plan.teacher_dir), student, plan.layer_map)
        print(f"{run_dir}: student initialised from {plan.teacher_dir}: embeddings, teacher layers "
              f"{', '.join(map(str, plan.layer_map))} and the head ({copied} variables)")
    elif plan.init != "random":
        print(f"{run_dir}: student encoder initialised from {load_discriminator(plan.init, student)}")
    else:
        print(f"{run_dir}: student initialised at random")


def checkpoint_step(run_dir: str) -> int:
    """The step of run_dir's latest checkpoint (the loop names them ckpt-STEP), 0 without one."""
    latest = tf.train.latest_checkpoint(run_dir)
    return int(latest.rsplit("-", 1)[1]) if latest else 0


def train_phase(task, strategy, run_dir: str, start) -> Trainer | None:
    """Trains (or resumes) one phase in run_dir; `start(trainer)` sets a new run's weights.
    None if training was stopped."""
    trainer = Trainer(task, strategy, run_dir)
    step = trainer.restore()
    if step:
        print(f"{run_dir}: resumed from {trainer.manager.latest_checkpoint} at step {step}")
    else:
        start(trainer)
    if step < task.train_config.num_steps:
        trainer.train()
    return None if trainer.stopped else trainer


def distill_one(args, plan: Plan, config: FinetuneConfig, strategy, run_dir: str) -> dict | None:
    """Distils (or resumes) one seed's student and evaluates it; None if training was stopped."""
    results_path = os.path.join(run_dir, run_files.EVAL_RESULTS)
    if worker_input_context(strategy).input_pipeline_id == 0:
        run_files.write_config(run_dir, config, same_model=lambda saved, new: (saved.encoder, saved.task) == (
            new.encoder, new.task))
        tokenizer = dataclasses.replace(plan.tokenizer, max_seq_length=config.task.max_seq_length)
        run_files.write_tokenizer(run_dir, tokenizer, plan.teacher_dir)
        if plan.data.labels:
            run_files.write_labels(run_dir, plan.data.labels)
        run_files.write_distillation(run_dir, plan.distill, plan.teacher_dir, plan.layer_map)
    n = plan.data.num_outputs
    if tf.io.gfile.exists(results_path) and tf.train.latest_checkpoint(run_dir):
        print(f"{run_dir}: finished earlier")
        return run_files.read_json(results_path)
    start = lambda trainer: start_student(plan, trainer, run_dir)  # noqa: E731
    if plan.stage_config is not None:
        stage_config = dataclasses.replace(plan.stage_config, train=dataclasses.replace(
            plan.stage_config.train, seed=config.train.seed))
        stage_dir = os.path.join(run_dir, run_files.INTERMEDIATE)
        if checkpoint_step(stage_dir) < stage_config.train.num_steps:
            task = DistillationTask(stage_config, plan.features, n, plan.distill, "intermediate", plan.teacher_dir,
                                    plan.layer_map)
            if train_phase(task, strategy, stage_dir, start) is None:
                return None
            gc.collect()
        start = lambda trainer: print(  # noqa: E731
            f"{run_dir}: prediction stage from the intermediate stage's {restore_weights(trainer.model, stage_dir)}")
    task = DistillationTask(config, plan.features, n, plan.distill, "prediction", plan.teacher_dir, plan.layer_map)
    trainer = train_phase(task, strategy, run_dir, start)
    if trainer is None:
        return None
    results = {split: trainer.evaluate(split=split) for split in plan.data.eval_splits}
    for split, metrics in results.items():
        print(f"{run_dir} {split}: {trainer.task.describe_evaluation(metrics)}")
    if worker_input_context(strategy).input_pipeline_id == 0:
        run_files.write_json(results_path, results)
    return results


def job_record(args, plan: Plan) -> run_files.JobRecord:
    """What a distillation is made from: the teacher run and its checkpoint, the student, the
    method and its settings, the data's contents, columns and labels, and the seeds."""
    c = plan.config
    return run_files.JobRecord("trainers.distill", {
        "teacher": plan.teacher_dir, "teacher_checkpoint": os.path.basename(require_checkpoint(plan.teacher_dir)),
        "student": args.student, "student_layers": args.student_layers, "distill": dataclasses.asdict(plan.distill),
        "vocabulary": plan.tokenizer.vocab_fingerprint, "seeds": args.seeds, "task": c.task.name,
        "data": {split: run_files.file_fingerprint(d.path) for split, d in plan.data.splits.items()},
        "text_columns": c.task.text_columns, "label_column": c.task.label_column, "labels": plan.data.labels})


def task_distillation(args) -> int:
    teacher_dir, teacher = read_teacher(args.teacher, general=False)
    overrides, distill_overrides = split_overrides(args.override)
    try:
        distill = distill_config(args.method, distill_overrides)
    except ValueError as err:
        raise UserError(f"--override: {err}") from None
    tokenizer = run_files.read_tokenizer(teacher_dir)
    encoder, pooler, init = resolve_student(args, teacher, tokenizer)
    check_heads(distill, encoder.num_heads, teacher.encoder.num_heads)
    needs_map = distill.intermediate or init == TEACHER
    layer_map = layer_map_of(distill, encoder.num_layers, teacher.encoder.num_layers, needs_map)
    labels = None if teacher.task.is_regression else run_files.read_labels(teacher_dir)
    data = read_task_data(args, teacher.task.name, args.text_columns or teacher.task.text_columns,
                          args.label_column or teacher.task.label_column, labels=labels)
    defaults = ["layerwise_lr_decay=1", f"task.max_seq_length={teacher.task.max_seq_length}"]
    config = derive_config(teacher.task.name, encoder, defaults + overrides, data, pooler)
    stage = intermediate_config(config, distill, data.num_train_examples(), overrides) if distill.intermediate else None
    tokenizer_path = os.path.join(teacher_dir, tokenizer.file)
    features = data.features(lambda: Tokenizer(tokenizer_path, tokenizer.lowercase), config.task.max_seq_length)
    plan = Plan(teacher_dir, config, stage, distill, layer_map, init, data, features, tokenizer)
    strategy = make_strategy(args.strategy, args.tpu)
    job = job_record(args, plan)
    chief = worker_input_context(strategy).input_pipeline_id == 0
    if chief:
        run_files.check_job(args.model_dir, job, run_files.DISTILL_OUTPUTS, args.overwrite)
        run_files.record_job(args.model_dir, job)
    steps = f"{stage.train.num_steps} intermediate + " if stage else ""
    print(f"distilling {teacher_dir} ({teacher.encoder.num_layers} layers x {teacher.encoder.hidden_size}) into "
          f"{encoder.num_layers} layers x {encoder.hidden_size} ({args.student}) by {distill.method}; "
          f"{steps}{config.train.num_steps} steps of batch {config.train.batch_size}")
    runs = {}
    for seed, run_dir in seed_dirs(args.model_dir, config.train.seed, args.seeds):
        seeded = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
        results = distill_one(args, plan, seeded, strategy, run_dir)
        if results is None:
            return 0  # stopped; rerun to resume
        runs[seed] = results
    summary = summarize(runs)
    print(format_table(config.task.name, list(runs), summary, data.majority_baseline()))
    teacher_results_path = os.path.join(teacher_dir, run_files.EVAL_RESULTS)
    teacher_results = run_files.read_json(teacher_results_path) if tf.io.gfile.exists(teacher_results_path) else {}
    for split, metrics in teacher_results.items():
        print(f"teacher {split}: " + " ".join(f"{k} {v:.4f}" for k, v in metrics.items() if isinstance(v, float)))
    for line in data.left_out():
        print(f"left out: {line}")
    if chief:
        run_files.write_json(os.path.join(args.model_dir, run_files.RESULTS), {
            "task": config.task.name, "seeds": list(runs), "init": init, "teacher": teacher_dir,
            "student": args.student, "method": distill.method, "summary": summary,
            "runs": {str(k): v for k, v in runs.items()}, "teacher_results": teacher_results,
            "majority_class_accuracy": data.majority_baseline()})
    return 0


def general_distillation(args) -> int:
    teacher_dir, teacher = read_teacher(args.teacher, general=True)
    manifest = run_files.find_manifest(args.data)
    if args.eval_data and not tf.io.gfile.glob(args.eval_data):
        raise FileNotFoundError(f"no files match --eval_data {args.eval_data!r}")
    tokenizer = run_files.read_tokenizer(teacher_dir)
    if manifest.tokenizer.vocab_fingerprint != tokenizer.vocab_fingerprint:
        raise UserError(f"the data in {manifest.directory} was tokenized with another vocabulary (fingerprint "
                        f"{manifest.tokenizer.vocab_fingerprint}) than the teacher {teacher_dir} "
                        f"({tokenizer.vocab_fingerprint}); tokenize it with {teacher_dir}/{tokenizer.file}")
    if args.student not in PRESETS:
        raise UserError(f"--student {args.student}: general distillation starts a preset's shape "
                        f"({', '.join(PRESETS)})")
    overrides, distill_overrides = split_overrides(args.override)
    try:
        distill = distill_config("general", distill_overrides)
        config = with_vocab_size(apply_overrides(get_config(args.student), overrides), manifest.vocab_size)
    except ValueError as err:
        raise UserError(f"--override: {err}") from None
    encoder, t_encoder = config.model.encoder, teacher.model.encoder
    if config.model.objective == "causal_lm":
        raise UserError(f"--student {args.student} is a causal language model; a student is an encoder")
    if manifest.max_seq_length > min(encoder.max_position_embeddings, t_encoder.max_position_embeddings):
        raise UserError(f"data max_seq_length {manifest.max_seq_length} exceeds the student's or the teacher's "
                        "max_position_embeddings")
    check_heads(distill, encoder.num_heads, t_encoder.num_heads)
    layer_map = layer_map_of(distill, encoder.num_layers, t_encoder.num_layers, True)
    job = run_files.JobRecord("trainers.distill", {
        "teacher": teacher_dir, "teacher_checkpoint": os.path.basename(require_checkpoint(teacher_dir)),
        "student": args.student, "distill": dataclasses.asdict(distill), "data": manifest.fingerprint()})
    strategy = make_strategy(args.strategy, args.tpu)
    chief = worker_input_context(strategy).input_pipeline_id == 0
    if chief:
        run_files.check_job(args.model_dir, job, run_files.DISTILL_OUTPUTS, args.overwrite)
        run_files.write_config(args.model_dir, config)
        run_files.write_tokenizer(args.model_dir, manifest.tokenizer, manifest.directory)
        run_files.write_distillation(args.model_dir, distill, teacher_dir, layer_map)
        run_files.record_job(args.model_dir, job)
    print(f"general distillation of {teacher_dir} ({t_encoder.num_layers} layers x {t_encoder.hidden_size}) into "
          f"{encoder.num_layers} layers x {encoder.hidden_size} ({args.student}), teacher layers "
          f"{', '.join(map(str, layer_map))}; {config.train.num_steps} steps of batch {config.train.batch_size}")
    task = GeneralDistillationTask(config, distill, manifest.special_token_ids, args.data, args.eval_data,
                                   manifest.max_seq_length, teacher_dir, layer_map)
    trainer = Trainer(task, strategy, args.model_dir)
    step = trainer.restore()
    if step:
        print(f"resumed from {trainer.manager.latest_checkpoint} at step {step}")
    trainer.train(evaluate_every=bool(args.eval_data))
    if args.eval_data and trainer.step >= config.train.num_steps:
        metrics = trainer.evaluate(config.train.eval_batches)
        print(f"held-out: {task.describe(metrics)}")
        if chief:
            run_files.write_json(os.path.join(args.model_dir, run_files.EVAL_RESULTS), metrics)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    cli.log_to_stdout("trainers")
    return general_distillation(args) if args.data else task_distillation(args)


if __name__ == "__main__":
    sys.exit(cli.run(main))
