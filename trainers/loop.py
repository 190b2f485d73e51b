"""The one training loop: pre-training and fine-tuning differ only in the task (trainers/tasks/).

The loop owns the strategy, the model's optimizer, the input iterator,
checkpoints (resume, SIGTERM/Ctrl-C, milestones), logging, TensorBoard,
progress and evaluation scheduling. A task (see `trainers.tasks.base.Task`)
owns its model, input, losses and metrics, all expressed as per-replica sums
that add up across replicas and steps, so every guarantee of the loop (exact
resume, replica invariance, accumulation) holds for every task.
"""
from __future__ import annotations

import math
import signal
import time

import keras
import numpy as np
import tensorflow as tf

from models.hash_random import ROW_KEY_SEED
from trainers.checkpointing import model_state, restore_weights
from trainers.distribution import worker_input_context
from trainers.optimization import make_optimizer
from trainers.progress import ProgressLog

SUM = tf.distribute.ReduceOp.SUM
MEAN = tf.distribute.ReduceOp.MEAN
MILESTONES = "milestones"  # subdirectory of kept-forever checkpoints
WORKERS = "workers"  # subdirectory of the checkpoints of workers other than the chief


class NonFiniteLossError(RuntimeError):
    pass


def seed_states(model: keras.Model) -> list:
    """The model's SeedGenerator state variables (masking, sampling, dropout draws)."""
    return [v for v in model.variables if "seed_generator_state" in v.path]


def row_key_seeds(model: keras.Model) -> list:
    """The seed states that key masking and sampling by row (models.hash_random.ROW_KEY_SEED)."""
    return [v for v in seed_states(model) if v.path.startswith(f"{ROW_KEY_SEED}/")]


