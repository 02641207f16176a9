"""Small block factories shared by the model builders."""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator

import keras
import numpy as np
from keras import layers

from ..distribute import batch_norm_synchronized
from .fused_batch_norm import FusedBatchNormalization

NORMS = ("batch", "instance", "layer", "none")


def gaussian_init(seed: int | None = None):
    """N(0, 0.02), the DCGAN paper's initialisation. Give each layer its own seed
    (`layer_seeds`): one integer seed draws the same numbers for every layer."""
    return keras.initializers.RandomNormal(stddev=0.02, seed=seed)


def layer_seeds(seed: int | None, model: str) -> Iterator[int | None]:
    """Distinct seeds, one per layer, for the model named `model` built from `seed`.

    A Keras initializer or noise layer given an integer seed draws the same stream of numbers
    whatever the shape, so layers sharing one seed start as copies of each other (every
    kernel a prefix of one sequence; a ResNet's residual blocks all equal). The stream is
    reproducible from (seed, model); seed None gives None forever (unseeded layers).
    """
    if seed is None:
        return itertools.repeat(None)
    key = zlib.crc32(model.encode())
    return (int(np.random.SeedSequence([int(seed) % 2**32, key, i]).generate_state(1)[0] >> 1)
            for i in itertools.count())


def normalization(kind: str):
    """A normalisation layer by name: "batch" (`FusedBatchNormalization`: Keras's layer
    on TensorFlow's fused kernel), "instance" (per image and channel, as
    pix2pix at batch size 1 and CycleGAN use), "layer" (per image over all its features,
    what WGAN-GP's critic uses, since batch norm would tie its per-image gradient penalty to
    the rest of the batch) or "none" (returns None)."""
    if kind not in NORMS:
        raise ValueError(f"Unknown normalisation {kind!r}; choose one of {', '.join(NORMS)}.")
    if kind == "batch":
        return FusedBatchNormalization(momentum=0.9, synchronized=batch_norm_synchronized())
    if kind == "instance":  # one group per channel = instance normalisation
        return layers.GroupNormalization(groups=-1, epsilon=1e-5)
    if kind == "layer":  # one group for all channels = layer normalisation
        return layers.GroupNormalization(groups=1, epsilon=1e-5)
    return None


def spectral(layer):
    """`layer` (a Conv2D or Dense) with spectral normalisation (Miyato et al., 2018): its
    kernel divided by its largest singular value, estimated by one power iteration per
    training call, so the layer stretches no input by more than 1. Keras's wrapper stores the
    normalised kernel back in the layer (a projection after each step) rather than
    differentiating through the division as the paper does."""
    # the wrapper casts its output to its input's dtype: give it the layer's (a float32 logit)
    return layers.SpectralNormalization(layer, power_iterations=1, dtype=layer.dtype_policy)


def image_output(x):
    """A generator's last layer: tanh to [-1, 1], in float32 even under mixed precision."""
    return layers.Activation("tanh", name="image", dtype="float32")(x)


def conv_block(x, filters: int, *, transpose: bool = False, kernel_size: int = 4, strides: int = 2,
               norm: bool | str = True, activation: str = "leaky_relu", dropout: float = 0.0,
               spectral_norm: bool = False, seed=None):
    """(Transposed) convolution -> optional normalisation -> activation -> optional dropout.

    norm: True or "batch", "instance", "layer", False or "none". Kernel 4 with stride 2
    keeps the kernel divisible by the stride (no checkerboard). spectral_norm: wrap the
    convolution in `spectral`.
    """
    kind = {True: "batch", False: "none"}.get(norm, norm)
    layer = normalization(kind)
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    conv = conv(filters, kernel_size, strides=strides, padding="same", use_bias=layer is None,
                kernel_initializer=gaussian_init(seed))
    x = (spectral(conv) if spectral_norm else conv)(x)
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
