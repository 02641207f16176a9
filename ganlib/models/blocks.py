"""Small block factories shared by the model builders."""

from __future__ import annotations

import keras
from keras import layers

from ..distribute import batch_norm_synchronized

NORMS = ("batch", "instance", "none")


def gaussian_init(seed: int | None = None):
    """N(0, 0.02), the DCGAN paper's initialisation."""
    return keras.initializers.RandomNormal(stddev=0.02, seed=seed)


def normalization(kind: str):
    """A normalisation layer by name: "batch", "instance" (per image and channel, as
    pix2pix at batch size 1 and CycleGAN use) or "none" (returns None)."""
    if kind not in NORMS:
        raise ValueError(f"Unknown normalisation {kind!r}; choose one of {', '.join(NORMS)}.")
    if kind == "batch":
        return layers.BatchNormalization(momentum=0.9, synchronized=batch_norm_synchronized())
    if kind == "instance":  # one group per channel = instance normalisation
        return layers.GroupNormalization(groups=-1, epsilon=1e-5)
    return None


def image_output(x):
    """A generator's last layer: tanh to [-1, 1], in float32 even under mixed precision."""
    return layers.Activation("tanh", name="image", dtype="float32")(x)


def conv_block(x, filters: int, *, transpose: bool = False, kernel_size: int = 4, strides: int = 2,
               norm: bool | str = True, activation: str = "leaky_relu", dropout: float = 0.0,
               seed=None):
    """(Transposed) convolution -> optional normalisation -> activation -> optional dropout.

    norm: True or "batch", "instance", False or "none". Kernel 4 with stride 2 keeps the
    kernel divisible by the stride (no checkerboard).
    """
    kind = {True: "batch", False: "none"}.get(norm, norm)
    layer = normalization(kind)
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, kernel_size, strides=strides, padding="same", use_bias=layer is None,
             kernel_initializer=gaussian_init(seed))(x)
    if layer is not None:
        x = layer(x)
    x = activate(x, activation)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return x


def activate(x, activation: str):
    if activation == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.2)(x)
    return layers.Activation(activation)(x)
