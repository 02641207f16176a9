"""The semi-supervised GAN step (lesson 06)."""

from __future__ import annotations

import keras
import tensorflow as tf

from ..distribute import batch_mean
from .base import TrainStep
from .conditional import class_hits


class SemiSupervisedGANStep(TrainStep):
    """Semi-supervised GAN (lesson 06): D is a K-class classifier; a labels-only baseline
    with the same architecture trains on the same labelled batches in the same step.

    Batches are (unlabelled images, (labelled images, labels)), r unlabelled images per
    labelled one (r a whole number, 1 or more); G draws as many images as there are
    unlabelled ones. D's loss per labelled example: its cross-entropy + `unsupervised_weight`
    x the mean GAN loss on its r unlabelled and r generated images, with D's real/fake logit
    the logsumexp of its class logits (Salimans et al., 2016). G's loss is feature matching:
    the squared gap between the mean features D computes for real and for generated images
    (the same value for every example of the batch), which suits a classifier better than
    fooling D outright; `feature_matching=False` uses the non-saturating loss on D's derived
    logit instead.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model,
                 baseline: keras.Model, *, g_optimizer, d_optimizer, baseline_optimizer,
                 unsupervised_weight: float = 1.0, feature_matching: bool = True,
                 seed: int = 0, jit_compile: bool = False):
        if len(discriminator.outputs) != 2:
            raise ValueError("the semi-supervised D must return [class logits, features].")
        if unsupervised_weight < 0:
            raise ValueError(f"unsupervised_weight {unsupervised_weight} must be >= 0.")
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.unsupervised_weight = float(unsupervised_weight)
        self.feature_matching = bool(feature_matching)
        super().__init__(
            {"generator": generator, "discriminator": discriminator, "baseline": baseline},
            {"generator": g_optimizer, "discriminator": d_optimizer,
             "baseline": baseline_optimizer},
            seed=seed, jit_compile=jit_compile)

    def losses(self, batch, seed):
        g, d, baseline = (self.networks[k] for k in ("generator", "discriminator", "baseline"))
        unlabelled, (labelled, labels) = batch
        labels = tf.cast(labels, tf.int32)
        check_ratio(unlabelled, labelled)
        noise = self.normal([tf.shape(unlabelled)[0], self.latent_dim], seed)
        fake = g(noise, training=True)
        class_logits = tf.cast(d(labelled, training=True)[0], tf.float32)
        real_logits, real_features = (tf.cast(t, tf.float32) for t in d(unlabelled, training=True))
        fake_logits, fake_features = (tf.cast(t, tf.float32) for t in d(fake, training=True))
        baseline_logits = tf.cast(baseline(labelled, training=True)[0], tf.float32)

        real_lse = tf.reduce_logsumexp(real_logits, axis=-1)  # D's real/fake logit
        fake_lse = tf.reduce_logsumexp(fake_logits, axis=-1)
        supervised = tf.nn.sparse_softmax_cross_entropy_with_logits(labels, class_logits)
        unsupervised = tf.nn.softplus(-real_lse) + tf.nn.softplus(fake_lse)
        # rows i r to i r + r - 1 of the unlabelled and generated batches: example i's share
        unsupervised = tf.reduce_mean(tf.reshape(unsupervised, [tf.shape(labels)[0], -1]), 1)
        if self.feature_matching:
            gap = batch_mean(real_features) - batch_mean(fake_features)
            g_loss = tf.fill(tf.shape(fake_lse), tf.reduce_mean(tf.square(gap)))
        else:  # non-saturating: -log D(G(z)) with D's derived logit
            g_loss = tf.nn.softplus(-fake_lse)
        losses = {
            "discriminator": supervised + self.unsupervised_weight * unsupervised,
            "generator": g_loss,
            "baseline": tf.nn.sparse_softmax_cross_entropy_with_logits(labels, baseline_logits),
        }
        metrics = {
            "d_real_acc": tf.cast(real_lse > 0, tf.float32),
            "d_fake_acc": tf.cast(fake_lse < 0, tf.float32),
            "d_labelled_acc": class_hits(class_logits, labels),
            "baseline_labelled_acc": class_hits(baseline_logits, labels),
        }
        return losses, metrics


def check_ratio(unlabelled, labelled) -> None:
    """A clear error unless there is a whole number of unlabelled images per labelled one."""
    n_unlabelled, n_labelled = unlabelled.shape[0], labelled.shape[0]
    if n_unlabelled and n_labelled and n_unlabelled % n_labelled:
        raise ValueError(f"{n_unlabelled} unlabelled images for {n_labelled} labelled "
                         "ones: give a whole number of unlabelled images per labelled one.")
