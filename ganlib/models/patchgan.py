"""The PatchGAN discriminator (pix2pix, CycleGAN): a logit per overlapping patch, not per image.

A fully convolutional D: C{width} (no normalisation) then C{2 width}, ... with stride 2, one
stride-1 layer, and a 1-channel convolution. Each output logit sees only a patch of the input
(`patch_size`: 70x70 pixels for 3 strided layers, the paper's choice), so D judges texture and
local structure and leaves the large-scale layout to the L1 or cycle loss; it is also smaller
and runs on any image size.
"""

from __future__ import annotations

import keras
from keras import layers

from .blocks import conv_block, gaussian_init, layer_seeds


def patch_size(strided_layers: int = 3) -> int:
    """The side of the input patch each logit sees (receptive field of the 4x4 convolutions)."""
    field = 1 + 3 + 3  # the final 4x4 convolution and the stride-1 layer before it
    for _ in range(strided_layers):
        field = (field - 1) * 2 + 4
    return field


def build_patchgan_discriminator(image_shape=(64, 64, 3), condition_shape=None, width: int = 64,
                                 strided_layers: int = 3, norm: str = "batch",
                                 seed: int | None = None,
                                 name: str = "discriminator") -> keras.Model:
    """PatchGAN: `image` -> patch logits (N x h x w x 1).

    condition_shape: for pix2pix, D also takes the `source` image G translated (inputs
    [source, image], concatenated on channels), so it judges whether the pair fits, not only
    whether the output looks real. None: one input (CycleGAN).
    """
    side = int(image_shape[0])
    if side % 2**strided_layers:
        raise ValueError(f"{strided_layers} stride-2 layers need an image side divisible by "
                         f"{2**strided_layers}, got {side}; use fewer strided_layers.")
    seeds = layer_seeds(seed, name)
    image = keras.Input(image_shape, name="image")
    inputs = [image]
    x = image
    if condition_shape is not None:
        source = keras.Input(condition_shape, name="source")
        inputs = [source, image]
        x = layers.Concatenate()([source, image])
    for i in range(strided_layers):
        x = conv_block(x, width * 2**i, norm=norm if i > 0 else "none", seed=next(seeds))
    x = conv_block(x, width * 2**strided_layers, strides=1, norm=norm, seed=next(seeds))
    logits = layers.Conv2D(1, 4, padding="same", kernel_initializer=gaussian_init(next(seeds)),
                           name="patch_logits", dtype="float32")(x)
    return keras.Model(inputs if len(inputs) > 1 else image, logits, name=name)
