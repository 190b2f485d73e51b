"""Fine-tunes a pre-trained discriminator: `python -m trainers.finetune --task=TASK --init_checkpoint=RUN
--model_dir=DIR [--data_dir=GLUE_DIR | --train_file=F --eval_file=F --text_columns=a[,b] --label_column=c]`.

Tasks: GLUE (cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte, wnli) from GLUE's
TSV files; squad_v1, squad_v2 from the official JSON; the user's own
`classification` or `regression` data. The model's config, vocabulary and
tokenizer come from the pre-trained run (--init_checkpoint, a run directory or
a checkpoint prefix); `--random_init` keeps them but starts from random
weights (the no-pre-training baseline). Defaults follow the paper's Table 7
for the model's size; `--override` changes any value.

Writes to DIR (or DIR/seed_S for each of --seeds runs): config.json,
data.json, vocab.txt, labels.json, checkpoints, TensorBoard logs,
eval_results.json; DIR/results.json holds every split's metrics with their
median and best over the seeds. Rerunning resumes; finished seeds are kept.
"""
from __future__ import annotations

import dataclasses
import os
import sys

import tensorflow as tf

from configs import TASKS, FinetuneConfig
from core import cli, run_files
from core.run_files import RunFilesError, TokenizerSettings
from pipelines.tokenization import Tokenizer
from trainers.checkpointing import require_checkpoint
from trainers.distribution import make_strategy, worker_input_context
from trainers.loop import Trainer
from trainers.model_loading import load_discriminator, pretrained_run
from trainers.task_runs import add_data_flags, derive_config, format_table, read_task_data, seed_dirs, summarize

def parse_args(argv):
    p = cli.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--init_checkpoint", default="",
                   help="the pre-trained run (directory or checkpoint prefix) whose discriminator is fine-tuned")
    p.add_argument("--random_init", action="store_true",
                   help="same architecture and tokenizer as --init_checkpoint's run, random weights")
    p.add_argument("--model_dir", required=True)
    add_data_flags(p)
    p.add_argument("--eval_only", action="store_true", help="evaluate the fine-tuned run(s) in --model_dir")
    p.add_argument("--predict_file", default="",
                   help="also write predictions for this file (GLUE test TSV, SQuAD JSON, or the user's data)")
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error("--seeds must be >= 1")
    if not args.eval_only and not args.init_checkpoint:
        p.error("--init_checkpoint is required (the pre-trained run; with --random_init, only its architecture)")
    return args


def job_record(args, config: FinetuneConfig, data, tokenizer: TokenizerSettings) -> run_files.JobRecord:
    """What a fine-tuning run is made from: the pre-trained run, its vocabulary, the task, its
    files' contents, columns and labels, and the number of seeds."""
    return run_files.JobRecord("trainers.finetune", {
        "task": config.task.name, "init_checkpoint": args.init_checkpoint, "random_init": args.random_init,
        "vocabulary": tokenizer.vocab_fingerprint, "seeds": args.seeds,
        "data": {split: run_files.file_fingerprint(d.path) for split, d in data.splits.items()},
        "text_columns": config.task.text_columns, "label_column": config.task.label_column,
        "labels": data.labels})


def run_one(args, config: FinetuneConfig, data, features, strategy, run_dir: str, source_dir: str,
            tokenizer: TokenizerSettings, job: run_files.JobRecord | None) -> dict | None:
    """Trains (or resumes) and evaluates one seed's run; None if training was stopped."""
    trainer = Trainer(data.make_task(config, features), strategy, run_dir, training=not args.eval_only)
    chief = worker_input_context(strategy).input_pipeline_id == 0
    results_path = os.path.join(run_dir, run_files.EVAL_RESULTS)
    if not args.eval_only:
        if chief:
            run_files.write_config(run_dir, config,
                                   same_model=lambda saved, new: (saved.encoder, saved.task, saved.pooler) == (
                                       new.encoder, new.task, new.pooler))
            run_files.write_tokenizer(run_dir, dataclasses.replace(tokenizer, max_seq_length=config.task.max_seq_length),
                                      source_dir)
            if data.labels:
                run_files.write_labels(run_dir, data.labels)
            run_files.record_job(args.model_dir, job)
        step = trainer.restore()
        if step >= config.train.num_steps and tf.io.gfile.exists(results_path):
            print(f"{run_dir}: finished earlier (step {step})")
            return run_files.read_json(results_path)
        if step:
            print(f"{run_dir}: resumed from {trainer.manager.latest_checkpoint} at step {step}")
        elif args.random_init:
            print(f"{run_dir}: random initialisation (architecture and tokenizer of {source_dir})")
        else:
            print(f"{run_dir}: encoder initialised from {load_discriminator(args.init_checkpoint, trainer.model)}")
        trainer.train()
        if trainer.stopped:
            return None
    else:
        require_checkpoint(run_dir)
        trainer.restore()
    results = {split: trainer.evaluate(split=split) for split in data.eval_splits}
    for split, metrics in results.items():
        print(f"{run_dir} {split}: {trainer.task.describe_evaluation(metrics)}")
    if chief:
        run_files.write_json(results_path, results)
    if args.predict_file:
        print(f"predictions written to {data.predict(trainer, args.predict_file, run_dir)}")
    return results


