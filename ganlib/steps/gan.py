"""The unconditional GAN step (lessons 01 and 02), whose adversarial part every family reuses."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..losses import AdversarialLoss, gradient_penalty
from .base import TrainStep


class GANStep(TrainStep):
    """Unconditional GAN (lessons 01 and 02): G(noise) against D, simultaneous updates.

    One forward pass of G and two of D serve both losses; D's gradient comes from its loss
    and G's from its own, through the same graph.
    gradient_penalty: weight of WGAN-GP's penalty on D's slope (`losses.gradient_penalty`),
        0 for none; critic_steps: D's updates per G update (see `TrainStep`'s `repeats`).
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 g_optimizer, d_optimizer, loss: AdversarialLoss | None = None,
                 seed: int = 0, jit_compile: bool = False, gradient_penalty: float = 0.0,
                 critic_steps: int = 1):
        self.loss = loss or AdversarialLoss()
        self.latent_dim = int(generator.inputs[0].shape[-1])
        if gradient_penalty < 0:
            raise ValueError(f"gradient_penalty {gradient_penalty} must be 0 or more.")
        self.gradient_penalty = float(gradient_penalty)
        super().__init__({"generator": generator, "discriminator": discriminator},
                         {"generator": g_optimizer, "discriminator": d_optimizer},
                         seed=seed, jit_compile=jit_compile,
                         repeats={"discriminator": critic_steps})

    def losses(self, real, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        noise_seed, label_seed = self.split(seed, 2)
        noise = self.normal([tf.shape(real)[0], self.latent_dim], noise_seed)
        fake = g(noise, training=True)
        losses, metrics = self.adversarial(d(real, training=True), d(fake, training=True),
                                           label_seed)
        if self.gradient_penalty:
            mix_seed = tf.random.experimental.stateless_fold_in(label_seed, 1)
            penalty = gradient_penalty(d, real, fake, mix_seed)
            losses["discriminator"] = losses["discriminator"] + self.gradient_penalty * penalty
            metrics["gradient_penalty"] = penalty
        return losses, metrics

    def adversarial(self, real_logits, fake_logits, flip_seed):
        """Both networks' per-example losses, and D's accuracies, from D's logits."""
        return adversarial_losses(self.loss, real_logits, fake_logits, flip_seed)

    @staticmethod
    def log_adversarial(losses: dict, metrics: dict) -> None:
        """Log the adversarial losses on their own, before a family adds its terms: the
        watchdog reads these to tell whether D has won."""
        metrics["d_adversarial_loss"] = losses["discriminator"]
        metrics["g_adversarial_loss"] = losses["generator"]


def adversarial_losses(loss: AdversarialLoss, real_logits, fake_logits, flip_seed):
    """({"discriminator", "generator"}: per-example losses, {D's accuracies}) from D's logits
    on a batch of real and of fake samples: one logit per example, or a map of them (a
    PatchGAN's), averaged per example."""
    losses = {
        "discriminator": loss.discriminator(real_logits, fake_logits,
                                            seed=flip_seed if loss.flip_prob else None),
        "generator": loss.generator(fake_logits),
    }
    metrics = {  # the share of real and of fake samples (or patches) D gets right
        "d_real_acc": _share(real_logits > 0),
        "d_fake_acc": _share(fake_logits < 0),
    }
    return losses, metrics


def _share(hits):
    """Per example, the share of its logits for which `hits` holds."""
    hits = tf.cast(hits, tf.float32)
    return tf.reduce_mean(tf.reshape(hits, [tf.shape(hits)[0], -1]), axis=1)
