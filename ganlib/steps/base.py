"""The skeleton every train step shares (see the package docstring)."""

from __future__ import annotations

import tensorflow as tf

from .. import draws
from ..precision import with_loss_scaling


class TrainStep:
    """Skeleton of a GAN train step. Build it inside the strategy scope the models live in.

    networks:   {"generator": G, "discriminator": D, ...}
    optimizers: {name: optimizer} for each network that `losses()` returns a loss for.
    repeats:    {name: n} for a network updated n times per step, the others once: WGAN's
                critic, {"discriminator": 5}. The batch is then dealt into n equal parts
                (rows i, i + n, ...), one per update (each a fresh batch, as in the paper),
                and the networks updated once learn on the last part. The logs are means
                over the parts.
    """

    def __init__(self, networks: dict, optimizers: dict, *, seed: int = 0,
                 jit_compile: bool = False, repeats: dict | None = None):
        missing = set(optimizers) - set(networks)
        if missing:
            raise ValueError(f"optimizers for unknown networks: {sorted(missing)}")
        self.repeats = {k: int(v) for k, v in (repeats or {}).items()}
        if set(self.repeats) - set(optimizers) or any(v < 1 for v in self.repeats.values()):
            raise ValueError(f"repeats {repeats} must give networks with an optimizer at "
                             "least 1 update each.")
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

    @property
    def updates_per_step(self) -> int:
        """How many parts a step splits its batch into (1 unless `repeats` asks for more)."""
        return max(self.repeats.values(), default=1)

    def _replica_step(self, batch):
        # The same seed on every replica: per-example draws go through `replica_rows`, so
        # example i of the global batch gets the same noise on one device or on eight.
        seed = tf.stack([self.seed.read_value(), self.step.read_value()])
        parts = self.updates_per_step
        if parts == 1:
            logs = self.update(batch, seed, list(self.optimizers))
        else:  # part i updates the networks still owed an update; the last part, all of them
            flat = tf.nest.flatten(batch)
            rows = flat[0].shape[0]
            if rows is not None and rows % parts:
                raise ValueError(f"a batch of {rows} does not split into the {parts} parts "
                                 f"this step updates on; use a multiple of {parts}.")
            all_logs = []
            for i in range(parts):
                names = [k for k in self.optimizers if self.repeats.get(k, 1) >= parts - i]
                # rows i, i + parts, ...: the same global rows on one device or several, since
                # each replica holds a contiguous block of the global batch
                piece = tf.nest.pack_sequence_as(batch, [x[i::parts] for x in flat])
                part_seed = tf.random.experimental.stateless_fold_in(seed, i)
                all_logs.append(self.update(piece, part_seed, names))
            logs = {k: tf.add_n([one[k] for one in all_logs]) / parts for k in all_logs[0]}
        self.step.assign_add(1)
        return logs

    def update(self, batch, seed, names):
        """One update: every loss from one forward pass under a tape, then each network in
        `names` takes the gradient of its own loss, applied by its own optimizer."""
        with tf.GradientTape(persistent=True) as tape:
            losses, metrics = self.losses(batch, seed)
            losses = {name: self.average(loss) for name, loss in losses.items()}
            # under mixed precision, scaled up here and back down by the optimizer
            scaled = {name: self.optimizers[name].scale_loss(losses[name]) for name in names}
        for name in names:
            variables = self.networks[name].trainable_variables
            gradients = tape.gradient(scaled[name], variables)
            self.optimizers[name].apply_gradients(zip(gradients, variables))
        return self.logs(losses, metrics, names)

    def logs(self, losses, metrics, updated) -> dict:
        """What a step reports: each loss as `<network>_loss` (NaN if an updated network's
        weights went non-finite, for the watchdog), each metric averaged over the batch."""
        logs = {f"{name}_loss": nan_unless_finite(loss, self.networks[name].weights)
                if name in updated else loss for name, loss in losses.items()}
        logs.update({name: self.average(value) for name, value in metrics.items()})
        return logs

    def average(self, per_example):
        """Mean over the global batch: sum here / (local batch x replicas); SUM-reduced later."""
        per_example = tf.cast(per_example, tf.float32)
        global_batch = tf.cast(tf.shape(per_example)[0], tf.float32) * tf.cast(
            tf.distribute.get_replica_context().num_replicas_in_sync, tf.float32)
        return tf.reduce_sum(per_example) / global_batch

    # --- the draws `losses()` makes (see `draws`): the same on one device or several --------
    split = staticmethod(draws.split)
    normal = staticmethod(draws.normal)
    uniform = staticmethod(draws.uniform)
    integers = staticmethod(draws.integers)


def generator_networks(generator, discriminator, g_optimizer, d_optimizer, baseline=None,
                       baseline_optimizer=None, baseline_loss: str = "the pixel loss"):
    """(networks, optimizers) of an image-to-image step: G and D, and optionally a baseline,
    a copy of G trained in the same step on `baseline_loss` alone (pix2pix, SRGAN)."""
    if (baseline is None) != (baseline_optimizer is None):
        raise ValueError(f"give the {baseline_loss}-only baseline and its optimizer together.")
    networks = {"generator": generator, "discriminator": discriminator}
    optimizers = {"generator": g_optimizer, "discriminator": d_optimizer}
    if baseline is not None:
        networks["baseline"], optimizers["baseline"] = baseline, baseline_optimizer
    return networks, optimizers


def nan_unless_finite(value, weights):
    """`value`, or NaN if any of `weights` holds a NaN or an infinity.

    A network's loss is logged this way after its update, so that the watchdog sees a
    network gone non-finite even when its forward pass hid it: oneDNN's fused batch norm +
    ReLU turns NaN inputs into zeros.
    """
    sums = [tf.reduce_sum(tf.cast(w, tf.float32)) for w in weights
            if tf.as_dtype(w.dtype).is_floating]  # one NaN or inf makes its sum non-finite
    finite = tf.math.is_finite(tf.add_n(sums)) if sums else tf.constant(True)
    return tf.where(finite, value, tf.constant(float("nan"), value.dtype))