def main(argv=None) -> int:
    args = parse_args(argv)
    cli.log_to_stdout("trainers")
    if args.eval_only:
        seeded = sorted(tf.io.gfile.glob(os.path.join(args.model_dir, "seed_*")))
        source_dir = args.model_dir if args.seeds == 1 or not seeded else seeded[0]
        saved = run_files.read_config(source_dir)
        if not isinstance(saved, FinetuneConfig):
            raise RunFilesError(f"{source_dir} is not a fine-tuning run")
        if saved.task.name != args.task:
            raise RunFilesError(f"{args.model_dir} was fine-tuned on {saved.task.name}, not {args.task}")
        labels = None if saved.task.is_regression or saved.task.is_squad else run_files.read_labels(source_dir)
        data = read_task_data(args, saved.task.name, args.text_columns or saved.task.text_columns,
                              args.label_column or saved.task.label_column, labels=labels, need_train=False)
        config = saved
    else:
        source_dir, pretrained = pretrained_run(args.init_checkpoint)
        data = read_task_data(args, args.task, args.text_columns, args.label_column)
        config = derive_config(args.task, pretrained.model.encoder, args.override, data, pretrained.model.pooler)
    tokenizer = run_files.read_tokenizer(source_dir)
    data.check_tokenizer(tokenizer)
    tokenizer_path = os.path.join(source_dir, tokenizer.file)
    features = data.features(lambda: Tokenizer(tokenizer_path, tokenizer.lowercase), config.task.max_seq_length)
    strategy = make_strategy(args.strategy, args.tpu)
    job = None if args.eval_only else job_record(args, config, data, tokenizer)
    if job and worker_input_context(strategy).input_pipeline_id == 0:
        run_files.check_job(args.model_dir, job, run_files.RUN_OUTPUTS, args.overwrite)
    print(f"strategy {type(strategy).__name__} with {strategy.num_replicas_in_sync} replica(s); task "
          f"{config.task.name}: {', '.join(f'{s} {len(next(iter(f.values())))}' for s, f in features.items())} "
          f"examples; {config.train.num_steps} steps of batch {config.train.batch_size}")
    runs = {}
    for seed, run_dir in seed_dirs(args.model_dir, config.train.seed, args.seeds):
        seeded = dataclasses.replace(config, train=dataclasses.replace(config.train, seed=seed))
        results = run_one(args, seeded, data, features, strategy, run_dir, source_dir, tokenizer, job)
        if results is None:
            return 0  # stopped; rerun to resume
        runs[seed] = results
    summary = summarize(runs)
    baselines = data.majority_baseline()
    print(format_table(config.task.name, list(runs), summary, baselines))
    for line in data.left_out():
        print(f"left out: {line}")
    if worker_input_context(strategy).input_pipeline_id == 0:
        run_files.write_json(os.path.join(args.model_dir, run_files.RESULTS), {
            "task": config.task.name, "seeds": list(runs),
            "init": "random" if args.random_init else args.init_checkpoint,
            "summary": summary, "runs": {str(k): v for k, v in runs.items()},
            "majority_class_accuracy": baselines})
    return 0


if __name__ == "__main__":
    sys.exit(cli.run(main))
