"""SRGAN's generator, SRResNet (Ledig et al., 2017): a low-resolution image -> `scale` x larger.

A wide convolution with PReLU, residual blocks at the input's size (conv-norm-PReLU-conv-norm,
added to their input), a convolution added back to the first layer's output (the long skip),
then one sub-pixel upsampling per doubling, and a wide convolution to the output channels
(tanh). All the work happens at the small size; the sub-pixel layer (Shi et al., 2016) turns
4 x C channels into a 2x larger image of C channels, so upsampling is learned without the
checkerboard of a transposed convolution.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from .blocks import gaussian_init, image_output, layer_seeds, normalization


@keras.saving.register_keras_serializable(package="ganlib")
class SubPixelUpsampling(layers.Layer):
    """Rearrange H x W x (r*r*C) into rH x rW x C (depth to space, "pixel shuffle")."""

    def __init__(self, factor: int = 2, **kwargs):
        super().__init__(**kwargs)
        self.factor = int(factor)

    def call(self, x):
        return keras.ops.depth_to_space(x, self.factor)

    def compute_output_shape(self, shape):
        r = self.factor
        grow = lambda s: None if s is None else s * r
        return (shape[0], grow(shape[1]), grow(shape[2]), shape[3] // (r * r))

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def _conv(x, filters: int, kernel: int, seed, norm: str = "none", prelu: bool = False):
    layer = normalization(norm)
    x = layers.Conv2D(filters, kernel, padding="same", use_bias=layer is None,
                      kernel_initializer=gaussian_init(seed))(x)
    if layer is not None:
        x = layer(x)
    return layers.PReLU(shared_axes=[1, 2])(x) if prelu else x


def build_srresnet_generator(input_shape=(7, 7, 1), scale: int = 4, width: int = 32,
                             blocks: int = 4, norm: str = "batch", seed: int | None = None,
                             name: str = "generator") -> keras.Model:
    """SRResNet for `input_shape` images, `scale` (a power of 2) times larger out.

    The paper: width 64, 16 blocks, batch norm, 9x9 outer kernels; here the outer kernels
    are 5x5, since a 7x7 input is smaller than a 9x9 kernel. norm "none" is ESRGAN's choice.
    """
    if scale < 2 or scale & (scale - 1):
        raise ValueError(f"scale {scale} must be a power of 2 (2, 4, ...).")
    if len(input_shape) != 3 or input_shape[-1] not in (1, 3):
        raise ValueError(f"input_shape {tuple(input_shape)} is not H x W x C with C 1 or 3.")
    seeds = layer_seeds(seed, name)
    low = keras.Input(input_shape, name="low_resolution")
    x = skip = _conv(low, width, 5, next(seeds), prelu=True)
    for _ in range(blocks):
        y = _conv(x, width, 3, next(seeds), norm=norm, prelu=True)
        x = layers.Add()([x, _conv(y, width, 3, next(seeds), norm=norm)])
    x = layers.Add()([skip, _conv(x, width, 3, next(seeds), norm=norm)])
    for _ in range(int(math.log2(scale))):
        x = SubPixelUpsampling(2)(_conv(x, 4 * width, 3, next(seeds)))
        x = layers.PReLU(shared_axes=[1, 2])(x)
    x = layers.Conv2D(input_shape[-1], 5, padding="same",
                      kernel_initializer=gaussian_init(next(seeds)))(x)
    return keras.Model(low, image_output(x), name=name)
