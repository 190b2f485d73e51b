"""Builds the tf.distribute strategy named on the command line."""
from __future__ import annotations

import tensorflow as tf

STRATEGIES = ("auto", "cpu", "one_device", "mirrored", "multi_worker_mirrored", "tpu")


def make_strategy(name: str = "auto", tpu: str = "") -> tf.distribute.Strategy:
    """auto: TPU if `tpu` is given, all GPUs if several, else one device (GPU or CPU).

    mirrored: all GPUs, or without GPUs all logical CPU devices.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {STRATEGIES}")
    if name == "multi_worker_mirrored":
        # First: it configures collective ops, which fails once TensorFlow has initialised.
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "auto":
        name = "tpu" if tpu else "mirrored" if len(gpus) > 1 else "one_device"
    if name == "cpu":
        return tf.distribute.OneDeviceStrategy("/cpu:0")
    if name == "one_device":
        return tf.distribute.OneDeviceStrategy("/gpu:0" if gpus else "/cpu:0")
    if name == "mirrored":
        cpus = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(None if gpus or len(cpus) < 2 else cpus)
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or None)
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def worker_input_context(strategy: tf.distribute.Strategy) -> tf.distribute.InputContext:
    """This worker's input pipeline: one per worker process, `num_replicas_in_sync` replicas in all."""
    resolver = getattr(strategy, "cluster_resolver", None)
    spec = resolver.cluster_spec() if resolver is not None else None
    if not spec or not spec.jobs or isinstance(strategy, tf.distribute.TPUStrategy):
        return tf.distribute.InputContext(1, 0, strategy.num_replicas_in_sync)
    chiefs = spec.num_tasks("chief") if "chief" in spec.jobs else 0
    workers = chiefs + (spec.num_tasks("worker") if "worker" in spec.jobs else 0)
    index = resolver.task_id + (chiefs if resolver.task_type == "worker" else 0)
    return tf.distribute.InputContext(workers, index, strategy.num_replicas_in_sync)
