"""Custom RTD training and evaluation loops under a tf.distribute strategy."""
from __future__ import annotations

import math
import signal
import time

import keras
import numpy as np
import tensorflow as tf

from configs import PretrainConfig
from models.pretrainer import ElectraPretrainer
from models.rtd_loss import LOSS_COUNTS, loss_weights, replica_loss, rtd_metrics, rtd_statistics
from models.two_stage import init_discriminator_from_generator, stage_at, stage_variables
from trainers import baselines
from trainers.checkpointing import model_state, restore_weights
from trainers.distribution import worker_input_context
from trainers.input_data import make_dataset
from trainers.optimization import make_optimizer
from trainers.progress import ProgressLog

SUM = tf.distribute.ReduceOp.SUM
MEAN = tf.distribute.ReduceOp.MEAN
MILESTONES = "milestones"  # subdirectory of kept-forever checkpoints
WORKERS = "workers"  # subdirectory of the checkpoints of workers other than the chief


class NonFiniteLossError(RuntimeError):
    pass


class RtdTrainer:
    """Owns the pretrainer, its optimizer, the input iterator and their checkpoints.

    Every checkpoint holds model weights, optimizer slots and step, the
    masking/sampling/dropout seed states and the training iterator's position,
    so a restarted run continues the same sequence of batches, masks and samples.
    """

    def __init__(self, config: PretrainConfig, special_ids: dict, strategy: tf.distribute.Strategy,
                 model_dir: str, train_pattern: str, max_seq_length: int):
        self.config, self.strategy, self.model_dir = config, strategy, model_dir
        self.max_seq_length = max_seq_length
        t = config.train
        if t.batch_size % (strategy.num_replicas_in_sync * t.grad_accumulation_steps):
            raise ValueError(f"batch_size {t.batch_size} is not divisible by {strategy.num_replicas_in_sync} "
                             f"replica(s) x {t.grad_accumulation_steps} accumulation step(s)")
        keras.mixed_precision.set_global_policy(t.precision)
        keras.utils.set_random_seed(t.seed)  # initial weights and dropout seeds follow the config
        with strategy.scope():
            self.model = ElectraPretrainer(config.model, special_ids, seed=t.seed)
            optimizer = make_optimizer(t)
            if t.precision == "mixed_float16":
                optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            self.optimizer = optimizer
            # Builds the model; the statistics' shapes give the zeros that sums start from.
            outputs = self.model(self._dummy_batch(), training=False)
            self._zero_stats = {k: np.zeros_like(np.asarray(v)) for k, v in rtd_statistics(outputs).items()}
            self.optimizer.build(self.model.trainable_variables)
        # One plain tf.data iterator per worker (checkpointable, unlike tf.distribute
        # iterators); each step splits its batch across the worker's replicas.
        worker = worker_input_context(strategy)
        self.local_replicas = strategy.num_replicas_in_sync // worker.num_input_pipelines
        self.replica_batch = t.batch_size // strategy.num_replicas_in_sync
        self.train_iterator = iter(make_dataset(
            train_pattern, self.replica_batch * self.local_replicas, max_seq_length, training=True, seed=t.seed,
            shuffle_buffer=t.shuffle_buffer, input_context=worker))
        # Workers share model_dir: worker 0 (the chief) writes checkpoints and logs there,
        # worker i > 0 its checkpoints (same weights, its own input position) to workers/i.
        self.is_chief = worker.input_pipeline_id == 0
        self.write_dir = model_dir if self.is_chief else f"{model_dir}/{WORKERS}/{worker.input_pipeline_id}"
        self.checkpoint = tf.train.Checkpoint(model=model_state(self.model), optimizer=self.optimizer,
                                              data=self.train_iterator)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.write_dir,
                                                  max_to_keep=t.keep_checkpoints)
        self.milestones = tf.train.CheckpointManager(self.checkpoint, f"{self.write_dir}/{MILESTONES}",
                                                     max_to_keep=None)
        replica_step = self._replica_step
        if t.jit_compile:
            replica_step = tf.function(replica_step, jit_compile=True)
        self._compiled_replica_step = replica_step
        self._stop_requested = False

    def _summary_writer(self, name: str):
        """TensorBoard writer for model_dir/name on the chief; the other workers write none."""
        if self.is_chief:
            return tf.summary.create_file_writer(f"{self.model_dir}/{name}")
        return tf.summary.create_noop_writer()

    def _dummy_batch(self):
        zeros = tf.zeros((1, self.max_seq_length), tf.int32)
        return {"input_ids": zeros, "input_mask": zeros, "segment_ids": zeros}

    @property
    def step(self) -> int:
        return int(self.optimizer.iterations.numpy())

    def restore(self) -> int:
        """Restores this worker's latest checkpoint (in write_dir), if any; returns the step."""
        if self.manager.latest_checkpoint:
            self.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        return self.step

    def initialize_from(self, path: str) -> str:
        """Starts from the model weights of another run's checkpoint (not its optimizer or data position)."""
        return restore_weights(self.model, path)

    def count_tokens(self, pattern: str, max_batches: int = 1000) -> np.ndarray:
        """Token counts (V,) over the first `max_batches` batches of `pattern`, padding excluded."""
        t, vocab_size = self.config.train, self.config.model.encoder.vocab_size
        counts = np.zeros(vocab_size, np.int64)
        dataset = make_dataset(pattern, t.batch_size, self.max_seq_length, training=False, seed=t.seed)
        for batch in dataset.take(max_batches):
            ids = batch["input_ids"].numpy()[batch["input_mask"].numpy() > 0]
            counts += np.bincount(ids, minlength=vocab_size)
        return counts

    # -- training ---------------------------------------------------------

    def _micro_batch_gradients(self, batch, ctx, stage):
        """Gradients for `stage`'s variables from one micro-batch, normalised by its counts
        over all replicas (so the summed replica gradients are the global batch's)."""
        variables = stage_variables(self.model, stage)
        with tf.GradientTape() as tape:
            stats = rtd_statistics(self.model(batch, training=True))
            counts = dict(zip(LOSS_COUNTS, ctx.all_reduce(SUM, [stats[k] for k in LOSS_COUNTS])))
            loss = replica_loss(stats, counts, self.config.model, stage)
            if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
                loss = self.optimizer.scale_loss(loss)
        grads = tape.gradient(loss, variables)
        return stats, [tf.convert_to_tensor(g) for g in grads]

    @tf.autograph.experimental.do_not_convert  # no tensor-dependent control flow; converting costs seconds
    def _replica_step(self, batch, stage):
        """One optimizer update from this replica's batch: (b, T) features -> (stats, gradient norm).

        With k accumulation steps the batch is processed as k micro-batches
        whose (count-normalised) gradients are averaged; equal to the full
        batch's gradient when the micro-batches hold equal token counts.
        """
        ctx = tf.distribute.get_replica_context()
        k = self.config.train.grad_accumulation_steps
        if k == 1:
            stats, grads = self._micro_batch_gradients(batch, ctx, stage)
        else:
            micro = {name: tf.reshape(v, [k, -1, v.shape[-1]]) for name, v in batch.items()}

            def body(i, stats, grads):
                s, g = self._micro_batch_gradients({name: v[i] for name, v in micro.items()}, ctx, stage)
                return (i + 1, tf.nest.map_structure(tf.add, stats, s),
                        [a + b / k for a, b in zip(grads, g)])

            stats0 = {name: tf.zeros_like(v) for name, v in self._zero_stats.items()}
            grads0 = [tf.zeros_like(v) for v in stage_variables(self.model, stage)]
            _, stats, grads = tf.while_loop(lambda i, *_: i < k, body, (tf.constant(0), stats0, grads0))
        grads = ctx.all_reduce(SUM, grads)
        norm = tf.linalg.global_norm(grads)
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            norm /= self.optimizer.dynamic_scale
        self.optimizer.apply(grads, stage_variables(self.model, stage))
        return stats, norm

    def _split_across_replicas(self, batch):
        """A worker batch {name: (local_replicas * b, T)} -> per-replica values of (b, T)."""
        b, n = self.replica_batch, self.local_replicas

        def replica_slice(ctx):
            i = ctx.replica_id_in_sync_group % n
            return {k: v[i * b:(i + 1) * b] for k, v in batch.items()}
        return self.strategy.experimental_distribute_values_from_function(replica_slice)

    @tf.function
    def _train_steps(self, iterator, num_steps, stage):
        """Runs `num_steps` updates of `stage` (a Python string: one trace per stage);
        returns summed statistics and the mean gradient norm."""
        totals = {k: tf.constant(v) for k, v in self._zero_stats.items()}
        norm_sum = tf.constant(0.0)
        for _ in tf.range(num_steps):
            batch = self._split_across_replicas(next(iterator))
            stats, norm = self.strategy.run(self._compiled_replica_step, args=(batch, stage))
            totals = {k: totals[k] + self.strategy.reduce(SUM, stats[k], axis=None) for k in totals}
            norm_sum += self.strategy.reduce(MEAN, norm, axis=None)
        return totals, norm_sum / tf.cast(num_steps, tf.float32)

    def request_stop(self, *_):
        """Signal handler: finish the current loop, checkpoint and return."""
        self._stop_requested = True

    def _save(self, last_step: int) -> None:
        t, step = self.config.train, self.step
        if step % t.checkpoint_every == 0 or step == last_step or self._stop_requested:
            self.manager.save(checkpoint_number=step)
        if t.milestone_every and step % t.milestone_every == 0:
            self.milestones.save(checkpoint_number=step)

    def train(self, log=print, until_step: int | None = None, eval_pattern: str = "") -> dict:
        """Trains from the current step to `until_step` (default: num_steps); returns the last metrics.

        Every `log_every` steps: one progress line and TensorBoard scalars (all
        RTD metrics, learning rate, gradient norm, tokens/s, loss scale); with
        `eval_pattern` and `eval_every`, held-out metrics too.
        """
        t = self.config.train
        last_step = min(t.num_steps, until_step or t.num_steps)
        writer = self._summary_writer("train")
        previous = {s: signal.signal(s, self.request_stop) for s in (signal.SIGTERM, signal.SIGINT)}
        progress = ProgressLog(t.num_steps, log)
        metrics, totals, norms, started, first = {}, None, [], time.perf_counter(), self.step
        try:
            while self.step < last_step and not self._stop_requested:
                step = self.step
                boundaries = [t.log_every, t.checkpoint_every, t.steps_per_loop] + [
                    every for every in (t.milestone_every, t.eval_every if eval_pattern else 0) if every]
                switch = self.config.model.two_stage_generator_steps  # two-stage training
                if switch and step == switch:
                    init_discriminator_from_generator(self.model)
                if switch and step < switch:
                    boundaries.append(switch)
                chunk = min([every - step % every for every in boundaries] + [last_step - step])
                stage = stage_at(self.config.model, step)
                chunk_totals, grad_norm = self._train_steps(self.train_iterator, tf.constant(chunk), stage)
                self._check_finite(chunk_totals, float(grad_norm), stage)  # before anything is saved
                totals = chunk_totals if totals is None else {k: totals[k] + v for k, v in chunk_totals.items()}
                norms.append(float(grad_norm) * chunk)
                step = self.step
                if step % t.log_every == 0 or step == last_step or self._stop_requested:
                    metrics = self._log_metrics(totals, sum(norms) / max(1, step - first), started, stage)
                    progress.update(step, step - first, metrics)
                    with writer.as_default(step=step):
                        for name, value in metrics.items():
                            tf.summary.scalar(name, value)
                    totals, norms, started, first = None, [], time.perf_counter(), step
                self._save(last_step)
                if eval_pattern and t.eval_every and step % t.eval_every == 0 and step < last_step:
                    evaluation = self.evaluate(eval_pattern, t.eval_batches)
                    log(f"eval at step {step}: disc_loss {evaluation['disc_loss']:.4f} "
                        f"mlm_accuracy {evaluation['mlm_accuracy']:.4f}")
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)
            writer.flush()
        if self._stop_requested:
            log(f"stopped at step {self.step}; checkpoint saved to {self.manager.latest_checkpoint}")
        return metrics

    def _check_finite(self, totals: dict, grad_norm: float, stage: str) -> None:
        """Raises NonFiniteLossError if the loss of a chunk of steps (summed statistics), or its
        mean gradient norm, is not finite (overflowing float16 gradients are skipped, not fatal)."""
        loss = float(rtd_metrics(totals, *loss_weights(self.config.model, stage))["loss"])
        scaled = isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer)
        if not math.isfinite(loss) or not (scaled or math.isfinite(grad_norm)):
            raise NonFiniteLossError(
                f"non-finite loss {loss} (gradient norm {grad_norm}) in the steps up to {self.step}; "
                f"the last good checkpoint is {self.manager.latest_checkpoint}")

    def _log_metrics(self, totals: dict, grad_norm: float, started: float, stage: str) -> dict:
        """Scalars for one logging interval."""
        weights = loss_weights(self.config.model, stage)
        metrics = {k: float(v) for k, v in rtd_metrics(totals, *weights).items() if np.ndim(v) == 0}
        metrics.update(grad_norm=grad_norm, learning_rate=float(self.optimizer.learning_rate),
                       tokens_per_sec=float(totals["disc_count"]) / (time.perf_counter() - started))
        if isinstance(self.optimizer, keras.optimizers.LossScaleOptimizer):
            metrics["loss_scale"] = float(self.optimizer.dynamic_scale)
        return metrics

    # -- evaluation -------------------------------------------------------

    def evaluate(self, pattern: str, max_batches: int) -> dict:
        """RTD metrics on held-out data with fresh masks, and the constant baselines.

        The masking seed state is put back afterwards, so evaluating does not
        change what training draws next.
        """
        t = self.config.train
        vocab_size = self.config.model.encoder.vocab_size
        dataset = self.strategy.experimental_distribute_dataset(
            make_dataset(pattern, t.batch_size, self.max_seq_length, training=False, seed=t.seed))
        seed_state = self.model.seed_generator.state.numpy()

        @tf.function
        def eval_step(batch):
            def replica_fn(batch):
                outputs = self.model(batch, training=False)
                targets = tf.reshape(outputs["mlm_targets"], [-1])
                counts = tf.math.unsorted_segment_sum(tf.reshape(outputs["mlm_weights"], [-1]), targets, vocab_size)
                return rtd_statistics(outputs), counts
            stats, counts = self.strategy.run(replica_fn, args=(batch,))
            return ({k: self.strategy.reduce(SUM, v, axis=None) for k, v in stats.items()},
                    self.strategy.reduce(SUM, counts, axis=None))

        totals = {k: np.zeros_like(v) for k, v in self._zero_stats.items()}
        target_counts = np.zeros(vocab_size)
        batches = 0
        for batch in dataset:
            stats, counts = eval_step(batch)
            totals = {k: totals[k] + stats[k].numpy() for k in totals}
            target_counts += counts.numpy()
            batches += 1
            if batches >= max_batches:
                break
        self.model.seed_generator.state.assign(seed_state)
        if not batches:
            raise ValueError(f"no held-out examples in {pattern!r}")
        weights = loss_weights(self.config.model, stage_at(self.config.model, self.step))
        metrics = {k: float(v) for k, v in rtd_metrics(
            {k: tf.constant(v) for k, v in totals.items()}, *weights).items() if np.ndim(v) == 0}
        metrics.update(
            batches=batches, tokens=float(totals["disc_count"]), masked_positions=float(totals["mlm_count"]),
            constant_disc_loss=baselines.constant_disc_loss(metrics["replaced_fraction"]),
            most_frequent_token_accuracy=baselines.most_frequent_token_accuracy(target_counts))
        with self._summary_writer("eval").as_default(step=self.step):
            for name, value in metrics.items():
                tf.summary.scalar(name, value)
        return metrics
