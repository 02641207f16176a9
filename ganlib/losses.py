"""Adversarial losses on logits (label 1 = real).

Each loss is a pair: `discriminator(real_logits, fake_logits)` and `generator(fake_logits)`,
both returning per-example losses so a train step can average them over the global batch.
Soft labels (one-sided smoothing) and noisy labels (random flips) are options of the
discriminator loss, the GAN hacks lesson 02 lets learners switch on. The Wasserstein critic's
gradient penalty (lesson 09) and InfoGAN's information terms (lesson 04) follow.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from . import draws
from .distribute import batch_mean


def _bce(labels, logits):
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def _flatten(logits):
    logits = tf.cast(logits, tf.float32)
    return tf.reshape(logits, [tf.shape(logits)[0], -1])


@dataclasses.dataclass(frozen=True)
class AdversarialLoss:
    """kind: 'non_saturating' (default), 'minimax', 'least_squares', 'wasserstein' or 'hinge'.

    real_label: target for real images (0.9 is one-sided label smoothing).
    flip_prob:  chance that a discriminator target is flipped (noisy labels).
    The last two kinds have no targets (D is a critic that scores, not a classifier), so
    neither option applies to them. A Wasserstein critic needs a gradient penalty (or
    spectral normalisation) to stay Lipschitz; see `gradient_penalty`.
    """

    kind: str = "non_saturating"
    real_label: float = 1.0
    flip_prob: float = 0.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Unknown loss {self.kind!r}; choose one of {', '.join(KINDS)}.")
        if not 0.0 <= self.flip_prob < 0.5:
            raise ValueError(f"flip_prob {self.flip_prob} must be in [0, 0.5).")
        if self.kind in SCORE_KINDS and (self.real_label != 1.0 or self.flip_prob):
            raise ValueError(f"the {self.kind} loss has no labels to smooth or flip; leave "
                             "real_label at 1.0 and flip_prob at 0.")

    def watchdog_limits(self) -> dict:
        """The watchdog's `d_floor` and `g_ceiling` for this loss (None: not checked). A
        Wasserstein critic's loss is unbounded both ways and G's hinge loss has no fixed
        scale, so "D's loss near 0" or "G's loss above 20" says nothing about them."""
        if self.kind == "wasserstein":
            return {"d_floor": None, "g_ceiling": None}
        if self.kind == "hinge":
            return {"g_ceiling": None}
        return {}

    def _targets(self, logits, value, seed):
        targets = tf.fill(tf.shape(logits), tf.constant(value, tf.float32))
        if self.flip_prob > 0:
            if seed is None:
                raise ValueError("noisy labels (flip_prob > 0) need a seed for the flips.")
            rows = tf.shape(logits)[0]
            flip = draws.uniform([rows, *logits.shape[1:]], seed) < self.flip_prob
            targets = tf.where(flip, 1.0 - targets, targets)
        return targets

    def discriminator(self, real_logits, fake_logits, seed=None):
        """Per-example loss of D: push real logits toward `real_label`, fake toward 0."""
        seeds = (None, None) if seed is None else tf.unstack(
            tf.random.experimental.stateless_split(seed, 2))
        return self.on_real(real_logits, seeds[0]) + self.on_fake(fake_logits, seeds[1])

    def on_real(self, logits, seed=None):
        """D's per-example loss on samples it should call real."""
        return self._term(_flatten(logits), self.real_label, seed)

    def on_fake(self, logits, seed=None):
        """D's per-example loss on samples it should call fake."""
        return self._term(_flatten(logits), 0.0, seed)

    def _term(self, logits, target, seed):
        sign = 1.0 if target == 0.0 else -1.0  # score kinds: +1 for fakes, -1 for reals
        if self.kind == "wasserstein":  # the critic lowers fakes' scores, raises reals'
            return tf.reduce_mean(sign * logits, axis=1)
        if self.kind == "hinge":  # ... until reals score above 1 and fakes below -1
            return tf.reduce_mean(tf.nn.relu(1.0 + sign * logits), axis=1)
        targets = self._targets(logits, target, seed)
        if self.kind == "least_squares":
            return tf.reduce_mean(0.5 * tf.square(logits - targets), axis=1)
        return tf.reduce_mean(_bce(targets, logits), axis=1)

    def generator(self, fake_logits):
        """Per-example loss of G on D's logits for its samples."""
        fake = _flatten(fake_logits)
        if self.kind == "non_saturating":  # maximise log D(G(z)): strong gradients early on
            per = _bce(tf.ones_like(fake), fake)
        elif self.kind == "minimax":  # minimise log(1 - D(G(z))): the original, saturating form
            per = -_bce(tf.zeros_like(fake), fake)
        elif self.kind == "least_squares":
            per = 0.5 * tf.square(fake - 1.0)
        else:  # wasserstein and hinge: G raises the critic's score of its samples
            per = -fake
        return tf.reduce_mean(per, axis=1)


