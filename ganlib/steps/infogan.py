"""The InfoGAN step (lesson 04): a GAN whose codes Q must read back from G's images."""

from __future__ import annotations

import keras
import tensorflow as tf

from .. import draws
from ..data.augment import consistency_move
from ..distribute import batch_mean
from ..losses import categorical_nll, category_consistency, category_entropies, gaussian_nll
from .conditional import class_hits
from .gan import GANStep


class InfoGANStep(GANStep):
    """InfoGAN (Chen et al., 2016): G(noise, category, continuous) against
    D(image) -> [logit, category logits, continuous mean, continuous log-std].

    Batches are images alone: no labels. Each fake gets a category drawn uniformly and
    continuous codes uniform in [-1, 1]. The adversarial part is `GANStep.adversarial`; the
    information term, Q's negative log-likelihood of the codes of G's images,

        info = category_weight * CE(category) + continuous_weight * Gaussian NLL(continuous)

    is added to both losses: Q (D's last layers) learns to read the codes, G to draw them so
    they can be read. D's body gets both gradients, as Q shares it.

    `real_info_weight` > 0 adds a term of ours, not the paper's: Q's categories on the *real*
    images are made informative too, by maximising the mutual information between a real
    image and its category as Q sees it (regularised information maximisation, Krause et al.,
    2010): the entropy of the batch's mean category distribution (use every category),
    weighted by `category_balance` (IMSAT's mu; > 1 asks for categories of equal size), minus
    the mean entropy of each image's (be sure of each image). It goes to D's loss only; the
    logged `real_category_info` is the unweighted estimate of the mutual information.

    `consistency_weight` > 0 adds a second term of ours, IMSAT's self-augmentation (Hu et al.,
    2017): the cross-entropy of Q's categories for a real image moved by up to `max_shift`
    pixels (and mirrored, if `mirror`; and, with `max_zoom` > 0, drawn up to that share
    larger or smaller, with `max_aspect` > 0 taller and narrower or wider and lower: `zoom`;
    with `cutout_size` > 0, a square of that side blacked out: `cutout`) against Q's
    categories for the original, held fixed, so that a category depends on what a garment
    is, not on where it stands, its size, its outline or any one of its parts. With
    `intensity_levels` = (low, high) or `intensity_gamma` > 0 the moved image's brightness
    and contrast are changed too (`jitter_intensity`: its garment's mean intensity on [0, 1]
    drawn in [low, high]), so that it does not depend on how dark the garment is either.
    D's loss only.

    `mode_seeking_weight` > 0 adds a third, to G's loss: a mode-seeking term (Mao et al.,
    2019). The fakes come in pairs, rows 2k and 2k + 1, with the same codes and different
    noise, and G is asked to make the two images of a pair differ in proportion to their
    noise: weight / (mean |image gap| / mean |noise gap| + 1e-5). Without it, G may learn to
    ignore its noise and draw one image per code.
    """

    def __init__(self, generator: keras.Model, discriminator: keras.Model, *,
                 category_weight: float = 1.0, continuous_weight: float = 1.0,
                 real_info_weight: float = 0.0, category_balance: float = 1.0,
                 consistency_weight: float = 0.0, max_shift: int = 2, mirror: bool = True,
                 max_zoom: float = 0.0, max_aspect: float = 0.0, cutout_size: int = 0,
                 intensity_levels: tuple[float, float] | None = None,
                 intensity_gamma: float = 0.0,
                 mode_seeking_weight: float = 0.0, **kwargs):
        if len(generator.inputs) != 3:
            raise ValueError("an InfoGAN needs G(noise, category, continuous), three inputs "
                             "(see build_infogan_generator).")
        if len(discriminator.inputs) != 1 or len(discriminator.outputs) != 4:
            raise ValueError("an InfoGAN needs D(image) -> [logit, category_logits, "
                             "continuous_mean, continuous_log_std] (see "
                             "build_infogan_discriminator).")
        weights = (category_weight, continuous_weight, real_info_weight, category_balance,
                   consistency_weight, mode_seeking_weight)
        if min(weights) < 0:
            raise ValueError("category_weight, continuous_weight, real_info_weight, "
                             "category_balance, consistency_weight and mode_seeking_weight "
                             f"must be >= 0, got {weights}.")
        if intensity_levels is not None:
            given_levels = intensity_levels
            try:
                intensity_levels = tuple(float(v) for v in intensity_levels)
            except (TypeError, ValueError):
                intensity_levels = ()
            if len(intensity_levels) != 2 or not (
                    0 < intensity_levels[0] <= intensity_levels[1] <= 1):
                raise ValueError("intensity_levels must be None or (low, high) with 0 < low <= "
                                 f"high <= 1, got {given_levels!r}.")
        if not 0 <= max_zoom < 1:
            raise ValueError(f"max_zoom must be in [0, 1), got {max_zoom}.")
        if not 0 <= max_aspect < 1:
            raise ValueError(f"max_aspect must be in [0, 1), got {max_aspect}.")
        side = min(discriminator.inputs[0].shape[1:3])
        if cutout_size != int(cutout_size) or not 0 <= cutout_size <= side:
            raise ValueError(f"cutout_size must be a whole number of pixels in [0, {side}] (the "
                             f"image's side), got {cutout_size}.")
        if intensity_gamma < 0:
            raise ValueError(f"intensity_gamma must be >= 0, got {intensity_gamma}.")
        self.num_categories = int(discriminator.outputs[1].shape[-1])
        self.num_continuous = int(discriminator.outputs[2].shape[-1])
        given = int(generator.inputs[2].shape[-1])
        if given != self.num_continuous:
            raise ValueError(f"G takes {given} continuous codes but Q reads "
                             f"{self.num_continuous}.")
        self.category_weight = float(category_weight)
        self.continuous_weight = float(continuous_weight)
        self.real_info_weight = float(real_info_weight)
        self.category_balance = float(category_balance)
        self.consistency_weight = float(consistency_weight)
        self.max_shift, self.mirror = int(max_shift), bool(mirror)
        self.max_zoom, self.max_aspect = float(max_zoom), float(max_aspect)
        self.cutout_size = int(cutout_size)
        self.intensity_levels, self.intensity_gamma = intensity_levels, float(intensity_gamma)
        self.mode_seeking_weight = float(mode_seeking_weight)
        super().__init__(generator, discriminator, **kwargs)

    def losses(self, real, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        code_seed, flip_seed, shift_seed = self.split(seed, 3)
        noise, category, continuous = draw_codes(
            tf.shape(real)[0], self.latent_dim, self.num_categories, self.num_continuous,
            code_seed)
        if self.mode_seeking_weight:  # the course's: fakes in pairs with the same codes
            category, continuous = pair_rows(category), pair_rows(continuous)
        fake = g([noise, category, continuous], training=True)
        real_logits, real_categories, _, _ = d(real, training=True)
        fake_logits, category_logits, mean, log_std = d(fake, training=True)
        losses, metrics = self.adversarial(real_logits, fake_logits, flip_seed)
        self.log_adversarial(losses, metrics)
        # the information term: how well Q reads back the codes G was given
        category_loss = categorical_nll(category, category_logits)
        continuous_loss = gaussian_nll(continuous, mean, log_std)
        info = (self.category_weight * category_loss
                + self.continuous_weight * continuous_loss)
        losses["discriminator"] += info
        losses["generator"] += info
        metrics.update(
            category_loss=category_loss, continuous_loss=continuous_loss,
            # the share of G's images whose category Q reads back correctly
            q_category_acc=class_hits(category_logits, category),
        )  # fmt: skip
        self.course_terms(losses, metrics, real, real_categories, fake, noise, shift_seed)
        return losses, metrics

    def course_terms(self, losses, metrics, real, real_categories, fake, noise, seed):
        """The course's additions to the paper's losses (see the class docstring), each off
        at weight 0: information on real images, consistency under moves, mode seeking."""
        d = self.networks["discriminator"]
        # category_information's two parts: the log gets the plain estimate, D's loss the
        # balanced one
        marginal, own = category_entropies(real_categories)
        metrics["real_category_info"] = marginal - own
        if self.real_info_weight:
            losses["discriminator"] -= self.real_info_weight * (
                self.category_balance * marginal - own)
        if self.consistency_weight:
            moved = consistency_move(real, seed, self.max_shift, self.mirror,
                                     self.intensity_levels, self.intensity_gamma,
                                     self.max_zoom, self.max_aspect, self.cutout_size)
            moved_categories = d(moved, training=True)[1]
            consistency = category_consistency(real_categories, moved_categories)
            losses["discriminator"] += self.consistency_weight * consistency
            metrics["category_consistency"] = consistency
        if self.mode_seeking_weight:
            ratio = noise_sensitivity(fake, noise)
            losses["generator"] += self.mode_seeking_weight / (ratio + 1e-5)
            metrics["mode_seeking_ratio"] = tf.fill(tf.shape(real)[:1], ratio)


def draw_codes(n, noise_dim: int, num_categories: int, num_continuous: int, seed):
    """InfoGAN's latent input for n samples: (noise N(0, 1), category uniform over
    0..num_categories-1, continuous codes uniform in [-1, 1]), stateless from `seed`."""
    noise_seed, category_seed, continuous_seed = draws.split(seed, 3)
    noise = draws.normal([n, noise_dim], noise_seed)
    category = draws.integers(n, category_seed, 0, num_categories)
    continuous = draws.uniform([n, num_continuous], continuous_seed, -1.0, 1.0)
    return noise, category, continuous


def pair_rows(x):
    """`x` with row 2k + 1 replaced by a copy of row 2k (an odd last row stays as it is). On
    replicas with an even batch each, the pairs are those of the global batch."""
    return tf.repeat(x[::2], 2, axis=0)[:tf.shape(x)[0]]


def noise_sensitivity(images, noise):
    """Mao et al.'s ratio for images drawn in pairs (rows 2k, 2k + 1) from the same codes:
    the mean absolute difference between a pair's images over that between their noise,
    both averaged over the pairs of the whole global batch."""
    pairs = tf.shape(images)[0] // 2 * 2
    image_gap = tf.abs(images[0:pairs:2] - images[1:pairs:2])
    image_gap = tf.reduce_mean(tf.reshape(tf.cast(image_gap, tf.float32), [pairs // 2, -1]), -1)
    noise_gap = tf.reduce_mean(tf.abs(noise[0:pairs:2] - noise[1:pairs:2]), -1)
    return batch_mean(image_gap) / batch_mean(noise_gap)
