"""Running an image-to-image generator (pix2pix's U-Net, CycleGAN's) on a batch of images."""

from __future__ import annotations

import keras
import numpy as np

from ..data import to_model_range


def as_generator_input(generator: keras.Model, images) -> np.ndarray:
    """uint8 [0, 255] or float [-1, 1] images -> float32 [-1, 1] of the shape G takes, or a
    clear error that says what G expects."""
    images = np.asarray(images)
    expected = tuple(int(s) for s in generator.inputs[0].shape[1:])
    if images.ndim == 3 and expected[-1] == 1:
        images = images[..., None]  # N x H x W grey images
    if images.ndim != 4 or images.shape[1:] != expected:
        raise ValueError(f"{generator.name} translates images of shape N x "
                         f"{' x '.join(map(str, expected))}, got {images.shape}. Resize the "
                         "images, or use a run trained at this size.")
    if images.dtype == np.uint8:
        return to_model_range(images)
    if not np.issubdtype(images.dtype, np.floating):
        raise ValueError(f"images must be uint8 in [0, 255] or float in [-1, 1], got "
                         f"{images.dtype}.")
    if len(images) and (images.min() < -1.001 or images.max() > 1.001 or
                        not np.isfinite(images).all()):
        raise ValueError("float images must be finite and in [-1, 1]; pass uint8 for "
                         "[0, 255] images.")
    return images.astype(np.float32)


def translate(generator: keras.Model, images, batch_size: int = 64) -> np.ndarray:
    """G(images) in [-1, 1], in batches (uint8 or [-1, 1] input, shape checked)."""
    x = as_generator_input(generator, images)
    return np.asarray(generator.predict(x, batch_size=batch_size, verbose=0), np.float32)