class Trainer:
    """Trains `task`'s model under `strategy`, checkpointing to `model_dir`.

    Every checkpoint holds model weights, optimizer slots and step, the
    random-seed states and the training iterator's position, so a restarted
    run continues the same sequence of batches and random draws.
    """

    def __init__(self, task, strategy: tf.distribute.Strategy, model_dir: str, training: bool = True):
        """training False: for evaluation only (no input iterator; checkpoints are read, not written)."""
        self.task, self.strategy, self.model_dir = task, strategy, model_dir
        t = self.config = task.train_config
        if t.batch_size % (strategy.num_replicas_in_sync * t.grad_accumulation_steps):
            raise ValueError(f"batch_size {t.batch_size} is not divisible by {strategy.num_replicas_in_sync} "
                             f"replica(s) x {t.grad_accumulation_steps} accumulation step(s)")
        keras.utils.set_random_seed(t.seed)  # initial weights and dropout seeds follow the config
        # The precision policy holds while the model is built (its layers keep it), not after:
        # models built later in the process take their own.
        previous_policy = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy(t.precision)
        try:
            with strategy.scope():
                self.model = task.build_model()
                # Builds the model; the statistics' shapes give the zeros that sums start from.
                stats = task.statistics(self.model, task.dummy_batch(), training=False)
                self._zero_stats = {k: np.zeros_like(np.asarray(v)) for k, v in stats.items()}
                optimizer = make_optimizer(t, task.learning_rate_multipliers(self.model))
                if t.precision == "mixed_float16":
                    optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
                self.optimizer = optimizer
                self.optimizer.build(self.model.trainable_variables)
        finally:
            keras.mixed_precision.set_global_policy(previous_policy)
        # One plain tf.data iterator per worker (checkpointable, unlike tf.distribute
        # iterators); each step splits its batch across the worker's replicas.
        worker = worker_input_context(strategy)
        self.local_replicas = strategy.num_replicas_in_sync // worker.num_input_pipelines
        self.replica_batch = t.batch_size // strategy.num_replicas_in_sync
        self.train_iterator = iter(task.train_dataset(self.replica_batch * self.local_replicas, worker)
                                   ) if training else None
        # Workers share model_dir: worker 0 (the chief) writes checkpoints and logs there,
        # worker i > 0 its checkpoints (same weights, its own input position) to workers/i.
        self.is_chief = worker.input_pipeline_id == 0
        self.write_dir = model_dir if self.is_chief else f"{model_dir}/{WORKERS}/{worker.input_pipeline_id}"
        state = {"data": self.train_iterator} if training else {}
        self.checkpoint = tf.train.Checkpoint(model=model_state(self.model), optimizer=self.optimizer, **state)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.write_dir,
                                                  max_to_keep=t.keep_checkpoints)
        self.milestones = tf.train.CheckpointManager(self.checkpoint, f"{self.write_dir}/{MILESTONES}",
                                                     max_to_keep=None)
        compiled = (lambda fn: tf.function(fn, jit_compile=True)) if t.jit_compile else (lambda fn: fn)
        self._compiled_replica_step = compiled(self._replica_step)
        self._compiled_accumulate = compiled(self._accumulate_micro_batch)
        self._compiled_apply = compiled(self._apply_gradients)
        self._stop_requested = False

    def _summary_writer(self, name: str):
        """TensorBoard writer for model_dir/name on the chief; the other workers write none."""
        if self.is_chief:
            return tf.summary.create_file_writer(f"{self.model_dir}/{name}")
        return tf.summary.create_noop_writer()

    def log_scalars(self, name: str, values: dict) -> None:
        """Writes `values` to TensorBoard (model_dir/name) at the current step."""
        with self._summary_writer(name).as_default(step=self.step):
            for key, value in values.items():
                tf.summary.scalar(key, float(value))

    @property
    def step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    def restore(self) -> int:
        """Restores this worker's latest checkpoint (in write_dir), if any; returns the step."""
        if self.manager.latest_checkpoint:
            status = self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
            if self.train_iterator is None:
                status.expect_partial()
        return self.step

    def initialize_from(self, path: str) -> str:
        """Starts from the model weights of another run's checkpoint of the same model
        (not its optimizer or data position); returns the checkpoint prefix read."""
        return restore_weights(self.model, path)

    # -- training ---------------------------------------------------------

    def _micro_batch_gradients(self, batch, ctx, stage):
        """Gradients for `stage`'s variables from one micro-batch, normalised by the task's
        counts summed over all replicas (so the summed replica gradients are the global batch's)."""
        variables = self.task.stage_variables(self.model, stage)
        names = self.task.count_names
        with tf.GradientTape() as tape:
            stats = self.task.statistics(self.model, batch, training=True)
            counts = dict(zip(names, ctx.all_reduce(SUM, [stats[n] for n in names])))
            loss = self.task.loss(stats, counts, stage)
            if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                loss = self.optimizer.scale_loss(loss)
        grads = tape.gradient(loss, variables)
        return stats, [tf.zeros_like(v) if g is None else tf.convert_to_tensor(g)
                       for g, v in zip(grads, variables)]

    @tf.autograph.experimental.do_not_convert  # no tensor-dependent control flow; converting costs seconds
    def _replica_step(self, batch, stage):
        """One optimizer update from this replica's batch (no accumulation):
        (b, T) features -> (stats, gradient norm)."""
        stats, grads = self._micro_batch_gradients(batch, tf.distribute.get_replica_context(), stage)
        return stats, self._apply_gradients(grads, stage)

    @tf.autograph.experimental.do_not_convert
    def _accumulate_micro_batch(self, batch, i, seeds, stats, grads, stage):
        """Adds micro-batch `i` of this replica's batch (b, T) -> (b / k, T) to the running sums:
        (stats + its stats, grads + its gradients / k). It starts from `seeds`, the step's
        row-key seed states, so its examples are masked and sampled as in the whole batch."""
        k = self.config.grad_accumulation_steps
        for variable, value in zip(row_key_seeds(self.model), seeds):
            variable.assign(value)
        micro = tf.nest.map_structure(lambda v: tf.reshape(v, tf.concat([[k, -1], tf.shape(v)[1:]], 0))[i], batch)
        s, g = self._micro_batch_gradients(micro, tf.distribute.get_replica_context(), stage)
        return tf.nest.map_structure(tf.add, stats, s), [a + b / k for a, b in zip(grads, g)]

    @tf.autograph.experimental.do_not_convert
    def _apply_gradients(self, grads, stage):
        """Sums this replica's gradients over the replicas and updates `stage`'s variables;
        returns the gradient norm (before clipping, without loss scale)."""
        grads = tf.distribute.get_replica_context().all_reduce(SUM, grads)
        norm = tf.linalg.global_norm(grads)
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            norm /= self.optimizer.dynamic_scale
        self.optimizer.apply(grads, self.task.stage_variables(self.model, stage))
        return norm

    @tf.autograph.experimental.do_not_convert
    def _step(self, batch, stage):
        """One optimizer update from per-replica batches (cross-replica context) ->
        per-replica (stats, gradient norm).

        With k accumulation steps each replica's batch is processed as k
        micro-batches whose (count-normalised) gradients are averaged; equal to
        the full batch's gradient when the micro-batches hold equal counts.
        Dropout draws differ. The micro-batch loop runs here, one
        `strategy.run` per micro-batch, because each micro-batch sums its
        counts over the replicas (a synchronisation point, which a loop inside
        the replica function cannot hold).
        """
        run, k = self.strategy.run, self.config.grad_accumulation_steps
        if k == 1:
            return run(self._compiled_replica_step, args=(batch, stage))
        seeds, stats0, grads0 = run(lambda: ([tf.identity(v) for v in row_key_seeds(self.model)],
                                             {name: tf.zeros_like(v) for name, v in self._zero_stats.items()},
                                             [tf.zeros_like(v) for v in self.task.stage_variables(self.model, stage)]))

        def body(i, stats, grads):
            return (i + 1,) + run(self._compiled_accumulate, args=(batch, i, seeds, stats, grads, stage))

        _, stats, grads = tf.while_loop(lambda i, *_: i < k, body, (tf.constant(0), stats0, grads0))
        return stats, run(self._compiled_apply, args=(grads, stage))

    def _split_across_replicas(self, batch):
        """A worker batch {name: (local_replicas * b, ...)} -> per-replica values of (b, ...)."""
        b, n = self.replica_batch, self.local_replicas

        def replica_slice(ctx):
            i = ctx.replica_id_in_sync_group % n
            return tf.nest.map_structure(lambda v: v[i * b:(i + 1) * b], batch)
        return self.strategy.experimental_distribute_values_from_function(replica_slice)

    @tf.function
    def _train_steps(self, iterator, num_steps, stage):
        """Runs `num_steps` updates of `stage` (a Python string: one trace per stage);
        returns summed statistics and the mean gradient norm."""
        totals = {k: tf.constant(v) for k, v in self._zero_stats.items()}
        norm_sum = tf.constant(0.0)
        for _ in tf.range(num_steps):
            batch = self._split_across_replicas(next(iterator))
            stats, norm = self._step(batch, stage)
            totals = {k: totals[k] + self.strategy.reduce(SUM, stats[k], axis=None) for k in totals}
            norm_sum += self.strategy.reduce(MEAN, norm, axis=None)
        return totals, norm_sum / tf.cast(num_steps, tf.float32)

    def run_steps(self, num_steps: int, stage: str = "joint") -> tuple[dict, tf.Tensor]:
        """Runs `num_steps` updates of `stage` on the training input, without the logging,
        checkpoints and finiteness checks of `train`; returns the statistics summed over the
        steps ({name: float32 tensor}) and the mean gradient norm (scalar tensor)."""
        return self._train_steps(self.train_iterator, tf.constant(num_steps), stage)

    def request_stop(self, *_):
        """Signal handler: finish the current chunk of steps, checkpoint and return."""
        self._stop_requested = True

    def _save(self, last_step: int) -> None:
        t, step = self.config, self.step
        if step % t.checkpoint_every == 0 or step == last_step or self._stop_requested:
            self.manager.save(checkpoint_number=step)
        if t.milestone_every and step % t.milestone_every == 0:
            self.milestones.save(checkpoint_number=step)

    def train(self, log=print, until_step: int | None = None, evaluate_every: bool = False) -> dict:
        """Trains from the current step to `until_step` (default: num_steps); returns the last metrics.

        Every `log_every` steps: one progress line and TensorBoard scalars (the
        task's metrics, learning rate, gradient norm, tokens/s, loss scale);
        with `evaluate_every` and train.eval_every, held-out metrics too.
        """
        t = self.config
        last_step = min(t.num_steps, until_step or t.num_steps)
        writer = self._summary_writer("train")
        previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        progress = ProgressLog(t.num_steps, log)
        metrics, totals, norms, started, first = {}, None, [], time.perf_counter(), self.step
        try:
            while self.step < last_step and not self._stop_requested:
                step = self.step
                boundaries = [t.log_every, t.checkpoint_every, t.steps_per_loop] + [
                    every for every in (t.milestone_every, t.eval_every if evaluate_every else 0) if every]
                self.task.begin_step(self.model, step)
                chunk = min([every - step % every for every in boundaries] + [last_step - step])
                switch = self.task.next_stage_step(step)
                if switch is not None:
                    chunk = min(chunk, switch - step)
                stage = self.task.stage_at(step)
                try:
                    chunk_totals, grad_norm = self.run_steps(chunk, stage)
                except tf.errors.DataLossError as error:  # a corrupt record: keep the steps done, then stop
                    self.manager.save(checkpoint_number=self.step)
                    raise self.task.input_error(error, self.manager.latest_checkpoint) from None
                self._check_finite(chunk_totals, float(grad_norm), stage)  # before anything is saved
                totals = chunk_totals if totals is None else {k: totals[k] + v for k, v in chunk_totals.items()}
                norms.append(float(grad_norm) * chunk)
                step = self.step
                if step % t.log_every == 0 or step == last_step or self._stop_requested:
                    metrics = self._log_metrics(totals, sum(norms) / max(1, step - first), started, stage)
                    progress.update(step, step - first, self.task.describe(metrics), metrics["tokens_per_sec"],
                                    metrics["learning_rate"])
                    with writer.as_default(step=step):
                        for name, value in metrics.items():
                            tf.summary.scalar(name, value)
                    totals, norms, started, first = None, [], time.perf_counter(), step
                self._save(last_step)
                if evaluate_every and t.eval_every and step % t.eval_every == 0 and step < last_step:
                    log(f"eval at step {step}: {self.task.describe_evaluation(self.evaluate(t.eval_batches))}")
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            writer.flush()
        if self._stop_requested:
            log(f"stopped at step {self.step}; checkpoint saved to {self.manager.latest_checkpoint}")
        return metrics

    @property
    def stopped(self) -> bool:
        """Whether the last `train` call ended on a stop request (SIGTERM, Ctrl-C)."""
        return self._stop_requested

    def _check_finite(self, totals: dict, grad_norm: float, stage: str) -> None:
        """Raises NonFiniteLossError if the loss of a chunk of steps (summed statistics), or its
        mean gradient norm, is not finite (overflowing float16 gradients are skipped, not fatal)."""
        loss = float(self.task.metrics(totals, stage)["loss"])
        scaled = isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)
        if not math.isfinite(loss) or not (scaled or math.isfinite(grad_norm)):
            raise NonFiniteLossError(
                f"non-finite loss {loss} (gradient norm {grad_norm}) in the steps up to {self.step}; "
                f"the last good checkpoint is {self.manager.latest_checkpoint}")

    def _log_metrics(self, totals: dict, grad_norm: float, started: float, stage: str) -> dict:
        """Scalars for one logging interval: the task's, then the loop's."""
        metrics = {k: float(v) for k, v in self.task.metrics(totals, stage).items()}
        metrics.update(grad_norm=grad_norm, learning_rate=float(self.optimizer.learning_rate),
                       tokens_per_sec=float(totals["tokens"]) / (time.perf_counter() - started))
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            metrics["loss_scale"] = float(self.optimizer.dynamic_scale)
        return metrics

    # -- evaluation -------------------------------------------------------

    def evaluate(self, max_batches: int | None = None, split: str = "eval") -> dict:
        """The task's held-out metrics over its split `split` (at most `max_batches` batches).

        The task's eval step returns sums (reduced over replicas and batches)
        and per-example rows (gathered in order); the task turns both into
        metrics. Scalar metrics go to TensorBoard (model_dir/<split>).
        """
        totals, rows, batches = self._eval_pass(split, max_batches)
        metrics = self.task.evaluation_metrics(totals, rows, self.step, split)
        metrics["batches"] = batches
        with self._summary_writer(split).as_default(step=self.step):
            for name, value in metrics.items():
                if isinstance(value, (int, float, np.number)):
                    tf.summary.scalar(name, float(value))
        return metrics

    @tf.function(reduce_retracing=True)
    def _eval_step(self, batch):
        """The task's eval step on every replica: (sums reduced, rows gathered)."""
        sums, rows = self.strategy.run(lambda b: self.task.eval_step(self.model, b), args=(batch,))
        return ({k: self.strategy.reduce(SUM, v, axis=None) for k, v in sums.items()},
                {k: self.strategy.gather(v, axis=0) for k, v in rows.items()})

    def predict(self, split: str) -> dict:
        """The task's per-example rows {name: (N, ...) numpy} over the whole split `split`."""
        return self._eval_pass(split, None)[1]

    def _eval_pass(self, split: str, max_batches: int | None) -> tuple[dict, dict, int]:
        """(summed sums, concatenated rows, batches) of the task's eval step over `split`.

        Seed states are put back afterwards, so evaluating does not change what
        training draws next.
        """
        dataset = self.strategy.experimental_distribute_dataset(
            self.task.eval_dataset(self.config.batch_size, split))
        seeds = [(v, v.numpy()) for v in seed_states(self.model)]
        totals, rows, batches = None, {}, 0
        for batch in dataset:
            sums, batch_rows = self._eval_step(batch)
            sums = {k: v.numpy() for k, v in sums.items()}
            totals = sums if totals is None else {k: totals[k] + sums[k] for k in totals}
            for k, v in batch_rows.items():
                rows.setdefault(k, []).append(v.numpy())
            batches += 1
            if max_batches and batches >= max_batches:
                break
        for variable, value in seeds:
            variable.assign(value)
        if not batches:
            raise ValueError(f"no examples in the {split} split")
        return totals, {k: np.concatenate(v) for k, v in rows.items()}, batches
