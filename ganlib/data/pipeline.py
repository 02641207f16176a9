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
            repeat: bool = True) -> tf.data.Dataset:
    """Shuffled, batched (drop_remainder so shapes stay static), prefetched batches.

    uint8 images are scaled to [-1, 1]; other arrays (points) pass through as float32.
    """
    x = to_model_range(x) if x.dtype == np.uint8 else np.asarray(x, np.float32)
    if batch_size > len(x):
        raise ValueError(f"batch size {batch_size} is larger than the dataset ({len(x)} items).")
    items = x if y is None else (x, np.asarray(y, np.int32))
    ds = tf.data.Dataset.from_tensor_slices(items)
    ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
