"""Label-preserving augmentation of image batches inside a train step (lesson 04's Q)."""

from __future__ import annotations

import tensorflow as tf

from ..distribute import replica_rows


def _per_image_uniform(n, shape, seed, low, high, dtype=tf.float32):
    """n rows of shape `shape`, uniform in [low, high), stateless from `seed`; inside a
    replica, this replica's rows of the global batch's draw (`replica_rows`), as on one
    device."""
    return replica_rows(lambda k: tf.random.stateless_uniform(
        [k, *shape], seed, low, high, dtype=dtype), n)


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
    offset = _per_image_uniform(n, [2], shift_seed, 0, 2 * m + 1, tf.int32)
    rows = offset[:, :1] + tf.range(height)[None]
    cols = tf.range(width)[None]
    if mirror:
        flip = _per_image_uniform(n, [1], flip_seed, 0.0, 1.0) < 0.5
        cols = tf.where(flip, width - 1 - cols, cols)
    cols = offset[:, 1:] + cols
    moved = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(moved, cols, axis=2, batch_dims=1)


def jitter_intensity(images, level_seed, gamma_seed, levels: tuple[float, float] | None,
                     gamma: float):
    """Each image's brightness and contrast changed at random, black staying black: its
    intensities on [0, 1], (x + 1) / 2, raised to the power e^u (u uniform in [-`gamma`,
    `gamma`]); then, with `levels` = (low, high), multiplied so that the mean of its garment
    (the pixels above 0.02) is a level drawn uniform in [low, high], clipped to [0, 1] and
    mapped back to [-1, 1]. A dark garment comes out as light as a light one, and the other
    way round. Stateless from the two seeds; rows drawn as `shift_and_mirror`'s."""
    n = tf.shape(images)[0]
    power = tf.exp(_per_image_uniform(n, [1, 1, 1], gamma_seed, -gamma, gamma))
    x = tf.clip_by_value((tf.cast(images, tf.float32) + 1.0) / 2.0, 0.0, 1.0)
    x = tf.pow(x + 1e-6, power)
    if levels is not None:
        low, high = levels
        level = _per_image_uniform(n, [1, 1, 1], level_seed, low, high)
        garment = tf.cast(x > 0.02, tf.float32)
        mean = tf.reduce_sum(x * garment, [1, 2, 3], keepdims=True) / tf.maximum(
            tf.reduce_sum(garment, [1, 2, 3], keepdims=True), 1.0)
        x = tf.clip_by_value(x * level / tf.maximum(mean, 0.05), 0.0, 1.0)
    return tf.cast(2.0 * x - 1.0, images.dtype)


def zoom(images, seed, max_zoom: float, max_aspect: float = 0.0, background: float = -1.0):
    """Each image `rescale`d by its own factor s drawn uniform in [1 - `max_zoom`,
    1 + `max_zoom`]; with `max_aspect` > 0, its rows by s r and its columns by s / r, r = e^u
    with u uniform in [-`max_aspect`, `max_aspect`] (the garment drawn taller and narrower, or
    wider and lower). Stateless from `seed`, rows drawn as `shift_and_mirror`'s."""
    n = tf.shape(images)[0]
    zoom_seed = seed
    if max_aspect:  # without it, the draws of earlier runs
        zoom_seed, aspect_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    scale = _per_image_uniform(n, [1], zoom_seed, 1.0 - max_zoom, 1.0 + max_zoom)
    if max_aspect:
        aspect = tf.exp(_per_image_uniform(n, [1], aspect_seed, -max_aspect, max_aspect))
        scale = tf.concat([scale * aspect, scale / aspect], axis=-1)
    return rescale(images, scale, background)


