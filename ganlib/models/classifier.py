"""The semi-supervised GAN's discriminator (lesson 06): a K-class classifier that is also D.

D(x) returns K class logits l(x) and the features f(x) they are read from. "Real" is not an
extra class: D calls an image real with logit logsumexp(l(x)), i.e. D(x) = Z / (Z + 1) with
Z = sum_k exp(l_k(x)) (Salimans et al., 2016). This is the K+1-class classifier with the fake
class's logit fixed at 0, which costs nothing, since adding a constant to all K+1 logits
changes no probability.

No batch norm: D sees labelled, unlabelled and generated batches in separate calls, and batch
statistics would differ between them (and from test time). Dropout and input noise regularise
it instead, which matters with 100 labels.
"""

from __future__ import annotations

import keras
from keras import layers

from .blocks import conv_block, gaussian_init, layer_seeds
from .dcgan import _check_shape


def build_classifier_discriminator(image_shape=(28, 28, 1), num_classes: int = 10,
                                   width: int = 32, dropout: float = 0.3,
                                   input_noise: float = 0.1, seed: int | None = None,
                                   name: str = "discriminator") -> keras.Model:
    """image in [-1, 1] -> [class logits (K), features]: three conv blocks, global pooling."""
    _check_shape(image_shape)
    seeds = layer_seeds(seed, name)
    image = keras.Input(image_shape, name="image")
    x = layers.GaussianNoise(input_noise, seed=next(seeds))(image) if input_noise else image
    for i, filters in enumerate((width, 2 * width, 4 * width)):
        x = conv_block(x, filters, strides=2 if i < 2 else 1, norm=False, dropout=dropout,
                       seed=next(seeds))
    features = layers.GlobalAveragePooling2D(name="features", dtype="float32")(x)
    logits = layers.Dense(num_classes, kernel_initializer=gaussian_init(next(seeds)),
                          name="class_logits", dtype="float32")(features)
    return keras.Model(image, [logits, features], name=name)


def build_mlp_classifier_discriminator(image_shape=(28, 28, 1), num_classes: int = 10,
                                       hidden=(1000, 500, 250, 250, 250),
                                       input_noise: float = 0.3, hidden_noise: float = 0.5,
                                       seed: int | None = None,
                                       name: str = "discriminator") -> keras.Model:
    """image -> [class logits, features]: the Improved-GAN MNIST D, an MLP with Gaussian noise
    on its input and after every hidden layer; the features are the last hidden layer's."""
    _check_shape(image_shape)
    seeds = layer_seeds(seed, name)
    image = keras.Input(image_shape, name="image")
    x = layers.Flatten()(image)
    x = layers.GaussianNoise(input_noise, seed=next(seeds))(x) if input_noise else x
    for units in hidden:
        x = layers.Dense(units, activation="relu",
                         kernel_initializer=keras.initializers.HeNormal(next(seeds)))(x)
        x = layers.GaussianNoise(hidden_noise, seed=next(seeds))(x) if hidden_noise else x
    features = layers.Identity(name="features", dtype="float32")(x)
    logits = layers.Dense(num_classes, name="class_logits", dtype="float32",
                          kernel_initializer=keras.initializers.GlorotUniform(next(seeds)))(features)
    return keras.Model(image, [logits, features], name=name)


def classifier_of(discriminator: keras.Model, name: str = "classifier") -> keras.Model:
    """image in [-1, 1] -> class logits, sharing the discriminator's layers (and weights)."""
    return keras.Model(discriminator.input, discriminator.outputs[0], name=name)
