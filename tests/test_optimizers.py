"""FusedAdam: Keras's Adam, the same updates from TensorFlow's fused kernel."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganlib  # noqa: F401  (registers FusedAdam for deserialisation)
from ganlib.lessons import dcgan
from ganlib.optimizers import FusedAdam, HoldThenLinearDecay
from ganlib.precision import with_loss_scaling


def _variables(seed=0):
    rng = np.random.default_rng(seed)
    return [keras.Variable(rng.normal(size=shape).astype("float32"), name=f"w{i}")
            for i, shape in enumerate([(3, 4), (4,), (2, 2, 3, 5)])]


def _gradients(variables, step):
    rng = np.random.default_rng(100 + step)
    return [tf.constant(rng.normal(size=v.shape).astype("float32")) for v in variables]


def _train(optimizer, steps=5, compiled=False):
    variables = _variables()
    optimizer.build(variables)

    def apply(grads):
        optimizer.apply(grads, variables)

    if compiled:
        apply = tf.function(apply, jit_compile=compiled == "xla")
    for step in range(steps):
        apply(_gradients(variables, step))
    return [v.numpy() for v in variables + optimizer.variables]


def _assert_same(expected, got, atol=1e-6):
    assert len(expected) == len(got)
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_allclose(g, e, atol=atol, rtol=1e-5)


@pytest.mark.parametrize("compiled", [False, True, "xla"])
@pytest.mark.parametrize("kwargs", [dict(learning_rate=1e-2, beta_1=0.5),
                                    dict(learning_rate=3e-3, beta_1=0.0, beta_2=0.9,
                                         epsilon=1e-4)])
def test_same_weights_and_moments_as_keras_adam(kwargs, compiled):
    """Weights, both moments and the iteration count after five steps, eager, in a
    tf.function and under XLA."""
    keras_adam = _train(keras.optimizers.Adam(**kwargs), compiled=compiled)
    fused = _train(FusedAdam(**kwargs), compiled=compiled)
    assert not np.allclose(keras_adam[0], _variables()[0].numpy())  # the weights did move
    _assert_same(keras_adam, fused)


def test_learning_rate_schedule_clipping_and_weight_decay_are_keras_s():
    def options():
        schedule = keras.optimizers.schedules.ExponentialDecay(1e-2, 2, 0.5)
        return dict(learning_rate=schedule, clipnorm=0.5, weight_decay=0.1)

    _assert_same(_train(keras.optimizers.Adam(**options())), _train(FusedAdam(**options())))


def test_loss_scaling_wraps_it_unchanged():
    def scaled(optimizer):
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, initial_scale=2.0**4)
        variables = _variables()
        optimizer.build(variables)
        for step in range(3):  # the gradients of a loss scaled by 16
            optimizer.apply([g * 16.0 for g in _gradients(variables, step)], variables)
        return [v.numpy() for v in variables]

    _assert_same(scaled(keras.optimizers.Adam(1e-2)), scaled(FusedAdam(1e-2)))


def test_amsgrad_uses_keras_update():
    _assert_same(_train(keras.optimizers.Adam(1e-2, amsgrad=True)),
                 _train(FusedAdam(1e-2, amsgrad=True)))


def test_a_keras_adam_checkpoint_restores(tmp_path):
    variables = _variables()
    keras_adam = keras.optimizers.Adam(1e-2)
    keras_adam.build(variables)
    keras_adam.apply(_gradients(variables, 0), variables)
    path = tf.train.Checkpoint(opt=keras_adam).write(str(tmp_path / "ckpt"))
    fused = FusedAdam(1e-2)
    fused.build(_variables())
    tf.train.Checkpoint(opt=fused).read(path).assert_consumed()
    _assert_same([v.numpy() for v in keras_adam.variables], [v.numpy() for v in fused.variables])


def test_config_round_trip():
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(FusedAdam(2e-4, 0.5)))
    assert type(restored) is FusedAdam and restored.beta_1 == 0.5


def test_lessons_train_with_it(tmp_path):
    run = dcgan.build(dcgan.Config().smoke(), run_dir=tmp_path / "run", fresh=True)
    optimizers = run.trainer.step.optimizers
    assert {type(o) for o in optimizers.values()} == {FusedAdam}
    assert type(with_loss_scaling(FusedAdam())) is FusedAdam  # float32: no wrapper


def test_hold_then_linear_decay_holds_then_falls_to_zero():
    factor = HoldThenLinearDecay(total_steps=100, hold=0.5)
    got = [float(factor(step)) for step in (0, 50, 75, 99, 100, 120)]
    np.testing.assert_allclose(got, [1, 1, 0.5, 0.02, 0, 0], atol=1e-6)
    with pytest.raises(ValueError, match="hold must be a share"):
        HoldThenLinearDecay(100, hold=1.0)
    with pytest.raises(ValueError, match="positive step budget"):
        HoldThenLinearDecay(None)


def test_decay_scales_each_update_and_keeps_the_watchdogs_cut():
    """FusedAdam(decay=) makes the updates Keras's Adam makes when its rate is set to the
    decayed one before each step, also after the rate is halved (as the watchdog does) on the
    way; the rate itself stays the undecayed variable a checkpoint holds."""
    decay = HoldThenLinearDecay(total_steps=6, hold=1 / 3)
    fused, keras_adam = FusedAdam(1e-2, decay=decay), keras.optimizers.Adam(1e-2)
    runs = {"fused": (fused, _variables()), "keras": (keras_adam, _variables())}
    for opt, variables in runs.values():
        opt.build(variables)
    rates = []
    for step in range(6):
        if step == 3:
            fused.learning_rate = float(fused.learning_rate) * 0.5
        base = 1e-2 * (0.5 if step >= 3 else 1.0)
        keras_adam.learning_rate = base * float(decay(step))
        rates.append(float(fused.current_learning_rate()))
        for opt, variables in runs.values():
            opt.apply(_gradients(variables, step), variables)
    np.testing.assert_allclose(rates, 1e-2 * np.array([1, 1, 1, 0.75 / 2, 0.5 / 2, 0.25 / 2]),
                               rtol=1e-6)
    assert float(fused.learning_rate) == pytest.approx(5e-3)
    assert float(fused.current_learning_rate()) == 0.0  # step 6 of 6
    _assert_same([v.numpy() for v in runs["keras"][1]], [v.numpy() for v in runs["fused"][1]])
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(fused))
    assert restored.decay.get_config() == {"total_steps": 6, "hold": 1 / 3}
    assert FusedAdam().get_config()["decay"] is None
