"""tf.GradientTape train steps, one skeleton for every GAN family.

`TrainStep` owns the skeleton: compute per-example losses under one tape, average them over
the *global* batch (correct under any `tf.distribute` strategy), apply one optimizer per
network, count the step, return a dict of scalar tensors. A family only writes `losses()`.

Randomness inside a step (noise, label flips) is stateless, seeded by (seed, step, replica):
no hidden RNG state, the same seed gives the same run, and a restored checkpoint continues
with the noise it would have drawn anyway.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from .losses import AdversarialLoss


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
        self.optimizers = dict(optimizers)
        self.strategy = tf.distribute.get_strategy()
        self.seed = int(seed)
        self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step",
                                aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        for name, opt in self.optimizers.items():
            opt.build(self.networks[name].trainable_variables)
        # XLA cannot compile the cross-replica merge of a multi-device optimizer update.
        jit = jit_compile and self.strategy.num_replicas_in_sync == 1
        self._replica_fn = tf.function(self._replica_step, jit_compile=jit)
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
        return objs

    def _distributed_step(self, batch):
        per_replica = self.strategy.run(self._replica_fn, args=(batch,))
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in per_replica.items()}

    def _replica_step(self, batch):
        ctx = tf.distribute.get_replica_context()
        replicas = tf.cast(ctx.num_replicas_in_sync, tf.int64)
        counter = self.step * replicas + tf.cast(ctx.replica_id_in_sync_group, tf.int64)
        seed = tf.stack([tf.constant(self.seed, tf.int64), counter])
        with tf.GradientTape(persistent=True) as tape:
            losses, metrics = self.losses(batch, seed)
            averaged = {k: self._average(v) for k, v in losses.items()}
        for name, loss in averaged.items():
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


class GANStep(TrainStep):
    """Unconditional GAN (lessons 01 and 02): G(noise) against D, simultaneous updates.

    One forward pass of G and two of D serve both losses; D's gradient comes from its loss
    and G's from its own, through the same graph.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 g_optimizer, d_optimizer, loss: AdversarialLoss | None = None,
                 seed: int = 0, jit_compile: bool = False):
        self.loss = loss or AdversarialLoss()
        self.latent_dim = int(generator.inputs[0].shape[-1])
        super().__init__({"generator": generator, "discriminator": discriminator},
                         {"generator": g_optimizer, "discriminator": d_optimizer},
                         seed=seed, jit_compile=jit_compile)

    def losses(self, real, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        noise_seed, label_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
        noise = tf.random.stateless_normal([tf.shape(real)[0], self.latent_dim], noise_seed)
        fake = g(noise, training=True)
        real_logits = tf.reshape(tf.cast(d(real, training=True), tf.float32), [-1])
        fake_logits = tf.reshape(tf.cast(d(fake, training=True), tf.float32), [-1])
        losses = {
            "discriminator": self.loss.discriminator(
                real_logits[:, None], fake_logits[:, None],
                seed=label_seed if self.loss.flip_prob else None),
            "generator": self.loss.generator(fake_logits[:, None]),
        }
        metrics = {  # the share of real and of fake samples D gets right
            "d_real_acc": tf.cast(real_logits > 0, tf.float32),
            "d_fake_acc": tf.cast(fake_logits < 0, tf.float32),
        }
        return losses, metrics
