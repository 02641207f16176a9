"""InfoGAN's generator and discriminator (lesson 04): a latent code G must keep readable.

InfoGAN (Chen et al., 2016) splits G's input into noise z and a code c: here one categorical
code (which of `num_categories`, one-hot) and `num_continuous` codes uniform in [-1, 1]. A
network Q reads c back from G's image; training maximises a lower bound on the mutual
information I(c; G(z, c)), so G must make each code visible in the image, and without labels
the categorical code tends to pick the biggest factor of variation: the class.

Q shares D's whole body and adds a small head, so it costs one Dense layer more than a DCGAN
D: D(image) -> [real/fake logit, category logits, continuous means, continuous log-stds].
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from .blocks import gaussian_init, layer_seeds
from .conditional import check_labels
from .dcgan import build_dcgan_discriminator, build_dcgan_generator

# D's outputs, in order
OUTPUTS = ("logit", "category_logits", "continuous_mean", "continuous_log_std")


def build_infogan_generator(noise_dim: int = 62, num_categories: int = 10,
                            num_continuous: int = 2, image_shape=(28, 28, 1), width: int = 32,
                            seed: int | None = None, name: str = "generator") -> keras.Model:
    """[noise, category (int), continuous] -> image: a DCGAN G of noise + one-hot + codes."""
    if num_categories < 2:
        raise ValueError(f"the categorical code needs at least 2 categories, got "
                         f"{num_categories}.")
    noise = keras.Input((noise_dim,), name="noise")
    category = keras.Input((), dtype="int32", name="category")
    continuous = keras.Input((num_continuous,), name="continuous")
    one_hot = layers.CategoryEncoding(num_categories, output_mode="one_hot",
                                      name="category_one_hot")(category)
    latent = layers.Concatenate(name="latent")([noise, one_hot, continuous])
    body = build_dcgan_generator(noise_dim + num_categories + num_continuous, image_shape,
                                 width, seed=seed, name="generator_body")
    return keras.Model([noise, category, continuous], body(latent), name=name)


def build_infogan_discriminator(image_shape=(28, 28, 1), num_categories: int = 10,
                                num_continuous: int = 2, width: int = 32, q_units: int = 128,
                                dropout: float = 0.0, seed: int | None = None,
                                name: str = "discriminator") -> keras.Model:
    """image -> [logit, category_logits, continuous_mean, continuous_log_std] on a DCGAN D's
    features; Q is one hidden layer of `q_units` on those features, then the three heads."""
    seeds = layer_seeds(seed, name)
    dcgan = build_dcgan_discriminator(image_shape, width, dropout=dropout, seed=next(seeds))
    features = dcgan.get_layer("logit").input
    h = layers.Dense(q_units, kernel_initializer=gaussian_init(next(seeds)),
                     name="q_hidden")(features)
    h = layers.LeakyReLU(0.2, name="q_lrelu")(h)
    heads = [layers.Dense(n, kernel_initializer=gaussian_init(next(seeds)), name=out,
                          dtype="float32")(h)
             for out, n in zip(OUTPUTS[1:], (num_categories, num_continuous, num_continuous))]
    return keras.Model(dcgan.input, [dcgan.output, *heads], name=name)


def code_sizes(generator: keras.Model) -> tuple[int, int, int]:
    """(noise_dim, num_categories, num_continuous) of an InfoGAN generator."""
    noise, _, continuous = generator.inputs
    categories = generator.get_layer("category_one_hot").num_tokens
    return int(noise.shape[-1]), int(categories), int(continuous.shape[-1])


def draw_codes(generator: keras.Model, n: int, seed: int = 0, categories=None,
               continuous=None) -> list[np.ndarray]:
    """G's inputs for n samples: [noise N(0, 1), categories, continuous codes], seeded.

    categories: given (checked against the generator) or drawn uniformly; continuous: given
    (n x num_continuous) or drawn uniformly in [-1, 1], the range G was trained on.
    """
    noise_dim, k, m = code_sizes(generator)
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((n, noise_dim)).astype(np.float32)
    if categories is None:
        categories = rng.integers(0, k, n)
    categories = check_labels(np.broadcast_to(np.asarray(categories), (n,)), k)
    if continuous is None:
        continuous = rng.uniform(-1, 1, (n, m))
    continuous = np.asarray(continuous, np.float32)
    if continuous.shape != (n, m):
        raise ValueError(f"continuous codes must be {n} x {m}, got {continuous.shape}.")
    return [noise, categories, continuous]


def category_sweep(generator: keras.Model, rows: int = 10, seed: int = 0) -> np.ndarray:
    """rows x K images: each row one noise vector, each column one category, continuous
    codes 0. A column that keeps one kind of garment has found a class."""
    _, k, m = code_sizes(generator)
    noise = draw_codes(generator, rows, seed)[0]
    inputs = [np.repeat(noise, k, axis=0), np.tile(np.arange(k), rows),
              np.zeros((rows * k, m), np.float32)]
    return generator.predict(inputs, batch_size=500, verbose=0)


def continuous_sweep(generator: keras.Model, index: int,
                     values=(-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2), seed: int = 0) -> np.ndarray:
    """K x len(values) images: row c is category c, continuous code `index` sweeping
    `values` (beyond the training range [-1, 1] shows whether G extrapolates), the other
    codes 0 and one noise vector throughout."""
    _, k, m = code_sizes(generator)
    if not 0 <= index < m:
        raise ValueError(f"continuous code {index} does not exist; this G has {m} (0..{m - 1}).")
    values = np.asarray(values, np.float32)
    noise = draw_codes(generator, 1, seed)[0]
    continuous = np.zeros((k * len(values), m), np.float32)
    continuous[:, index] = np.tile(values, k)
    inputs = [np.repeat(noise, k * len(values), axis=0), np.repeat(np.arange(k), len(values)),
              continuous]
    return generator.predict(inputs, batch_size=500, verbose=0)


def predict_categories(discriminator: keras.Model, images, batch_size: int = 500) -> np.ndarray:
    """Q's category (arg-max of its category logits) for images in [-1, 1]: InfoGAN's
    discriminator used as an unsupervised classifier."""
    outputs = discriminator.predict(np.asarray(images, np.float32), batch_size=batch_size,
                                    verbose=0)
    return outputs[1].argmax(-1)
