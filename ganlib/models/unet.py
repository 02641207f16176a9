"""The pix2pix U-Net generator: an encoder-decoder with skip connections, image -> image.

The encoder halves the side with stride-2 convolutions down to a small bottleneck; the decoder
doubles it back, and each decoder layer also sees the encoder layer of its size (the skip), so
fine detail does not have to squeeze through the bottleneck. Dropout in the innermost decoder
layers is the generator's only source of randomness, and it stays on when sampling
(`AlwaysDropout`), as in the paper: a noise input is simply ignored by a U-Net.
"""

from __future__ import annotations

import keras
from keras import layers

from .blocks import conv_block, gaussian_init, image_output, layer_seeds


@keras.saving.register_keras_serializable(package="ganlib")
class AlwaysDropout(layers.Dropout):
    """Dropout that stays on at inference too: pix2pix's noise."""

    def call(self, inputs, training=None):
        return super().call(inputs, training=True)


def padded_side(side: int) -> int:
    """The side a U-Net works at: the next power of two (28 -> 32), so that it halves down to
    a 1x1 bottleneck and its dropout sits in the small innermost layers."""
    return 1 << (int(side) - 1).bit_length()


def unet_depth(side: int, max_depth: int = 8) -> int:
    """How many stride-2 halvings a U-Net applies to a side: down to 1 on the padded side, at
    most `max_depth` (256 -> 8, 64 -> 6, 28 -> 5 on 32)."""
    if side < 2:
        raise ValueError(f"Image side {side} is too small for a U-Net.")
    return min(padded_side(side).bit_length() - 1, max_depth)


def _check_image_shape(image_shape) -> tuple[int, int, int]:
    if len(image_shape) != 3 or image_shape[0] != image_shape[1] or image_shape[2] not in (1, 3):
        raise ValueError(f"image_shape {tuple(image_shape)} is not square H x H x C with C "
                         "1 or 3.")
    return tuple(int(s) for s in image_shape)


def build_unet_generator(image_shape=(64, 64, 3), out_channels: int = 3, width: int = 64,
                         max_width: int = 512, depth: int | None = None, norm: str = "batch",
                         dropout: float = 0.5, dropout_layers: int = 3, seed: int | None = None,
                         name: str = "generator") -> keras.Model:
    """U-Net from `source` (H x W x C in [-1, 1]) to `image` (H x W x out_channels, tanh).

    A side that is not a power of two is zero-padded up to one (28 -> 32) and the output
    cropped back. Encoder C{width}-C{2 width}-... capped at `max_width`, no normalisation on
    the first layer; decoder mirrors it with skips and `dropout` (kept on when sampling) in its
    `dropout_layers` innermost layers. depth: halvings (default: down to a side of 1).
    """
    h, _, _ = _check_image_shape(image_shape)
    depth = unet_depth(h) if depth is None else int(depth)
    if not 1 <= depth <= unet_depth(h, max_depth=16):
        raise ValueError(f"depth {depth} does not fit a side of {h}: at most "
                         f"{unet_depth(h, max_depth=16)} halvings.")
    seeds = layer_seeds(seed, name)
    source = keras.Input(image_shape, name="source")
    pad = padded_side(h) - h
    x = layers.ZeroPadding2D(((pad // 2, pad - pad // 2),) * 2)(source) if pad else source
    skips = []
    for i in range(depth):
        x = conv_block(x, min(width * 2**i, max_width), norm=norm if i > 0 else "none",
                       seed=next(seeds))
        skips.append(x)
    skips = skips[:-1][::-1]  # the bottleneck has no partner
    for i, skip in enumerate(skips):
        x = conv_block(x, min(width * 2 ** (depth - 2 - i), max_width), transpose=True,
                       norm=norm, activation="relu", seed=next(seeds))
        if dropout and i < dropout_layers:
            x = AlwaysDropout(dropout)(x)
        x = layers.Concatenate()([x, skip])
    x = layers.Conv2DTranspose(out_channels, 4, strides=2, padding="same",
                               kernel_initializer=gaussian_init(next(seeds)))(x)
    if pad:
        x = layers.Cropping2D(((pad // 2, pad - pad // 2),) * 2)(x)
    return keras.Model(source, image_output(x), name=name)
