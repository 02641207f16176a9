"""Low-resolution copies of images, and bicubic upsampling: lesson 10's input and baseline.

A low-resolution image is the mean of each `factor` x `factor` block of the original (a box
filter, so nothing aliases), rounded back to 8 bits as a real small image file would be. A
28 x 28 Fashion-MNIST image becomes 14 x 14 (factor 2) or 7 x 7 (factor 4).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from .pipeline import to_model_range, to_uint8

FACTORS = (2, 4)


def check_factor(factor: int, side: int | None = None) -> int:
    """`factor` if it is a supported upscaling factor (and divides `side`), else a clear error."""
    if factor not in FACTORS:
        raise ValueError(f"upscaling factor {factor!r} is not one of {FACTORS}.")
    if side is not None and side % factor:
        raise ValueError(f"images {side} pixels wide do not shrink by {factor}; use a factor "
                         f"that divides {side}.")
    return factor


def shrink(images, factor: int):
    """Float images in [-1, 1] (N x H x W x C, array or tensor) -> the low-resolution copies,
    in [-1, 1] on the 8-bit grid. Runs in TensorFlow, so it also works in a tf.data map."""
    check_factor(factor, images.shape[1])
    small = tf.nn.avg_pool2d(tf.cast(images, tf.float32), factor, factor, "VALID")
    return tf.round(small * 127.5 + 127.5) / 127.5 - 1.0  # as an 8-bit file would store it


def low_resolution(images: np.ndarray, factor: int) -> np.ndarray:
    """uint8 N x H x W x C images -> their uint8 low-resolution copies (H/factor x W/factor)."""
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError(f"low_resolution takes uint8 N x H x W x C images, got {images.dtype} "
                         f"{images.shape}.")
    return to_uint8(shrink(to_model_range(images), factor))  # the pipeline's arithmetic


def bicubic(images, factor: int) -> np.ndarray:
    """Bicubic upsampling by `factor` of uint8 or [-1, 1] images; returns [-1, 1]."""
    images = np.asarray(images)
    x = to_model_range(images) if images.dtype == np.uint8 else images
    check_factor(factor)
    size = [x.shape[1] * factor, x.shape[2] * factor]
    big = tf.image.resize(tf.constant(x, tf.float32), size, method="bicubic")
    return np.clip(big.numpy(), -1.0, 1.0)  # bicubic overshoots at sharp edges
