"""The pix2pix step (lesson 07): a conditional GAN from image to image, plus L1."""

from __future__ import annotations

import keras

from ..losses import AdversarialLoss, l1_per_example
from .base import TrainStep, generator_networks
from .gan import adversarial_losses


class Pix2PixStep(TrainStep):
    """pix2pix (Isola et al., 2017): G(source) against D(source, image), plus L1 to the target.

    Batches are (source, target) images. D sees each source with its true target (real) and
    with G's output (fake), patch by patch; its loss is halved, as in the paper, to slow it
    against G. G's loss is the adversarial term plus `l1_weight` x the mean absolute error to
    the target: L1 pins down the low frequencies (the layout), the adversarial term the
    high ones (sharp edges, texture) that L1 alone blurs.

    baseline: optional, the same U-Net (another copy) trained in the same step on the same
    batches with L1 alone, the comparison the paper makes; logged as `baseline_l1`.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, g_optimizer,
                 d_optimizer, loss: AdversarialLoss | None = None, l1_weight: float = 100.0,
                 baseline: keras.Model | None = None, baseline_optimizer=None, seed: int = 0,
                 jit_compile: bool = False):
        if len(discriminator.inputs) != 2:
            raise ValueError("pix2pix needs D(source, image), a discriminator with two inputs "
                             "(build_patchgan_discriminator with condition_shape).")
        if l1_weight < 0:
            raise ValueError(f"l1_weight {l1_weight} must be >= 0.")
        networks, optimizers = generator_networks(generator, discriminator, g_optimizer,
                                                  d_optimizer, baseline, baseline_optimizer,
                                                  "L1")
        self.loss = loss or AdversarialLoss()
        self.l1_weight = float(l1_weight)
        super().__init__(networks, optimizers, seed=seed, jit_compile=jit_compile)

    def losses(self, batch, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        source, target = batch
        fake = g(source, training=True)
        real_logits = d([source, target], training=True)
        fake_logits = d([source, fake], training=True)
        adversarial, metrics = adversarial_losses(self.loss, real_logits, fake_logits, seed)
        l1 = l1_per_example(target, fake)
        losses = {"discriminator": 0.5 * adversarial["discriminator"],
                  "generator": adversarial["generator"] + self.l1_weight * l1}
        metrics.update(d_adversarial_loss=adversarial["discriminator"],
                       g_adversarial_loss=adversarial["generator"], l1=l1)
        if "baseline" in self.networks:
            baseline_l1 = l1_per_example(target, self.networks["baseline"](source, training=True))
            losses["baseline"] = self.l1_weight * baseline_l1
            metrics["baseline_l1"] = baseline_l1
        return losses, metrics
