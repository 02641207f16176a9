"""Label-preserving augmentation of image batches inside a train step (lesson 04's Q)."""

from __future__ import annotations

import tensorflow as tf

from ..distribute import replica_rows


def shift_and_mirror(images, seed, max_shift: int = 2, mirror: bool = True,
                     background: float = -1.0):
    """Each image moved by a random whole number of pixels, up to `max_shift` each way in
    each direction (the edge filled with `background`, black in [-1, 1]), and mirrored left
    to right with probability 1/2 if `mirror`; stateless from `seed`, exact pixel values,
    gathers only (so XLA compiles it). Inside a replica, the moves are this replica's rows of
    the global batch's, as for one device (`replica_rows`)."""
    n, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    m = int(max_shift)
    padded = tf.pad(images, [[0, 0], [m, m], [m, m], [0, 0]], constant_values=background)
    shift_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    offset = replica_rows(lambda k: tf.random.stateless_uniform(
        [k, 2], shift_seed, 0, 2 * m + 1, dtype=tf.int32), n)
    rows = offset[:, :1] + tf.range(height)[None]
    cols = tf.range(width)[None]
    if mirror:
        flip = replica_rows(lambda k: tf.random.stateless_uniform([k, 1], flip_seed), n) < 0.5
        cols = tf.where(flip, width - 1 - cols, cols)
    cols = offset[:, 1:] + cols
    moved = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(moved, cols, axis=2, batch_dims=1)


def jitter_intensity(images, scale_seed, gamma_seed, scale: float, gamma: float):
    """Each image's brightness and contrast changed at random, black staying black: its
    intensities on [0, 1], (x + 1) / 2, raised to the power e^u (u uniform in [-`gamma`,
    `gamma`]), multiplied by a factor uniform in [1 - `scale`, 1 + `scale`], clipped to
    [0, 1] and mapped back to [-1, 1]. A dark garment and a light one of the same kind look
    alike to it. Stateless from the two seeds; rows drawn as `shift_and_mirror`'s."""
    n = tf.shape(images)[0]
    factor = replica_rows(lambda k: tf.random.stateless_uniform(
        [k, 1, 1, 1], scale_seed, 1.0 - scale, 1.0 + scale), n)
    power = tf.exp(replica_rows(lambda k: tf.random.stateless_uniform(
        [k, 1, 1, 1], gamma_seed, -gamma, gamma), n))
    x = tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) / 2.0, 0.0, 1.0)
    x = tf.clip_by_value(factor * tf.pow(x + 1e-6, power), 0.0, 1.0)
    return tf.cast(2.0 * x - 1.0, images.dtype)


def consistency_move(images, seed, max_shift: int = 2, mirror: bool = True,
                     scale: float = 0.0, gamma: float = 0.0):
    """The move of lesson 04's consistency term: `shift_and_mirror`, then, if `scale` or
    `gamma` is above 0, `jitter_intensity`; stateless from `seed`."""
    if not (scale or gamma):
        return shift_and_mirror(images, seed, max_shift, mirror)
    move_seed, scale_seed, gamma_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 3))
    moved = shift_and_mirror(images, move_seed, max_shift, mirror)
    return jitter_intensity(moved, scale_seed, gamma_seed, scale, gamma)
