import keras
import numpy as np
import pytest
import tensorflow as tf

from ganlib.losses import AdversarialLoss
from ganlib.steps import TrainStep

KEYS = {"discriminator_loss", "generator_loss", "d_real_acc", "d_fake_acc"}


def _values(variables):
    return [np.array(v.numpy(), copy=True) for v in variables]


def _moving_stats(model):
    return [w for w in model.weights if "moving" in w.path]


def test_one_step_updates_both_networks(tiny_gan, real_batch):
    g, d, step = tiny_gan()
    g_before, d_before = _values(g.trainable_variables), _values(d.trainable_variables)
    assert int(step.step.numpy()) == 0
    logs = step(real_batch)
    assert int(step.step.numpy()) == 1
    for opt in step.optimizers.values():
        assert int(opt.iterations.numpy()) == 1
    for before, model in ((g_before, g), (d_before, d)):
        changed = [not np.array_equal(a, v.numpy())
                   for a, v in zip(before, model.trainable_variables)]
        assert all(changed), f"{model.name}: some trainable weights did not move"
    step(real_batch)
    assert int(step.step.numpy()) == 2
    assert all(int(o.iterations.numpy()) == 2 for o in step.optimizers.values())
    assert set(logs) == KEYS


def test_logs_are_finite_scalars(tiny_gan, real_batch):
    _, _, step = tiny_gan()
    logs = step(real_batch)
    assert set(logs) == KEYS
    for k, v in logs.items():
        assert isinstance(v, tf.Tensor) and v.shape == () and v.dtype == tf.float32, k
        assert np.isfinite(v.numpy()), k
    for k in ("d_real_acc", "d_fake_acc"):
        assert 0.0 <= float(logs[k]) <= 1.0
    assert float(logs["discriminator_loss"]) > 0 and float(logs["generator_loss"]) > 0


def test_batch_norm_statistics_move_in_training(tiny_gan, real_batch):
    g, d, step = tiny_gan()
    g_stats, d_stats = _moving_stats(g), _moving_stats(d)
    assert g_stats and d_stats
    g_before, d_before = _values(g_stats), _values(d_stats)
    step(real_batch)
    for before, stats in ((g_before, g_stats), (d_before, d_stats)):
        assert all(not np.array_equal(a, v.numpy()) for a, v in zip(before, stats))


def test_no_retracing(tiny_gan, real_batch):
    _, _, step = tiny_gan()
    step(real_batch)
    assert step._fn.experimental_get_tracing_count() == 1
    for i in range(4):
        step(real_batch + 0.01 * i)
    assert step._fn.experimental_get_tracing_count() == 1
    assert int(step.step.numpy()) == 5


def test_same_seed_same_first_losses(tiny_gan, real_batch):
    first = {k: float(v) for k, v in tiny_gan(seed=3)[2](real_batch).items()}
    second = {k: float(v) for k, v in tiny_gan(seed=3)[2](real_batch).items()}
    for k in KEYS:
        np.testing.assert_allclose(first[k], second[k], rtol=0, atol=1e-6)
    other = {k: float(v) for k, v in tiny_gan(seed=4)[2](real_batch).items()}
    assert other["generator_loss"] != first["generator_loss"]


def test_noise_depends_on_the_step_counter(tiny_gan, real_batch):
    """Noise is drawn from (seed, step): the same weights at another step see other noise."""
    _, _, a = tiny_gan(seed=0)
    _, _, b = tiny_gan(seed=0)
    b.step.assign(7)
    assert float(a(real_batch)["generator_loss"]) != float(b(real_batch)["generator_loss"])
    assert int(b.step.numpy()) == 8


def test_jit_compile_runs(tiny_gan, real_batch):
    g, _, step = tiny_gan(jit_compile=True)
    before = _values(g.trainable_variables)
    for _ in range(2):
        logs = step(real_batch)
    assert set(logs) == KEYS and all(np.isfinite(v.numpy()) for v in logs.values())
    assert int(step.step.numpy()) == 2
    assert not np.array_equal(before[0], g.trainable_variables[0].numpy())


@pytest.mark.parametrize("loss", [AdversarialLoss("least_squares"),
                                  AdversarialLoss(real_label=0.9, flip_prob=0.1)])
def test_other_losses_train(tiny_gan, real_batch, loss):
    _, _, step = tiny_gan(loss=loss)
    logs = step(real_batch)
    assert all(np.isfinite(v.numpy()) for v in logs.values())


def test_optimizer_for_unknown_network():
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="unknown networks"):
        TrainStep({"a": net}, {"b": keras.optimizers.SGD()})


def test_trackables_hold_models_optimizers_and_counter(tiny_gan):
    g, d, step = tiny_gan()
    objs = step.trackables()
    assert objs["net_generator"] is g and objs["net_discriminator"] is d
    assert objs["opt_generator"] is step.optimizers["generator"]
    assert objs["step"] is step.step


def test_a_loss_is_logged_nan_once_its_network_holds_nan():
    """In a tf.function, oneDNN's fused batch norm + ReLU turns a NaN input into zeros, so a
    generator whose first kernel is NaN can still produce finite images and losses; the step
    reports the loss of a network with a non-finite weight as NaN, for the watchdog."""
    from ganlib.steps.base import nan_unless_finite

    finite, seed = tf.Variable([1.0, 2.0]), tf.Variable([3], dtype=tf.int64)
    assert float(nan_unless_finite(tf.constant(0.5), [finite, seed])) == 0.5
    for bad in (np.nan, np.inf):
        broken = tf.Variable([1.0, bad])
        assert np.isnan(float(nan_unless_finite(tf.constant(0.5), [finite, broken])))


def test_a_nan_kernel_shows_in_the_generator_loss(tiny_gan, real_batch):
    g, _, step = tiny_gan()
    step(real_batch)
    kernel = g.weights[0]
    kernel.assign(np.full(kernel.shape, np.nan, "f4"))
    logs = step(real_batch)
    assert np.isnan(float(logs["generator_loss"]))
