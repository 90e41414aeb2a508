"""Where training runs: ``train.distribute`` as a tf.distribute strategy.

- ``none``: this process, its default device.
- ``mirrored``: :class:`tf.distribute.MirroredStrategy` over every local GPU,
  or, without one, every logical CPU device (one, unless configured).
- ``multi_worker``: :class:`tf.distribute.MultiWorkerMirroredStrategy` over the
  workers that the ``TF_CONFIG`` environment variable lists. Worker 0 (or a
  ``chief`` task) is the chief: only it writes outputs.

One training loop (:func:`starrec.train.training.fit`) serves every mode; the
global batch is ``train.batch_size`` in each.
"""

from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf

from starrec.errors import StarrecError

COLLECTIVE_TIMEOUT_SECONDS = 300
"""A collective (gradient all-reduce) that waits longer than this for a lost worker fails."""


class DistributeError(StarrecError, RuntimeError):
    """The cluster is not configured, or a worker was lost; the message says which."""


def make_strategy(mode: str) -> tf.distribute.Strategy:
    """The strategy of ``train.distribute``; call it before any other TensorFlow op of the process."""
    if mode == "none":
        return tf.distribute.get_strategy()
    if mode == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    config = os.environ.get("TF_CONFIG")
    if not config:
        raise DistributeError(
            "train.distribute is multi_worker but TF_CONFIG is not set; each worker needs it "
            '(e.g. {"cluster": {"worker": ["host0:2222", "host1:2222"]}, "task": {"type": "worker", "index": 0}}), '
            "see docs/many-machines.md"
        )
    try:
        json.loads(config)["cluster"]
    except (ValueError, KeyError, TypeError):
        raise DistributeError(f"TF_CONFIG is not a JSON object with a cluster: {config!r}") from None
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=COLLECTIVE_TIMEOUT_SECONDS)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)


def local_strategy(mode: str) -> tf.distribute.Strategy:
    """The strategy for work that stays in one process (the K folds): ``multi_worker`` becomes ``mirrored``."""
    return make_strategy("mirrored" if mode == "multi_worker" else mode)


def is_multi_worker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True unless this process is a non-chief worker of a multi-worker cluster."""
    if not is_multi_worker(strategy):
        return True
    resolver = strategy.cluster_resolver
    if resolver.task_type == "chief":
        return True
    return resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs


def broadcast_from_chief(strategy: tf.distribute.Strategy, values: list) -> list[np.ndarray]:
    """``values`` as the chief holds them, on every worker: an all-reduce (sum) to which only
    replica 0 contributes. Without other workers, ``values`` themselves."""
    if not is_multi_worker(strategy):
        return [np.asarray(value) for value in values]
    arrays = [np.asarray(value) for value in values]
    tensors = [tf.constant(array, tf.float64) for array in arrays]  # one dtype; exact for integers below 2**53

    @tf.function
    def share(tensors):
        def replica(tensors):
            context = tf.distribute.get_replica_context()
            first = tf.equal(context.replica_id_in_sync_group, 0)
            own = [tf.where(first, tensor, tf.zeros_like(tensor)) for tensor in tensors]
            return context.all_reduce(tf.distribute.ReduceOp.SUM, own)

        return strategy.run(replica, args=(tensors,))

    shared = share(tensors)
    return [
        np.asarray(strategy.experimental_local_results(value)[0]).astype(array.dtype)
        for value, array in zip(shared, arrays, strict=True)
    ]
