"""DCGAN generator and discriminator for any H x W x C whose sides halve down to 3-8 pixels.

The DCGAN rules: strided convolutions instead of pooling, batch norm everywhere except G's
output and D's input layer, ReLU in G, LeakyReLU(0.2) in D, tanh output, N(0, 0.02) weights.
"""

from __future__ import annotations

import keras
from keras import layers

from .blocks import conv_block, gaussian_init, image_output, layer_seeds, normalization, spectral


def num_resamplings(size: int, smallest: int = 4) -> int:
    """How many stride-2 steps take `size` down to a side between `smallest` and 2*smallest-1."""
    n = 0
    while size % 2 == 0 and size // 2 >= smallest:
        size //= 2
        n += 1
    if n == 0:
        raise ValueError(f"Image side {size} cannot be halved; use a side like 28, 32 or 64.")
    return n


def _check_shape(image_shape) -> tuple[int, int, int]:
    if len(image_shape) != 3 or image_shape[0] != image_shape[1] or image_shape[2] not in (1, 3):
        raise ValueError(
            f"image_shape {tuple(image_shape)} is not square H x H x C with C 1 or 3."
        )
    return tuple(int(s) for s in image_shape)


def build_dcgan_generator(latent_dim: int = 128, image_shape=(28, 28, 1), width: int = 64,
                          seed: int | None = None, name: str = "generator") -> keras.Model:
    """Noise -> Dense to a small feature map -> transposed convs doubling the side -> tanh."""
    h, _, c = _check_shape(image_shape)
    n = num_resamplings(h)
    side = h // 2**n
    seeds = layer_seeds(seed, name)
    z = keras.Input((latent_dim,), name="noise")
    x = layers.Dense(side * side * width * 2**n, use_bias=False,
                     kernel_initializer=gaussian_init(next(seeds)))(z)
    x = normalization("batch")(x)
    x = layers.ReLU()(x)
    x = layers.Reshape((side, side, width * 2**n))(x)
    for i in range(n):
        x = conv_block(x, width * 2 ** (n - 1 - i), transpose=True, activation="relu",
                       seed=next(seeds))
    x = layers.Conv2D(c, 3, padding="same", kernel_initializer=gaussian_init(next(seeds)))(x)
    return keras.Model(z, image_output(x), name=name)


def build_dcgan_discriminator(image_shape=(28, 28, 1), width: int = 64, dropout: float = 0.0,
                              seed: int | None = None, name: str = "discriminator",
                              norm: str = "batch", spectral_norm: bool = False) -> keras.Model:
    """Image -> strided convs halving the side (no norm on the first) -> one logit.

    norm: "batch" (DCGAN), "layer" (a WGAN-GP critic) or "none"; spectral_norm: every
    convolution and the final Dense spectrally normalised (SN-GAN, usually with norm "none").
    """
    h, _, _ = _check_shape(image_shape)
    n = num_resamplings(h)
    seeds = layer_seeds(seed, name)
    image = keras.Input(image_shape, name="image")
    x = image
    for i in range(n):
        x = conv_block(x, width * 2**i, norm=norm if i > 0 else "none", dropout=dropout,
                       spectral_norm=spectral_norm, seed=next(seeds))
    x = layers.Flatten()(x)
    logit = layers.Dense(1, kernel_initializer=keras.initializers.GlorotUniform(next(seeds)),
                         name="logit", dtype="float32")
    return keras.Model(image, (spectral(logit) if spectral_norm else logit)(x), name=name)
