"""The CycleGAN step (lesson 08): two generators, two discriminators, no paired images."""

from __future__ import annotations

import keras
import tensorflow as tf

from .. import draws
from ..losses import AdversarialLoss, l1_per_example
from .base import TrainStep


class ImagePool(tf.Module):
    """The last `size` generated images of one domain (Shrivastava et al., 2017).

    D is shown, for each new fake, either that fake or (half the time, once the pool is full)
    an older one from the pool, which the new fake then replaces: D keeps rejecting what G
    drew a while ago, and G cannot win by oscillating between a few tricks. The pool is made
    of variables, so a checkpoint holds it and a resumed run shows D the same images. Row
    `size` is scratch space for the writes a step does not keep. Under several replicas each
    keeps a pool of its own (on-read variables; a checkpoint holds the first replica's).
    """

    def __init__(self, size: int, image_shape, name: str = "pool"):
        super().__init__(name=name)
        self.size = int(size)
        local = dict(trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
                     aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
        self.images = tf.Variable(tf.zeros([self.size + 1, *image_shape]), name="images", **local)
        self.count = tf.Variable(0, dtype=tf.int32, name="count", **local)

    def query(self, fakes, seed):
        """The images to show D in place of `fakes` (N <= size); updates the pool."""
        if self.size == 0:
            return fakes
        fakes = tf.stop_gradient(tf.cast(fakes, tf.float32))
        n = tf.shape(fakes)[0]
        swap_seed, slot_seed = draws.split(seed, 2)
        count = self.count.read_value()
        free = count + tf.range(n) < self.size  # still filling: keep the fake, show it
        swap = (count >= self.size) & (draws.uniform([n], swap_seed) < 0.5)
        # distinct random slots, so no two fakes of the batch swap with the same old image
        random_slots = tf.argsort(tf.random.stateless_uniform([self.size], slot_seed))[:n]
        slots = tf.where(free, count + tf.range(n), tf.where(swap, random_slots, self.size))
        shown = tf.where(swap[:, None, None, None], tf.gather(self.images, slots), fakes)
        # a whole assign, not scatter_nd_update, which replicas' on-read variables lack
        self.images.assign(tf.tensor_scatter_nd_update(self.images, slots[:, None], fakes))
        self.count.assign(tf.minimum(count + n, self.size))
        return shown


class CycleGANStep(TrainStep):
    """CycleGAN (Zhu et al., 2017): G: A -> B and F: B -> A, D_B judges B, D_A judges A.

    Batches are (images of A, images of B), unpaired. The networks are "generator" (G, A -> B,
    the one snapshots and the EMA follow), "generator_ba" (F), "discriminator" (D_B) and
    "discriminator_a" (D_A). The generators' losses, together the paper's objective:

        G: adv(D_B(G(a))) + lambda (|F(G(a)) - a| + |G(F(b)) - b|) + identity lambda |G(b) - b|
        F: adv(D_A(F(b))) + the same cycle term                    + identity lambda |F(a) - a|

    (each network gets the gradient of the whole objective: G's terms are those that depend on
    G). The cycle term makes the translation invertible, so it must keep what the two domains
    share (position, colour, pose); the identity term keeps G from changing an image that is
    already of its output domain (e.g. the colour of a square). Each D gets the least-squares
    loss on real images of its domain and on fakes from an `ImagePool`.

    The paper's learning-rate decay (held, then linearly to 0 over the second half of
    training) is the optimizers' own: `FusedAdam(decay=HoldThenLinearDecay(...))`.
    """

    def __init__(self, generator: keras.Model, generator_ba: keras.Model,
                 discriminator: keras.Model, discriminator_a: keras.Model, *, optimizers: dict,
                 loss: AdversarialLoss | None = None, cycle_weight: float = 10.0,
                 identity_weight: float = 0.5, adversarial_weight: float = 1.0,
                 pool_size: int = 50, seed: int = 0, jit_compile: bool = False):
        networks = {"generator": generator, "generator_ba": generator_ba,
                    "discriminator": discriminator, "discriminator_a": discriminator_a}
        if set(optimizers) != set(networks):
            raise ValueError(f"CycleGANStep needs one optimizer for each of {sorted(networks)},"
                             f" got {sorted(optimizers)}.")
        shape_a = tuple(generator.inputs[0].shape[1:])
        shape_b = tuple(generator_ba.inputs[0].shape[1:])
        for g, source, target in ((generator, shape_a, shape_b), (generator_ba, shape_b, shape_a)):
            if tuple(g.outputs[0].shape[1:]) != target:
                raise ValueError(f"{g.name} maps {source} to {tuple(g.outputs[0].shape[1:])}, "
                                 f"but the other generator's input is {target}.")
        for d, shape in ((discriminator, shape_b), (discriminator_a, shape_a)):
            if tuple(d.inputs[0].shape[1:]) != shape:
                raise ValueError(f"{d.name} judges images of {tuple(d.inputs[0].shape[1:])}, "
                                 f"not {shape}.")
        weights = (cycle_weight, identity_weight, adversarial_weight)
        if min(weights) < 0 or pool_size < 0:
            raise ValueError("cycle_weight, identity_weight, adversarial_weight and pool_size "
                             f"must be >= 0, got {weights} and {pool_size}.")
        self.loss = loss or AdversarialLoss("least_squares")
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = float(identity_weight)
        self.adversarial_weight = float(adversarial_weight)
        self.pools = {"a": ImagePool(pool_size, shape_a, "pool_a"),
                      "b": ImagePool(pool_size, shape_b, "pool_b")}
        super().__init__(networks, optimizers, seed=seed, jit_compile=jit_compile)

    def trackables(self) -> dict:
        objs = super().trackables()
        objs.update({f"pool_{k}": pool for k, pool in self.pools.items()})
        return objs

    def losses(self, batch, seed):
        g, f = self.networks["generator"], self.networks["generator_ba"]
        d_b, d_a = self.networks["discriminator"], self.networks["discriminator_a"]
        real_a, real_b = batch
        pool_a_seed, pool_b_seed = self.split(seed, 2)
        fake_b, fake_a = g(real_a, training=True), f(real_b, training=True)
        cycle_a = l1_per_example(real_a, f(fake_b, training=True))
        cycle_b = l1_per_example(real_b, g(fake_a, training=True))
        g_adv = self.loss.generator(d_b(fake_b, training=True))
        f_adv = self.loss.generator(d_a(fake_a, training=True))
        w, lam = self.adversarial_weight, self.cycle_weight
        g_loss = w * g_adv + lam * (cycle_a + cycle_b)
        f_loss = w * f_adv + lam * (cycle_a + cycle_b)
        metrics = {"cycle_a_l1": cycle_a, "cycle_b_l1": cycle_b}
        if self.identity_weight:
            identity_b = l1_per_example(real_b, g(real_b, training=True))
            identity_a = l1_per_example(real_a, f(real_a, training=True))
            g_loss += self.identity_weight * lam * identity_b
            f_loss += self.identity_weight * lam * identity_a
            metrics["identity_l1"] = 0.5 * (identity_a + identity_b)
        d_b_loss = self.loss.discriminator(d_b(real_b, training=True),
                                           d_b(self.pools["b"].query(fake_b, pool_b_seed),
                                               training=True))
        d_a_loss = self.loss.discriminator(d_a(real_a, training=True),
                                           d_a(self.pools["a"].query(fake_a, pool_a_seed),
                                               training=True))
        # what the watchdog reads: per image, the stronger D and the losing G
        metrics["d_adversarial_loss"] = tf.minimum(d_a_loss, d_b_loss)
        metrics["g_adversarial_loss"] = tf.maximum(g_adv, f_adv)
        losses = {"generator": g_loss, "generator_ba": f_loss, "discriminator": d_b_loss,
                  "discriminator_a": d_a_loss}
        return losses, metrics
