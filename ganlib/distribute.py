"""Running a lesson under TensorFlow's own distribution engine (`tf.distribute`).

A lesson is built and trained inside `strategy.scope()`: its models and optimizers are
created there, the train step runs once per replica (`strategy.run`), losses are averaged
over the global batch, and the trainer distributes the batches. Nothing else changes, so
the same `build()` and `fit()` serve one CPU, several GPUs, several machines and a TPU.

    strategy = distribute.make_strategy("mirrored")
    with strategy.scope():
        run = lessons.dcgan.build(cfg)
        lessons.fit(run)

Checkpoints hold one copy of every variable, so a run saved with N replicas restores with
any other number of them.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker", "tpu")


class StrategyUnavailable(ValueError):
    """The strategy asked for cannot run here (no TPU, no cluster spec)."""


def make_strategy(name: str = "default", devices=None) -> tf.distribute.Strategy:
    """The strategy of that name.

    default:     one device (the first GPU if any, else the CPU).
    mirrored:    every local GPU (or `devices`, e.g. ["/cpu:0", "/cpu:1"]) in sync.
    multiworker: several machines in sync; each process reads its role from TF_CONFIG.
    tpu:         a TPU (Colab's, or the one TPU_NAME names).
    """
    if name not in STRATEGIES:
        raise ValueError(f"Unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        cluster_spec()  # a clear error before TensorFlow's own
        return tf.distribute.MultiWorkerMirroredStrategy()
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu=os.environ.get("TPU_NAME", ""))
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as e:
        why = str(e).splitlines()[0][:200] if str(e) else type(e).__name__
        raise StrategyUnavailable(f"--strategy tpu found no TPU ({why}). On Colab choose "
                                  "Runtime > Change runtime type > TPU; elsewhere set "
                                  "TPU_NAME.") from None
    return tf.distribute.TPUStrategy(resolver)


def cluster_spec() -> dict:
    """TF_CONFIG, checked: {"cluster": {"worker": [host:port, ...]}, "task": {...}}."""
    how = ('Set TF_CONFIG on every worker, e.g. {"cluster": {"worker": ["host1:12345", '
           '"host2:12345"]}, "task": {"type": "worker", "index": 0}} (index 1 on the second).')
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise StrategyUnavailable(f"--strategy multiworker needs TF_CONFIG, which is not set. "
                                  f"{how}")
    try:
        spec = json.loads(raw)
        cluster, kind, index = spec["cluster"], spec["task"]["type"], int(spec["task"]["index"])
        members = cluster.get(kind, [])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        raise StrategyUnavailable(f"TF_CONFIG is not a cluster spec: {raw[:200]!r}. "
                                  f"{how}") from None
    if kind not in ("chief", "worker") or not 0 <= index < len(members):
        raise StrategyUnavailable(f"TF_CONFIG's task {spec['task']} is not one of its "
                                  f"cluster's chief or workers. {how}")
    return spec


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
    """Whether this process writes the run: always, except on multi-worker's other workers."""
    return bool((strategy or tf.distribute.get_strategy()).extended.should_checkpoint)


class WorkerDir:
    """The run directory of this process: the real one on the chief; a scratch copy that is
    removed afterwards on any other worker (every worker must save checkpoints, as
    TensorFlow's collective ops need, but only the chief's count).

    A non-chief worker resuming a run first copies the chief's checkpoints, so every worker
    starts from the same weights, and its best checkpoint with `best.json`, so every worker
    makes the same decision to save a new best (a save is collective: a worker left saving
    alone waits for the others until they exit). The run directory must therefore be on a
    filesystem all workers see.
    """

    COPIED = ("checkpoints", "best", "best.json", "config.json")

    def __init__(self, run_dir, strategy: tf.distribute.Strategy | None = None):
        self.run_dir = Path(run_dir)
        self.chief = is_chief(strategy)
        self.path = self.run_dir
        if not self.chief:
            self.path = Path(tempfile.mkdtemp(prefix="ganlib-worker-"))
            for name in self.COPIED:
                source = self.run_dir / name
                if source.is_dir():
                    shutil.copytree(source, self.path / name)
                elif source.exists():
                    shutil.copy2(source, self.path / name)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc):
        if not self.chief:
            shutil.rmtree(self.path, ignore_errors=True)
        return False


def split_cpu(n: int = 2) -> list[str]:
    """Make the CPU n logical devices (to try MirroredStrategy without GPUs); must run before
    TensorFlow has started. Returns their names."""
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(n)])
    except RuntimeError:
        raise RuntimeError("split_cpu must run before TensorFlow has started (before any "
                           "tensor or model is made); call it first in a fresh process.") from None
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def replica_rows(draw, n):
    """This replica's `n` rows of a random draw over the whole global batch.

    `draw(m)` returns m rows (e.g. `lambda m: tf.random.stateless_normal([m, 64], seed)`),
    with the same seed on every replica. Each replica keeps its own slice, so example i of
    the global batch gets the same noise whether one device or eight run the step.
    """
    ctx = tf.distribute.get_replica_context()
    replicas = 1 if ctx is None else ctx.num_replicas_in_sync
    if replicas == 1:
        return draw(n)
    start = tf.cast(ctx.replica_id_in_sync_group, tf.int32) * n
    return draw(n * replicas)[start:start + n]


def batch_mean(x):
    """The mean of `x` over the rows of the whole global batch, on every replica (rows per
    replica all-reduced), for a loss term made of batch statistics: feature matching, a
    batch's category distribution. The plain `reduce_mean(x, 0)` on one device."""
    ctx = tf.distribute.get_replica_context()
    if ctx is None or ctx.num_replicas_in_sync == 1:
        return tf.reduce_mean(x, 0)
    total = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.reduce_sum(x, 0))
    count = ctx.all_reduce(tf.distribute.ReduceOp.SUM, tf.cast(tf.shape(x)[0], x.dtype))
    return total / count


def batch_norm_synchronized() -> bool:
    """Whether batch normalisation built now should use the statistics of the global batch
    (all-reduced over replicas), so N replicas normalise as one device does."""
    return tf.distribute.get_strategy().num_replicas_in_sync > 1
