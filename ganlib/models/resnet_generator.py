"""CycleGAN's ResNet generator (Zhu et al., 2017, after Johnson et al., 2016): image -> image.

c7s1-64, d128, d256, R256 x n_blocks, u128, u64, c7s1-3 in the paper's notation, for a width
of 64: a 7x7 convolution, two stride-2 downsamplings, residual blocks at a quarter of the side,
two stride-2 upsamplings and a 7x7 convolution to the output channels (tanh). Instance
normalisation and ReLU after every layer but the last; reflection padding before the 7x7 and
the residual convolutions, so the image border is not a zero frame the network must learn
around. The residual blocks change an image rather than redraw it, which suits translations
that keep the layout (a horse's pose, a circle's place).
"""

from __future__ import annotations

import keras
from keras import layers

from .blocks import gaussian_init, image_output, layer_seeds, normalization


@keras.saving.register_keras_serializable(package="ganlib")
class ReflectionPadding2D(layers.Layer):
    """Pad height and width by `padding` pixels, mirroring the image at its border."""

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, x):
        p = self.padding
        return keras.ops.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, shape):
        grow = lambda s: None if s is None else s + 2 * self.padding
        return (shape[0], grow(shape[1]), grow(shape[2]), shape[3])

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def _conv(x, filters: int, kernel: int, seed, *, strides: int = 1, reflect: int = 0,
          transpose: bool = False, norm: str = "instance", relu: bool = True):
    """(Reflection pad ->) convolution -> normalisation -> ReLU."""
    if reflect:
        x = ReflectionPadding2D(reflect)(x)
    conv = layers.Conv2DTranspose if transpose else layers.Conv2D
    layer = normalization(norm)
    x = conv(filters, kernel, strides=strides, padding="valid" if reflect else "same",
             use_bias=layer is None, kernel_initializer=gaussian_init(seed))(x)
    if layer is not None:
        x = layer(x)
    return layers.ReLU()(x) if relu else x


def residual_block(x, seed=None, norm: str = "instance"):
    """R{k}: two reflection-padded 3x3 convolutions with the same number of filters, added to
    the input. seed: the block's own (`layer_seeds`), the two convolutions derive theirs."""
    filters = int(x.shape[-1])
    seeds = layer_seeds(seed, "residual_block")
    y = _conv(x, filters, 3, next(seeds), reflect=1, norm=norm)
    y = _conv(y, filters, 3, next(seeds), reflect=1, norm=norm, relu=False)
    return layers.Add()([x, y])


def build_resnet_generator(image_shape=(256, 256, 3), out_channels: int | None = None,
                           width: int = 64, n_blocks: int = 9, norm: str = "instance",
                           seed: int | None = None, name: str = "generator") -> keras.Model:
    """ResNet generator from `source` (H x W x C in [-1, 1]) to `image` (tanh).

    width: filters of the first layer (the paper's 64); the others are 2x and 4x that.
    n_blocks: residual blocks, the paper's 6 for 128x128 images and 9 for 256x256.
    out_channels: default the input's. H and W must be divisible by 4.
    """
    if len(image_shape) != 3 or image_shape[2] not in (1, 3):
        raise ValueError(f"image_shape {tuple(image_shape)} is not H x W x C with C 1 or 3.")
    h, w, c = (int(s) for s in image_shape)
    if h % 4 or w % 4 or min(h, w) < 8:
        raise ValueError(f"the ResNet generator halves the image twice: its side must be "
                         f"divisible by 4 and at least 8, got {h} x {w}.")
    if n_blocks < 0 or width < 1:
        raise ValueError(f"n_blocks must be >= 0 and width >= 1, got {n_blocks} and {width}.")
    seeds = layer_seeds(seed, name)
    source = keras.Input((h, w, c), name="source")
    x = _conv(source, width, 7, next(seeds), reflect=3, norm=norm)  # c7s1-64
    x = _conv(x, 2 * width, 3, next(seeds), strides=2, norm=norm)  # d128
    x = _conv(x, 4 * width, 3, next(seeds), strides=2, norm=norm)  # d256
    for _ in range(n_blocks):  # R256
        x = residual_block(x, next(seeds), norm)
    x = _conv(x, 2 * width, 3, next(seeds), strides=2, transpose=True, norm=norm)  # u128
    x = _conv(x, width, 3, next(seeds), strides=2, transpose=True, norm=norm)  # u64
    x = _conv(x, out_channels or c, 7, next(seeds), reflect=3, norm="none", relu=False)  # c7s1-3
    return keras.Model(source, image_output(x), name=name)
