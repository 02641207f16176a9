"""Multilayer perceptrons: lesson 01's for 2-D points, lesson 06's generator of images."""

from __future__ import annotations

import keras
from keras import layers

from .blocks import activate, image_output, layer_seeds, normalization
from .dcgan import _check_shape


def build_mlp_generator(latent_dim: int = 100, hidden=(15,), output_dim: int = 2,
                        activation: str = "relu", name: str = "generator") -> keras.Model:
    """Noise -> hidden Dense layers -> a linear point (sin x is not bounded like pixels)."""
    z = keras.Input((latent_dim,), name="noise")
    x = z
    for units in hidden:
        x = activate(layers.Dense(units)(x), activation)
    return keras.Model(z, layers.Dense(output_dim, name="point", dtype="float32")(x), name=name)


def build_mlp_discriminator(input_dim: int = 2, hidden=(25,), activation: str = "relu",
                            name: str = "discriminator") -> keras.Model:
    """Point -> hidden Dense layers -> one logit (real if positive)."""
    p = keras.Input((input_dim,), name="point")
    x = p
    for units in hidden:
        x = activate(layers.Dense(units)(x), activation)
    return keras.Model(p, layers.Dense(1, name="logit", dtype="float32")(x), name=name)


def build_mlp_image_generator(latent_dim: int = 100, image_shape=(28, 28, 1),
                              hidden=(500, 500), seed: int | None = None,
                              name: str = "generator") -> keras.Model:
    """Noise -> Dense, softplus, batch norm (per hidden layer) -> tanh pixels: the Improved-GAN
    MNIST generator (Salimans et al., 2016), about 1/70 of a DCGAN G's multiply-adds."""
    h, w, c = _check_shape(image_shape)
    seeds = layer_seeds(seed, name)
    z = keras.Input((latent_dim,), name="noise")
    x = z
    for units in hidden:
        x = layers.Dense(units, activation="softplus",
                         kernel_initializer=keras.initializers.HeNormal(next(seeds)))(x)
        x = normalization("batch")(x)
    x = layers.Dense(h * w * c,
                     kernel_initializer=keras.initializers.GlorotUniform(next(seeds)))(x)
    return keras.Model(z, image_output(layers.Reshape((h, w, c))(x)), name=name)