def cutout(images, seed, size: int, background: float = -1.0):
    """Each image with a `size` x `size` square set to `background` (DeVries and Taylor,
    2017's cutout): its centre drawn uniform over the image's pixels, rows from `seed` and
    columns from a seed folded from it, the square clipped at the edges. A garment comes out
    missing a part (a bag its handle, a boot its shaft, a top a sleeve). Rows drawn as
    `shift_and_mirror`'s."""
    n, height, width = tf.shape(images)[0], images.shape[1], images.shape[2]
    centre_row = _per_image_uniform(n, [1], seed, 0, height, tf.int32)
    centre_col = _per_image_uniform(n, [1], tf.random.experimental.stateless_fold_in(seed, 1),
                                    0, width, tf.int32)

    def inside(centre, length):  # size pixels: c - size // 2 to c + (size - 1) // 2
        offset = tf.range(length)[None] - centre
        return (offset >= -(size // 2)) & (offset <= (size - 1) // 2)

    in_rows, in_cols = inside(centre_row, height), inside(centre_col, width)
    square = in_rows[:, :, None, None] & in_cols[:, None, :, None]
    return tf.where(square, tf.cast(background, images.dtype), images)


def rescale(images, scale, background: float = -1.0):
    """Each image resampled about its centre c by its factor s in `scale` (n x 1, or n x 2
    for rows and columns apart): output pixel i reads input position c + s (i - c) in each
    direction, bilinearly (s > 1: the garment drawn smaller, s = 1: unchanged); positions
    outside the image read `background`. What `tf.image.crop_and_resize` does with a
    centred box s wide (and high), but with gathers only, so XLA compiles it."""
    scale = tf.cast(scale, tf.float32)
    x = _resample(tf.cast(images, tf.float32), scale[:, :1], 1, background)
    return tf.cast(_resample(x, scale[:, -1:], 2, background), images.dtype)


def _resample(images, scale, axis: int, background: float):
    """`rescale` along one axis (1: rows, 2: columns): linear interpolation between two
    gathered lines, lines read from outside the image set to `background`."""
    size = images.shape[axis]
    centre = (size - 1) / 2
    position = centre + scale * (tf.range(size, dtype=tf.float32)[None] - centre)
    below = tf.floor(position)
    inside = (position >= 0) & (position <= size - 1)
    low = tf.cast(tf.clip_by_value(below, 0, size - 1), tf.int32)
    high = tf.minimum(low + 1, size - 1)
    shape = [-1, 1, 1, 1]
    shape[axis] = size
    weight, inside = tf.reshape(position - below, shape), tf.reshape(inside, shape)
    line = ((1.0 - weight) * tf.gather(images, low, axis=axis, batch_dims=1)
            + weight * tf.gather(images, high, axis=axis, batch_dims=1))
    return tf.where(inside, line, background)


def consistency_move(images, seed, max_shift: int = 2, mirror: bool = True,
                     levels: tuple[float, float] | None = None, gamma: float = 0.0,
                     max_zoom: float = 0.0, max_aspect: float = 0.0, cutout_size: int = 0):
    """The move of lesson 04's consistency term: `shift_and_mirror`, then, with `max_zoom`
    or `max_aspect` > 0, `zoom`, then, with `cutout_size` > 0, `cutout`, then, with `levels`
    or `gamma` > 0, `jitter_intensity`; stateless from `seed`."""
    # the seed is split so that the moves without a zoom or a cutout stay those of earlier runs
    jitter = levels is not None or bool(gamma)
    move_seed = seed
    if jitter:
        move_seed, level_seed, gamma_seed = tf.unstack(
            tf.random.experimental.stateless_split(seed, 3))
    if max_zoom or max_aspect or cutout_size:
        shift_seed, zoom_seed = tf.unstack(tf.random.experimental.stateless_split(move_seed, 2))
        moved = shift_and_mirror(images, shift_seed, max_shift, mirror)
        if max_zoom or max_aspect:
            moved = zoom(moved, zoom_seed, max_zoom, max_aspect)
        if cutout_size:  # its own seed, folded from the zoom's: the zoom draws as before
            moved = cutout(moved, tf.random.experimental.stateless_fold_in(zoom_seed, 11),
                           cutout_size)
    else:
        moved = shift_and_mirror(images, move_seed, max_shift, mirror)
    if jitter:
        moved = jitter_intensity(moved, level_seed, gamma_seed, levels, gamma)
    return moved
