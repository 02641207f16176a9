"""The skeleton every train step shares (see the package docstring)."""

from __future__ import annotations

import tensorflow as tf

from ..precision import with_loss_scaling


class TrainStep:
    """Skeleton of a GAN train step. Build it inside the strategy scope the models live in.

    networks:   {"generator": G, "discriminator": D, ...}
    optimizers: {name: optimizer} for each network that `losses()` returns a loss for.
    """

    def __init__(self, networks: dict, optimizers: dict, *, seed: int = 0,
                 jit_compile: bool = False):
        missing = set(optimizers) - set(networks)
        if missing:
            raise ValueError(f"optimizers for unknown networks: {sorted(missing)}")
        self.networks = dict(networks)
        # under mixed_float16, each optimizer scales its loss (see ganlib.precision)
        self.optimizers = {k: with_loss_scaling(v) for k, v in optimizers.items()}
        self.strategy = tf.distribute.get_strategy()
        # A variable, so the watchdog can change it and a checkpoint restores it.
        self.seed = tf.Variable(int(seed), dtype=tf.int64, trainable=False, name="seed",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        for name, opt in self.optimizers.items():
            opt.build(self.networks[name].trainable_variables)
        # XLA cannot compile the cross-replica merge of a multi-device optimizer update.
        jit = jit_compile and self.strategy.num_replicas_in_sync == 1
        # Under several replicas the replica step is traced inside `_fn`, once for all of them
        # (a tf.function of its own would be traced per replica thread, and the collective ops
        # of synchronised batch norm would then pair up in different orders).
        self._replica_fn = (tf.function(self._replica_step, jit_compile=True) if jit
                            else self._replica_step)
        self._fn = tf.function(self._distributed_step)

    # --- what a family writes -------------------------------------------------------------
    def losses(self, batch, seed) -> tuple[dict, dict]:
        """Return ({network: per-example loss}, {metric: per-example value})."""
        raise NotImplementedError

    # --- the skeleton ----------------------------------------------------------------------
    def __call__(self, batch) -> dict:
        """One training step on a (per-replica or distributed) batch; dict of float tensors."""
        return self._fn(batch)

    def trackables(self) -> dict:
        """What a checkpoint must hold to resume this step exactly."""
        objs = {f"net_{k}": v for k, v in self.networks.items()}
        objs.update({f"opt_{k}": v for k, v in self.optimizers.items()})
        objs["step"] = self.step
        objs["seed"] = self.seed
        return objs

    def _distributed_step(self, batch):
        per_replica = self.strategy.run(self._replica_fn, args=(batch,))
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in per_replica.items()}

    def _replica_step(self, batch):
        # The same seed on every replica: per-example draws go through `replica_rows`, so
        # example i of the global batch gets the same noise on one device or on eight.
        seed = tf.stack([self.seed.read_value(), self.step.read_value()])
        with tf.GradientTape(persistent=True) as tape:
            losses, metrics = self.losses(batch, seed)
            averaged = {k: self._average(v) for k, v in losses.items()}
            scaled = {k: self.optimizers[k].scale_loss(v) for k, v in averaged.items()}
        for name, loss in scaled.items():  # the optimizer unscales what it scaled
            variables = self.networks[name].trainable_variables
            grads = tape.gradient(loss, variables)
            self.optimizers[name].apply_gradients(zip(grads, variables))
        del tape
        self.step.assign_add(1)
        logs = {f"{k}_loss": v for k, v in averaged.items()}
        logs.update({k: self._average(v) for k, v in metrics.items()})
        return logs

    def _average(self, per_example):
        """Mean over the global batch: sum here / (local batch x replicas); SUM-reduced later."""
        per_example = tf.cast(per_example, tf.float32)
        global_batch = tf.cast(tf.shape(per_example)[0], tf.float32) * tf.cast(
            tf.distribute.get_replica_context().num_replicas_in_sync, tf.float32)
        return tf.reduce_sum(per_example) / global_batch
