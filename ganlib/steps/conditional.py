"""Steps whose generator takes a class label: conditional GAN (03) and AC-GAN (05)."""

from __future__ import annotations

import keras
import tensorflow as tf

from .. import draws
from .gan import GANStep


class ConditionalGANStep(GANStep):
    """Conditional GAN (lesson 03): G(noise, label) against D(image, label).

    Batches are (images, labels). Fakes get labels drawn uniformly from `num_classes`, and D
    sees every image with its label, so G is rewarded only for signs of the class it was asked
    for. Same loss object, same game as `GANStep`.

    `mismatch_weight` > 0 makes D matching-aware (Reed et al., 2016, "GAN-CLS"): real images
    shown with a wrong label are a third kind of negative, so D learns what sets the classes
    apart from real data from the first step, not only from G's mistakes. D's loss becomes
    real + (fake + w * mismatched) / (1 + w) per example.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, num_classes: int,
                 mismatch_weight: float = 0.0, **kwargs):
        if len(generator.inputs) != 2 or len(discriminator.inputs) != 2:
            raise ValueError("a conditional GAN needs G(noise, label) and D(image, label), "
                             "two inputs each.")
        if mismatch_weight < 0:
            raise ValueError(f"mismatch_weight {mismatch_weight} must be >= 0.")
        self.num_classes = int(num_classes)
        self.mismatch_weight = float(mismatch_weight)
        super().__init__(generator, discriminator, **kwargs)

    def losses(self, batch, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        real, labels = batch
        labels = tf.cast(labels, tf.int32)
        fake_seed, flip_seed, wrong_seed = self.split(seed, 3)
        n = tf.shape(real)[0]
        fake, fake_labels = conditional_fakes(g, n, self.num_classes, fake_seed)
        real_logits = d([real, labels], training=True)
        fake_logits = d([fake, fake_labels], training=True)
        losses, metrics = self.adversarial(real_logits, fake_logits, flip_seed)
        if self.mismatch_weight:
            wrong = other_labels(labels, self.num_classes, wrong_seed)
            wrong_logits = tf.cast(d([real, wrong], training=True), tf.float32)
            w = self.mismatch_weight
            flips = self.split(flip_seed, 3)
            losses["discriminator"] = self.loss.on_real(real_logits, flips[0]) + (
                self.loss.on_fake(fake_logits, flips[1])
                + w * self.loss.on_fake(wrong_logits, flips[2])) / (1 + w)
            metrics["d_mismatch_acc"] = tf.cast(tf.reshape(wrong_logits, [-1]) < 0, tf.float32)
        return losses, metrics


class ACGANStep(GANStep):
    """AC-GAN (lesson 05): G(noise, label) against D(image) -> [real/fake logit, class logits].

    Batches are (images, labels); fakes get labels drawn uniformly from `num_classes`. The
    adversarial part is `GANStep.adversarial`, unchanged. The auxiliary classifier adds a
    cross-entropy term to both losses (Odena et al., 2017):

        D: adversarial + class_weight * (CE(real classes, labels)
                                         + fake_class_weight * CE(fake classes, asked labels))
        G: adversarial + class_weight * CE(fake classes, asked labels)

    D learns the classes from real images (and, as in the paper, from G's images with the
    labels G was asked for); G is rewarded for images D's class head files under the label it
    was given. `fake_class_weight=0` trains the class head on real images only.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *, num_classes: int,
                 class_weight: float = 1.0, fake_class_weight: float = 1.0, **kwargs):
        if len(generator.inputs) != 2:
            raise ValueError("an AC-GAN needs G(noise, label), a generator with two inputs.")
        if len(discriminator.inputs) != 1 or len(discriminator.outputs) != 2:
            raise ValueError("an AC-GAN needs D(image) -> [logit, class_logits], one input "
                             "and two outputs (see build_acgan_discriminator).")
        heads = int(discriminator.outputs[1].shape[-1])
        if heads != num_classes:
            raise ValueError(f"D's class head predicts {heads} classes, not {num_classes}.")
        if class_weight < 0 or fake_class_weight < 0:
            raise ValueError("class_weight and fake_class_weight must be >= 0, got "
                             f"{class_weight} and {fake_class_weight}.")
        self.num_classes = int(num_classes)
        self.class_weight = float(class_weight)
        self.fake_class_weight = float(fake_class_weight)
        super().__init__(generator, discriminator, **kwargs)

    def losses(self, batch, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        real, labels = batch
        labels = tf.cast(labels, tf.int32)
        fake_seed, flip_seed = self.split(seed, 2)
        fake, fake_labels = conditional_fakes(g, tf.shape(real)[0], self.num_classes, fake_seed)
        real_logits, real_classes = d(real, training=True)
        fake_logits, fake_classes = d(fake, training=True)
        losses, metrics = self.adversarial(real_logits, fake_logits, flip_seed)
        self.log_adversarial(losses, metrics)
        real_ce = self.class_loss(labels, real_classes)
        fake_ce = self.class_loss(fake_labels, fake_classes)
        w = self.class_weight
        losses["discriminator"] += w * (real_ce + self.fake_class_weight * fake_ce)
        losses["generator"] += w * fake_ce
        metrics.update(
            real_class_loss=real_ce, fake_class_loss=fake_ce,
            # the share of real images, and of G's images, D's class head files correctly
            d_real_class_acc=class_hits(real_classes, labels),
            d_fake_class_acc=class_hits(fake_classes, fake_labels),
        )  # fmt: skip
        return losses, metrics

    @staticmethod
    def class_loss(labels, class_logits):
        """Per-example cross-entropy of the class head against the labels."""
        return tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=tf.cast(class_logits, tf.float32))


# --- helpers the conditional steps share ------------------------------------------------------
def conditional_fakes(generator: keras.Model, n, num_classes: int, seed):
    """n fakes of classes drawn uniformly, from stateless noise: (images, labels)."""
    noise_seed, class_seed = draws.split(seed, 2)
    noise = draws.normal([n, int(generator.inputs[0].shape[-1])], noise_seed)
    labels = draws.integers(n, class_seed, 0, num_classes)
    return generator([noise, labels], training=True), labels


def class_hits(class_logits, labels):
    """1.0 where the arg-max class is the label, else 0.0 (per example)."""
    predicted = tf.argmax(class_logits, -1, output_type=tf.int32)
    return tf.cast(tf.equal(predicted, tf.cast(labels, tf.int32)), tf.float32)


def other_labels(labels, num_classes: int, seed):
    """For each label, a class drawn uniformly from the *other* classes (label + 1..K-1, mod K)."""
    labels = tf.cast(labels, tf.int32)
    shift = draws.integers(tf.shape(labels)[0], seed, 1, num_classes)
    return (labels + shift) % num_classes