SCORE_KINDS = ("wasserstein", "hinge")
KINDS = ("non_saturating", "minimax", "least_squares", *SCORE_KINDS)


def gradient_penalty(critic, real, fake, seed):
    """Per-example (|grad of critic at x| - 1)^2 at x = e * real + (1 - e) * fake, with e
    uniform in [0, 1] per example (WGAN-GP, Gulrajani et al., 2017): it holds the critic's
    slope near 1 on the lines between real and generated images, the Lipschitz bound the
    Wasserstein distance needs, softly instead of by clipping weights. Multiply by a weight
    (the paper's 10) and add it to the critic's loss."""
    real = tf.cast(real, tf.float32)
    fake = tf.stop_gradient(tf.cast(fake, tf.float32))
    n = tf.shape(real)[0]
    e = draws.uniform([n] + [1] * (real.shape.rank - 1), seed)  # one e per example
    between = e * real + (1.0 - e) * fake
    with tf.GradientTape() as tape:
        tape.watch(between)
        scores = tf.reduce_sum(tf.cast(critic(between, training=True), tf.float32))
    grads = tf.reshape(tape.gradient(scores, between), [n, -1])
    norms = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)
    return tf.square(norms - 1.0)


# --- InfoGAN's mutual-information terms -------------------------------------------------------
# Maximising I(c; G(z, c)) >= H(c) + E[log Q(c | G(z, c))] means minimising Q's negative
# log-likelihood of the codes G was given (H(c) is a constant): cross-entropy for a
# categorical code, a Gaussian's negative log-likelihood for a continuous one.

def categorical_nll(codes, logits):
    """Per-example -log Q(code | image) for integer codes and Q's category logits."""
    return tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tf.cast(codes, tf.int32), logits=tf.cast(logits, tf.float32))


def gaussian_nll(codes, mean, log_std, min_log_std: float = -4.0):
    """Per-example -log N(codes; mean, exp(log_std)^2), summed over the code's dimensions.

    log_std is clipped below at `min_log_std`: a Q that is sure of a code could otherwise
    shrink its std towards 0 and make the loss, and its gradients, explode.
    """
    codes, mean = tf.cast(codes, tf.float32), tf.cast(mean, tf.float32)
    log_std = tf.maximum(tf.cast(log_std, tf.float32), min_log_std)
    z = (codes - mean) * tf.exp(-log_std)
    return tf.reduce_sum(0.5 * tf.square(z) + log_std + 0.5 * tf.math.log(2 * 3.141592653589793),
                         axis=-1)


def category_entropies(logits):
    """(H(mean of the batch's category distributions), H(each image's distribution)): the
    scalar and the per-example parts of `category_information`, on this (global) batch."""
    p = tf.nn.softmax(tf.cast(logits, tf.float32))
    own_entropy = -tf.reduce_sum(p * tf.math.log(p + 1e-8), axis=-1)
    mean_p = batch_mean(p)
    return -tf.reduce_sum(mean_p * tf.math.log(mean_p + 1e-8)), own_entropy


def category_information(logits, balance: float = 1.0):
    """Per-example terms whose mean estimates the mutual information between an image and
    the category a classifier gives it, on this (global) batch:
    balance x H(mean of the batch's category distributions) - H(this image's distribution).
    Maximising it asks for every category to be used and each image to be sure of its own
    (regularised information maximisation, Krause et al., 2010). `balance` > 1 weighs the
    first part more, as IMSAT does (its mu = 4, Hu et al., 2017): categories of equal size,
    for data whose classes are; 1 is the mutual information itself."""
    marginal, own = category_entropies(logits)
    return balance * marginal - own


def category_consistency(target_logits, logits):
    """Per-example cross-entropy of the category distribution `logits` against that of
    `target_logits`, held fixed: how far a classifier's reading of a changed image (shifted,
    mirrored) strays from its reading of the original (IMSAT's self-augmentation, Hu et al.,
    2017)."""
    target = tf.stop_gradient(tf.nn.softmax(tf.cast(target_logits, tf.float32)))
    return tf.nn.softmax_cross_entropy_with_logits(target, tf.cast(logits, tf.float32))


# --- reconstruction terms (pix2pix, CycleGAN, SRGAN) ------------------------------------------
def l1_per_example(target, output):
    """Mean absolute error of each example (images in [-1, 1])."""
    diff = tf.abs(tf.cast(target, tf.float32) - tf.cast(output, tf.float32))
    return tf.reduce_mean(tf.reshape(diff, [tf.shape(diff)[0], -1]), axis=1)


def mse_per_example(target, output):
    """Mean squared error of each example, over all its other axes (images or feature maps)."""
    diff = tf.cast(target, tf.float32) - tf.cast(output, tf.float32)
    return tf.reduce_mean(tf.reshape(diff * diff, [tf.shape(diff)[0], -1]), axis=1)
