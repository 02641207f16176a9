"""FusedBatchNormalization: Keras's BatchNormalization maths on TensorFlow's fused kernel."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import ganlib  # noqa: F401  (registers the layer for load_model)
from ganlib.models.blocks import normalization
from ganlib.models.fused_batch_norm import FusedBatchNormalization


def _pair(shape, dtype="float32", **kwargs):
    """A Keras BatchNormalization and a FusedBatchNormalization with the same weights."""
    rng = np.random.default_rng(0)
    keras_bn = layers.BatchNormalization(momentum=0.9, dtype=dtype, **kwargs)
    fused = FusedBatchNormalization(momentum=0.9, dtype=dtype, **kwargs)
    for layer in (keras_bn, fused):
        layer.build(shape)
    for name in ("gamma", "beta"):
        value = rng.normal(1.0 if name == "gamma" else 0.0, 0.5, shape[-1]).astype("float32")
        for layer in (keras_bn, fused):
            if getattr(layer, name) is not None:
                getattr(layer, name).assign(value)
    return keras_bn, fused


def _train_pass(layer, x, dy):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
    grads = tape.gradient(y, [x, *layer.trainable_variables], output_gradients=dy)
    return [y, *grads, layer.moving_mean, layer.moving_variance]


@pytest.mark.parametrize("shape", [(16, 5, 6, 8), (16, 8)])
@pytest.mark.parametrize("policy, atol", [("float32", 2e-5), ("mixed_bfloat16", 2e-2)])
def test_training_pass_matches_keras_batch_norm(shape, policy, atol):
    """Output, gradients to input, gamma and beta, and both moving averages (after two
    steps) agree with Keras's layer; the output keeps the policy's compute dtype."""
    keras_bn, fused = _pair(shape, policy)
    rng = np.random.default_rng(1)
    for _ in range(2):
        x = tf.cast(rng.normal(1.0, 3.0, shape).astype("float32"), keras_bn.compute_dtype)
        dy = tf.cast(rng.normal(0.0, 1.0, shape).astype("float32"), keras_bn.compute_dtype)
        expected, got = _train_pass(keras_bn, x, dy), _train_pass(fused, x, dy)
    assert got[0].dtype == keras_bn.compute_dtype
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(np.float32(g), np.float32(e), atol=atol, rtol=atol)
    x = tf.cast(rng.normal(size=shape).astype("float32"), keras_bn.compute_dtype)
    np.testing.assert_allclose(np.float32(fused(x, training=False)),
                               np.float32(keras_bn(x, training=False)), atol=atol)


def test_without_scale_or_centre():
    keras_bn, fused = _pair((8, 4, 4, 3), scale=False, center=False)
    x = tf.random.normal((8, 4, 4, 3))
    dy = tf.random.normal((8, 4, 4, 3))
    for e, g in zip(_train_pass(keras_bn, x, dy), _train_pass(fused, x, dy), strict=True):
        np.testing.assert_allclose(g.numpy(), e.numpy(), atol=2e-5)


def test_other_cases_use_keras_code():
    """Inference, masks, renorm, synchronised statistics and other ranks are Keras's own."""
    x4, x3 = tf.zeros((2, 3, 3, 4)), tf.zeros((2, 3, 4))
    layer = FusedBatchNormalization()
    assert layer._fusable(x4, True, None)
    assert not layer._fusable(x4, False, None)
    assert not layer._fusable(x3, True, None)
    assert not layer._fusable(x4, True, tf.ones((2, 3, 3)))
    assert not FusedBatchNormalization(synchronized=True)._fusable(x4, True, None)
    assert not FusedBatchNormalization(renorm=True)._fusable(x4, True, None)
    assert not FusedBatchNormalization(axis=1)._fusable(x4, True, None)
    frozen = FusedBatchNormalization()
    frozen.trainable = False
    assert not frozen._fusable(x4, True, None)


def _op_types(layer, jit_compile):
    """The op types of a traced training pass of `layer`, with or without XLA."""
    fn = tf.function(lambda x: layer(x, training=True), jit_compile=jit_compile)
    graph = fn.get_concrete_function(tf.TensorSpec((8, 4, 4, 3))).graph
    return {op.type for op in graph.get_operations()}


def test_xla_gets_keras_code_and_the_same_result():
    """Under XLA the fused kernel is much slower (lesson 06's step 7x): Keras's ops there."""
    assert "FusedBatchNormV3" in _op_types(FusedBatchNormalization(), jit_compile=False)
    assert "FusedBatchNormV3" not in _op_types(FusedBatchNormalization(), jit_compile=True)
    keras_bn, fused = _pair((8, 4, 4, 3))
    x, dy = tf.random.normal((8, 4, 4, 3)), tf.random.normal((8, 4, 4, 3))
    compiled = tf.function(lambda x, dy: _train_pass(fused, x, dy), jit_compile=True)
    for e, g in zip(_train_pass(keras_bn, x, dy), compiled(x, dy), strict=True):
        np.testing.assert_allclose(g.numpy(), e.numpy(), atol=2e-5)


def test_every_batch_norm_of_ganlib_is_fused():
    assert type(normalization("batch")) is FusedBatchNormalization


def _model(bn_class):
    x = keras.Input((4, 4, 3))
    return keras.Model(x, layers.Conv2D(2, 3)(bn_class(momentum=0.9)(x)))


def test_checkpoints_of_keras_batch_norm_restore(tmp_path):
    """Runs saved before the layer was fused resume: same variables, same checkpoint keys."""
    old = _model(layers.BatchNormalization)
    for w in old.weights:
        w.assign(tf.random.normal(w.shape))
    path = tf.train.Checkpoint(model=old).write(str(tmp_path / "ckpt"))
    new = _model(FusedBatchNormalization)
    tf.train.Checkpoint(model=new).read(path).assert_consumed()
    for a, b in zip(old.weights, new.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_saved_model_file_loads(tmp_path):
    model = _model(FusedBatchNormalization)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")
    assert isinstance(loaded.layers[1], FusedBatchNormalization)
    x = np.random.default_rng(0).normal(size=(2, 4, 4, 3)).astype("float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
