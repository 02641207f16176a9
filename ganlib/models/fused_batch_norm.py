"""Keras's BatchNormalization, trained with TensorFlow's fused batch-norm kernel.

Keras 3 computes a training batch's mean and variance, and their gradients, as a dozen
separate element-wise ops; tf.keras 2 used one fused kernel (`fused=True`), which oneDNN
runs in a pass or two over the tensor. On this course's 2-core CPU that is a sixth of the
DCGAN step (40 -> 34 ms). Same variables, same maths: the output is normalised with the
batch's biased variance and the moving averages are updated as Keras does; inference, masks,
renorm, synchronised (multi-replica) statistics and XLA-compiled steps fall back to Keras's
own code (XLA fuses that code itself; its fused batch norm made lesson 06's XLA step 7x slower).
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers

try:  # TensorFlow's own test for "traced inside an XLA-compiled function" (tf.keras used it)
    from tensorflow.python.ops.control_flow_util import GraphOrParentsInXlaContext
except ImportError:  # pragma: no cover - a TensorFlow without it: assume no XLA
    def GraphOrParentsInXlaContext(graph):  # noqa: N802 - TensorFlow's name
        return False

FUSED_DTYPES = (tf.float16, tf.bfloat16, tf.float32)


def in_xla() -> bool:
    """Whether the code being traced will be compiled by XLA (`jit_compile=True`)."""
    return bool(GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph()))


@keras.saving.register_keras_serializable("ganlib")
class FusedBatchNormalization(layers.BatchNormalization):
    """`keras.layers.BatchNormalization` whose training pass is `tf.nn.fused_batch_norm`,
    for channels-last images (rank 4) and feature vectors (rank 2)."""

    def _fusable(self, inputs, training, mask) -> bool:
        rank = len(inputs.shape)
        return bool(training and self.trainable and mask is None and not self.renorm
                    and not self.synchronized and rank in (2, 4)
                    and self.axis in (-1, rank - 1) and inputs.dtype in FUSED_DTYPES
                    and not in_xla())

    def call(self, inputs, training=None, mask=None):
        if not self._fusable(inputs, training, mask):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        x = tf.reshape(inputs, [-1, 1, 1, channels]) if len(inputs.shape) == 2 else inputs
        scale = tf.cast(self.gamma, tf.float32) if self.scale else tf.ones([channels])
        offset = tf.cast(self.beta, tf.float32) if self.center else tf.zeros([channels])
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            x, scale, offset, epsilon=self.epsilon, is_training=True)
        # the kernel normalises with the biased variance but returns the unbiased one (n - 1)
        n = tf.cast(tf.size(x) // channels, tf.float32)
        variance = variance * (n - 1.0) / n
        momentum = self.momentum
        self.moving_mean.assign(self.moving_mean * momentum + mean * (1.0 - momentum))
        self.moving_variance.assign(self.moving_variance * momentum
                                    + variance * (1.0 - momentum))
        return tf.cast(tf.reshape(y, tf.shape(inputs)), self.compute_dtype)
