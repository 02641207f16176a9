"""Paired images (pix2pix): side-by-side pairs A | B, split by direction, jittered alike.

Paired datasets (`maps`, `rendered_maps`, `fashion_edges`) hold each pair as one image twice
as wide as tall, A on the left and B on the right, as pix2pix's files do. The direction
says which half is the input: "AtoB" (aerial -> map, edges -> image) or "BtoA".
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .pipeline import batches

DIRECTIONS = ("AtoB", "BtoA")


def check_direction(direction: str) -> str:
    if direction not in DIRECTIONS:
        raise ValueError(f"Unknown direction {direction!r}; use {' or '.join(DIRECTIONS)}.")
    return direction


def check_pairs(pairs: np.ndarray, name: str = "pairs") -> np.ndarray:
    """N x H x 2H x C side-by-side pairs, or a clear error."""
    pairs = np.asarray(pairs)
    if pairs.ndim != 4 or pairs.shape[2] != 2 * pairs.shape[1] or pairs.shape[3] not in (1, 3):
        raise ValueError(f"{name} must be side-by-side pairs N x H x 2H x C (A | B, C 1 or "
                         f"3), got shape {pairs.shape}.")
    return pairs


def split_pairs(pairs, direction: str = "AtoB"):
    """(source, target) halves of side-by-side pairs (arrays or tensors) for `direction`."""
    check_direction(direction)
    side = pairs.shape[1]
    a, b = pairs[:, :, :side], pairs[:, :, side:]
    return (a, b) if direction == "AtoB" else (b, a)


def jitter(source, target, seed, scale: float = 286 / 256, mirror: bool = True):
    """pix2pix's random jitter, the same for both images of a pair: enlarge by `scale`, crop
    back to the original size at a random place, and mirror half of the pairs."""
    both = tf.concat([source, target], axis=-1)
    n, side = tf.shape(both)[0], both.shape[1]
    span = 1.0 / scale
    corner_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    corner = tf.random.stateless_uniform([n, 2], corner_seed, 0.0, 1.0 - span)
    boxes = tf.concat([corner, corner + span], axis=1)  # y1, x1, y2, x2
    if mirror:  # crop_and_resize mirrors a box whose x1 > x2
        flip = tf.random.stateless_uniform([n], flip_seed) < 0.5
        boxes = tf.where(flip[:, None], tf.gather(boxes, [0, 3, 2, 1], axis=1), boxes)
    out = tf.image.crop_and_resize(both, boxes, tf.range(n), [side, side])
    c = source.shape[-1]
    return out[..., :c], out[..., c:]


def paired_batches(pairs: np.ndarray, batch_size: int, seed: int = 0, direction: str = "AtoB",
                   random_jitter: bool = True, start_step: int = 0,
                   repeat: bool = True) -> tf.data.Dataset:
    """Shuffled (source, target) batches in [-1, 1], jittered per pair when `random_jitter`.

    The order and the jitter of batch k depend only on (seed, k), so the stream from
    `start_step` on is exactly what an uninterrupted run sees (see `data.batches`).
    """
    check_pairs(pairs)
    check_direction(direction)
    ds = batches(pairs, batch_size, seed, repeat=repeat, start_step=start_step)

    def to_pair(k, batch):
        source, target = split_pairs(batch, direction)
        if random_jitter:
            source, target = jitter(source, target, tf.stack([tf.constant(seed, tf.int64), k]))
        return source, target

    ds = ds.enumerate(start_step).map(to_pair, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)
