"""tf.data pipelines and the one place that fixes the pixel convention: images in [-1, 1]."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def to_model_range(images: np.ndarray) -> np.ndarray:
    """uint8 [0, 255] -> float32 [-1, 1], the range of a tanh generator."""
    return (np.asarray(images, np.float32) - 127.5) / 127.5


def to_uint8(images) -> np.ndarray:
    """float [-1, 1] -> uint8 [0, 255], clipping what a generator overshoots."""
    images = np.asarray(images, np.float32)
    return np.clip(np.rint(images * 127.5 + 127.5), 0, 255).astype(np.uint8)


def batches(x: np.ndarray, batch_size: int, seed: int = 0, y: np.ndarray | None = None,
            repeat: bool = True, start_step: int = 0) -> tf.data.Dataset:
    """Shuffled, batched (drop_remainder so shapes stay static), prefetched batches.

    uint8 images are scaled to [-1, 1]; other arrays (points) pass through as float32.
    Epoch e is the permutation seeded by (seed, e), and the stream runs on across epoch
    ends, so the batches from `start_step` on are exactly those an uninterrupted run sees
    after `start_step` steps: a resumed run continues with the data it would have had.
    """
    n = len(x)
    if batch_size > n:
        raise ValueError(f"batch size {batch_size} is larger than the dataset ({n} items).")
    images = tf.constant(x if x.dtype == np.uint8 else np.asarray(x, np.float32))
    labels = None if y is None else tf.constant(np.asarray(y, np.int32))
    first_epoch, offset = divmod(int(start_step) * batch_size, n)
    last_epoch = np.iinfo(np.int64).max if repeat else first_epoch + 1

    def permutation(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(n, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order)

    def gather(index):
        batch = tf.gather(images, index)
        if batch.dtype == tf.uint8:
            batch = (tf.cast(batch, tf.float32) - 127.5) / 127.5
        return batch if labels is None else (batch, tf.gather(labels, index))

    ds = tf.data.Dataset.range(first_epoch, last_epoch).flat_map(permutation).skip(offset)
    ds = ds.batch(batch_size, drop_remainder=True)
    return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
