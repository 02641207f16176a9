"""The AC-GAN discriminator (lesson 05): one body, two heads.

AC-GAN (Odena, Olah and Shlens, 2017) gives D an *auxiliary classifier*: besides its usual
logit ("is this image real?") it predicts the image's class. Both heads read the same features,
those of lesson 02's DCGAN discriminator, so learning to tell the classes apart and learning to
tell real from fake share one network. D takes the image alone, unlike lesson 03's D(image,
label); the label enters only through the class head's loss.
"""

from __future__ import annotations

import keras
from keras import layers

from .blocks import layer_seeds
from .dcgan import build_dcgan_discriminator


def build_acgan_discriminator(image_shape=(28, 28, 1), num_classes: int = 10, width: int = 32,
                              dropout: float = 0.0, seed: int | None = None,
                              name: str = "discriminator") -> keras.Model:
    """image -> [logit (N x 1), class_logits (N x num_classes)], on a DCGAN D's features."""
    if num_classes < 2:
        raise ValueError(f"an auxiliary classifier needs at least 2 classes, got {num_classes}.")
    seeds = layer_seeds(seed, name)
    dcgan = build_dcgan_discriminator(image_shape, width, dropout=dropout, seed=next(seeds))
    # the same layers: the DCGAN D's input, its real/fake logit, and the features it reads
    features = dcgan.get_layer("logit").input
    class_logits = layers.Dense(num_classes, name="class_logits", dtype="float32",
                                kernel_initializer=keras.initializers.GlorotUniform(
                                    next(seeds)))(features)
    return keras.Model(dcgan.input, [dcgan.output, class_logits], name=name)


def class_head_size(discriminator: keras.Model) -> int:
    """How many classes an AC-GAN discriminator's class head predicts."""
    return int(discriminator.get_layer("class_logits").units)
