"""How close is a translated image to its target? Per-pixel scores for paired translation.

pix2pix (lesson 07) has a right answer for every input, so besides the judge's FID (is the
output realistic?) it is scored against the target: mean absolute error (L1), PSNR, SSIM, and
pixel accuracy, the share of pixels whose every channel is within `tolerance` grey levels of
the target (the maps task's score: a map pixel is either the right colour or not). Images
are uint8 [0, 255] or float [-1, 1], N x H x W x C.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def _unit(images) -> np.ndarray:
    """uint8 [0, 255] or float [-1, 1] -> float32 [0, 1]."""
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return images.astype(np.float32) / 255.0
    if images.size and (images.min() < -1.001 or images.max() > 1.001):
        raise ValueError("float images must be in [-1, 1]; pass uint8 for [0, 255] images.")
    return (images.astype(np.float32) + 1.0) / 2.0


def _pair(outputs, targets) -> tuple[np.ndarray, np.ndarray]:
    a, b = _unit(outputs), _unit(targets)
    if a.shape != b.shape or a.ndim != 4:
        raise ValueError(f"outputs {a.shape} and targets {b.shape} must both be N x H x W x C "
                         "of the same shape.")
    return a, b


def pixel_metrics(outputs, targets, tolerance: int = 16, batch_size: int = 256) -> dict:
    """Mean L1 (in [-1, 1] units, the training loss), PSNR (dB), SSIM and pixel accuracy."""
    a, b = _pair(outputs, targets)
    diff = np.abs(a - b)
    ssim, psnr = [], []
    for i in range(0, len(a), batch_size):  # in batches: SSIM's filters are memory-hungry
        x, y = tf.constant(a[i:i + batch_size]), tf.constant(b[i:i + batch_size])
        ssim.append(tf.image.ssim(x, y, max_val=1.0, filter_size=7).numpy())
        psnr.append(tf.image.psnr(x, y, max_val=1.0).numpy())
    psnr = np.concatenate(psnr)
    return {
        "l1": round(float(2.0 * diff.mean()), 4),
        "psnr": round(float(np.mean(np.minimum(psnr, 100.0))), 3),  # identical images: inf
        "ssim": round(float(np.mean(np.concatenate(ssim))), 4),
        "pixel_accuracy": round(float((diff.max(axis=-1) <= tolerance / 255.0).mean()), 4),
        "tolerance": tolerance,
    }
