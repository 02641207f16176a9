"""The SRGAN step (lesson 10): super-resolution with a content loss and an adversarial loss."""

from __future__ import annotations

import keras

from ..losses import AdversarialLoss, mse_per_example
from .base import TrainStep, generator_networks
from .gan import GANStep, adversarial_losses


class SRGANStep(TrainStep):
    """SRGAN (Ledig et al., 2017): G(low-resolution image) against D(image), plus content loss.

    Batches are (low-resolution, high-resolution) images. G's loss is
    content_weight x the mean squared distance between `features` of G's output and of the
    true image (the paper's "VGG loss": close in what a trained network sees, not pixel by
    pixel), plus pixel_weight x the pixel MSE, plus adversarial_weight x the adversarial
    loss, which pushes the output onto the manifold of real images (sharp edges and texture
    that MSE averages away). D tells real high-resolution images from G's outputs.
    `features` is a frozen network (it is not trained, and not saved with the run).

    baseline: optional, the same generator (another copy) trained in the same step on the
    same batches with pixel MSE alone, the paper's SRResNet-MSE; logged as `baseline_mse`.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 features: keras.Model, *, g_optimizer, d_optimizer,
                 loss: AdversarialLoss | None = None, content_weight: float = 1.0,
                 pixel_weight: float = 0.0, adversarial_weight: float = 1e-3,
                 baseline: keras.Model | None = None, baseline_optimizer=None, seed: int = 0,
                 jit_compile: bool = False):
        weights = {"content_weight": content_weight, "pixel_weight": pixel_weight,
                   "adversarial_weight": adversarial_weight}
        if any(w < 0 for w in weights.values()) or not content_weight + pixel_weight:
            raise ValueError(f"loss weights {weights} must be >= 0, with content_weight or "
                             "pixel_weight above 0 (without either, G is not told which "
                             "image to make).")
        networks, optimizers = generator_networks(generator, discriminator, g_optimizer,
                                                  d_optimizer, baseline, baseline_optimizer,
                                                  "MSE")
        self.loss = loss or AdversarialLoss()
        self.content_weight, self.pixel_weight, self.adversarial_weight = (
            float(content_weight), float(pixel_weight), float(adversarial_weight))
        features.trainable = False
        self.features = features
        super().__init__(networks, optimizers, seed=seed, jit_compile=jit_compile)

    def content(self, images, targets):
        """Per example, the mean squared distance between the features of images and targets."""
        return mse_per_example(self.features(images, training=False),
                            self.features(targets, training=False))

    def losses(self, batch, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        low, high = batch
        fake = g(low, training=True)
        adversarial, metrics = adversarial_losses(
            self.loss, d(high, training=True), d(fake, training=True), seed)
        content = self.content(fake, high)
        pixel = mse_per_example(fake, high)
        generator = self.content_weight * content + self.pixel_weight * pixel
        if self.adversarial_weight:
            generator = generator + self.adversarial_weight * adversarial["generator"]
        losses = {"discriminator": adversarial["discriminator"], "generator": generator}
        GANStep.log_adversarial(adversarial, metrics)
        metrics.update(content=content, mse=pixel)
        if "baseline" in self.networks:
            baseline_mse = mse_per_example(self.networks["baseline"](low, training=True), high)
            losses["baseline"] = baseline_mse
            metrics["baseline_mse"] = baseline_mse
        return losses, metrics
