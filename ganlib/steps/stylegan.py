"""The StyleGAN step (lesson 11): GANStep's adversarial game, with style mixing, fresh
per-pixel noise, an optional R1 penalty and the moving average of w that truncation needs."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..losses import AdversarialLoss
from .gan import GANStep


class StyleGANStep(GANStep):
    """G (a `ganlib.models.stylegan` generator) against D, simultaneous updates.

    Per example: two latents z1, z2 and their ws; with probability `mixing_prob` the layers
    from a crossover point drawn uniformly from 1 .. num_ws - 1 take w2 instead of w1 (style
    mixing regularisation: no layer can count on its neighbours having the same style); fresh
    N(0, 1) noise for every noise input. r1_gamma: weight of the R1 penalty, gamma / 2 times
    the squared norm of D's gradient on real images (0 for none; best with a D without batch
    norm). w_avg_beta: the decay of w_avg, the average w truncation pulls towards.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 g_optimizer, d_optimizer, loss: AdversarialLoss | None = None,
                 seed: int = 0, jit_compile: bool = False, mixing_prob: float = 0.9,
                 r1_gamma: float = 0.0, w_avg_beta: float = 0.995):
        check_options(mixing_prob, r1_gamma, w_avg_beta)
        self.mixing_prob, self.r1_gamma = float(mixing_prob), float(r1_gamma)
        self.w_avg_beta = float(w_avg_beta)
        self.mapping = generator.get_layer("mapping")
        self.truncation = generator.get_layer("truncation")
        self.synthesis = generator.get_layer("synthesis")
        self.num_ws = int(self.synthesis.inputs[0].shape[1])
        self.noise_shapes = [tuple(int(s) for s in x.shape[1:]) for x in self.synthesis.inputs[1:]]
        super().__init__(generator, discriminator, g_optimizer=g_optimizer,
                         d_optimizer=d_optimizer, loss=loss, seed=seed, jit_compile=jit_compile)

    def mixed_ws(self, n, seed):
        """(ws n x num_ws x w_dim with style mixing, the unmixed w1 n x w_dim)."""
        z_seed, mix_seed = self.split(seed, 2)
        z = self.normal([n, 2, self.latent_dim], z_seed)
        w = self.mapping(tf.reshape(z, [-1, self.latent_dim]), training=True)
        w = tf.reshape(w, [n, 2, -1])
        u = self.uniform([n, 2], mix_seed)
        crossover = 1 + tf.cast(tf.floor(u[:, 1] * (self.num_ws - 1)), tf.int32)
        crossover = tf.where(u[:, 0] < self.mixing_prob, crossover, self.num_ws)  # no mixing
        first = tf.range(self.num_ws)[None, :] < crossover[:, None]  # n x num_ws: w1's layers
        ws = tf.where(first[:, :, None], w[:, :1], w[:, 1:])
        return ws, w[:, 0]

    def noise(self, n, seed):
        """Fresh N(0, 1) noise for each noise input of the synthesis network."""
        return [self.normal([n, *shape], tf.random.experimental.stateless_fold_in(seed, i))
                for i, shape in enumerate(self.noise_shapes)]

    def losses(self, real, seed):
        d = self.networks["discriminator"]
        ws_seed, noise_seed, flip_seed = self.split(seed, 3)
        n = tf.shape(real)[0]
        ws, w1 = self.mixed_ws(n, ws_seed)
        fake = self.synthesis([ws, *self.noise(n, noise_seed)], training=True)
        if self.r1_gamma:
            with tf.GradientTape() as inner:
                inner.watch(real)
                real_logits = d(real, training=True)
                total = tf.reduce_sum(tf.cast(real_logits, tf.float32))
            slope = inner.gradient(total, real)
        else:
            real_logits = d(real, training=True)
        losses, metrics = self.adversarial(real_logits, d(fake, training=True), flip_seed)
        self.log_adversarial(losses, metrics)
        if self.r1_gamma:
            r1 = tf.reduce_sum(tf.square(tf.cast(slope, tf.float32)), axis=[1, 2, 3])
            losses["discriminator"] = losses["discriminator"] + 0.5 * self.r1_gamma * r1
            metrics["r1_penalty"] = r1
        self.truncation.update(tf.stop_gradient(w1), self.w_avg_beta)
        return losses, metrics


def check_options(mixing_prob: float, r1_gamma: float, w_avg_beta: float) -> None:
    """Clear errors for settings outside their ranges."""
    if not 0.0 <= mixing_prob <= 1.0:
        raise ValueError(f"mixing_prob {mixing_prob} must be a probability in [0, 1].")
    if r1_gamma < 0:
        raise ValueError(f"r1_gamma {r1_gamma} must be 0 (no R1 penalty) or more.")
    if not 0.0 <= w_avg_beta < 1.0:
        raise ValueError(f"w_avg_beta {w_avg_beta} must be in [0, 1) (e.g. 0.995).")
