"""Class-conditional G and D (lesson 03): both take two inputs, the second an integer label.

G(noise, label): a learned embedding of the label is concatenated with the noise and fed to a
DCGAN generator, so the first Dense layer adds a per-class offset to everything G draws.

D(image, label), a projection discriminator (Miyato and Koyama, 2018): a DCGAN discriminator
computes features h(x) and its usual logit w.h(x) + b ("is this a real sign?"); the label adds
e_y.h(x), the inner product of h(x) with a learned vector per class ("is it a real sign *of
this class*?"). A sign of the wrong class gets a low logit, so G must draw the class it is
asked for.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from .blocks import layer_seeds
from .dcgan import build_dcgan_discriminator, build_dcgan_generator


def _label_input() -> keras.KerasTensor:
    return keras.Input((), dtype="int32", name="label")


def build_conditional_generator(latent_dim: int = 64, num_classes: int = 4,
                                image_shape=(32, 32, 3), width: int = 32, embed_dim: int = 16,
                                seed: int | None = None, name: str = "generator") -> keras.Model:
    """[noise, label] -> image. The body is a DCGAN generator of noise + label embedding."""
    noise = keras.Input((latent_dim,), name="noise")
    label = _label_input()
    # Small at first (noise is N(0, 1)): G learns to use the noise before the label can
    # drown it. Started as loud as the noise, the label set each class's look on its own and
    # G drew one sign per class whatever the noise (mode collapse).
    seeds = layer_seeds(seed, name)
    embedding = layers.Embedding(num_classes, embed_dim, name="label_embedding",
                                 embeddings_initializer=keras.initializers.RandomNormal(
                                     stddev=0.1, seed=next(seeds)))(label)
    body = build_dcgan_generator(latent_dim + embed_dim, image_shape, width, seed=next(seeds),
                                 name="generator_body")
    x = layers.Concatenate(name="noise_and_label")([noise, embedding])
    return keras.Model([noise, label], body(x), name=name)


def build_projection_discriminator(image_shape=(32, 32, 3), num_classes: int = 4,
                                   width: int = 32, dropout: float = 0.0,
                                   seed: int | None = None,
                                   name: str = "discriminator") -> keras.Model:
    """[image, label] -> logit = w.h(x) + b + e_label.h(x), h(x) a DCGAN D's features."""
    seeds = layer_seeds(seed, name)
    body = build_dcgan_discriminator(image_shape, width, dropout=dropout, seed=next(seeds),
                                     name="discriminator_body")
    # the same layers, also handing out the features the final Dense layer reads
    body = keras.Model(body.inputs, [body.get_layer("logit").input, body.output],
                       name="discriminator_body")
    image = keras.Input(image_shape, name="image")
    label = _label_input()
    features, logit = body(image)
    class_vector = layers.Embedding(num_classes, features.shape[-1], name="class_projection",
                                    embeddings_initializer=keras.initializers.RandomNormal(
                                        stddev=0.02, seed=next(seeds)))(label)
    projection = layers.Dot(axes=1, name="projection")([class_vector, features])
    logit = layers.Add(name="logit", dtype="float32")([logit, projection])
    return keras.Model([image, label], logit, name=name)


def num_classes_of(generator: keras.Model) -> int:
    """How many classes a conditional generator was built for."""
    return int(generator.get_layer("label_embedding").input_dim)


def check_labels(labels, num_classes: int, class_names=()) -> np.ndarray:
    """Labels as int32, or a clear error if any is outside 0..num_classes-1."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D array of integers, got {labels.dtype} "
                         f"{labels.shape}.")
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if len(bad):
        names = f" ({', '.join(class_names)})" if class_names else ""
        raise ValueError(f"label {int(bad[0])} is out of range: this generator knows "
                         f"{num_classes} classes, 0..{num_classes - 1}{names}.")
    return labels.astype(np.int32)


def generate(generator: keras.Model, labels, seed: int = 0, noise=None,
             batch_size: int = 500) -> np.ndarray:
    """Images in [-1, 1] of the given classes, from seeded (or the given) noise."""
    labels = check_labels(labels, num_classes_of(generator))
    if noise is None:
        latent_dim = int(generator.inputs[0].shape[-1])
        noise = np.random.default_rng(seed).standard_normal((len(labels), latent_dim))
    return generator.predict([np.asarray(noise, np.float32), labels], batch_size=batch_size,
                             verbose=0)


def class_interpolation(generator: keras.Model, noise, label_a: int, label_b: int,
                        steps: int = 8) -> np.ndarray:
    """Images for one noise vector as the label embedding slides from class a to class b.

    Returns steps x H x W x C in [-1, 1]. The generator's body sees noise + embedding, so a
    point between two class embeddings is a valid input even though no label names it.
    """
    num_classes = num_classes_of(generator)
    check_labels([label_a, label_b], num_classes)
    table = keras.ops.convert_to_numpy(generator.get_layer("label_embedding").embeddings)
    t = np.linspace(0.0, 1.0, steps, dtype=np.float32)[:, None]
    embedded = (1 - t) * table[label_a] + t * table[label_b]
    noise = np.repeat(np.asarray(noise, np.float32).reshape(1, -1), steps, axis=0)
    body = generator.get_layer("generator_body")
    return keras.ops.convert_to_numpy(body(np.concatenate([noise, embedded], 1), training=False))
