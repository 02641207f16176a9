"""Multilayer perceptrons for lesson 01's 2-D points."""

from __future__ import annotations

import keras
from keras import layers

from .blocks import activate


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
