"""Small block factories shared by the model builders."""

from __future__ import annotations

import keras
from keras import layers


def gaussian_init(seed: int | None = None):
    """N(0, 0.02), the DCGAN paper's initialisation."""
    return keras.initializers.RandomNormal(stddev=0.02, seed=seed)


def conv_block(x, filters: int, *, transpose: bool = False, kernel_size: int = 4, strides: int = 2,
               norm: bool = True, activation: str = "leaky_relu", dropout: float = 0.0, seed=None):
    """(Transposed) convolution -> optional batch norm -> activation -> optional dropout.

    Kernel 4 with stride 2 keeps the kernel divisible by the stride (no checkerboard).
    """
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    x = conv(filters, kernel_size, strides=strides, padding="same", use_bias=not norm,
             kernel_initializer=gaussian_init(seed))(x)
    if norm:
        x = layers.BatchNormalization(momentum=0.9)(x)
    x = activate(x, activation)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return x


def activate(x, activation: str):
    if activation == "leaky_relu":
        return layers.LeakyReLU(negative_slope=0.2)(x)
    return layers.Activation(activation)(x)
