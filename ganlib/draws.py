"""The random draws a `losses()` makes, one small named function each.

Every draw is stateless (seeded by the step's `seed`), and a per-example draw of `rows` rows
takes this replica's rows of one draw over the global batch (`distribute.replica_rows`), so
example i gets the same noise on one device or on eight. `TrainStep` offers them as methods:
`self.normal([n, 64], seed)`.
"""

from __future__ import annotations

import tensorflow as tf

from .distribute import replica_rows


def split(seed, n: int) -> list:
    """`n` independent seeds made from `seed`, one for each draw of a step."""
    return tf.unstack(tf.random.experimental.stateless_split(seed, n))


def normal(shape, seed):
    """N(0, 1) noise of `shape` = [rows, ...], one row per example."""
    rows, rest = shape[0], list(shape[1:])
    return replica_rows(lambda m: tf.random.stateless_normal([m, *rest], seed), rows)


def uniform(shape, seed, low: float = 0.0, high: float = 1.0):
    """Uniform floats in [low, high) of `shape` = [rows, ...], one row per example."""
    rows, rest = shape[0], list(shape[1:])
    return replica_rows(lambda m: tf.random.stateless_uniform([m, *rest], seed, low, high),
                        rows)


def integers(rows, seed, low: int, high: int):
    """One whole number per example, uniform in [low, high): a class label, say."""
    return replica_rows(lambda m: tf.random.stateless_uniform(
        [m], seed, low, high, dtype=tf.int32), rows)
