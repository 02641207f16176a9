"""Lesson 09: the Wasserstein and hinge losses, the gradient penalty, critic steps, spectral
normalisation, and the lesson's runs and comparison."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_output import last_json

from ganlib import cli, lessons
from ganlib.lessons import gan_losses
from ganlib.losses import AdversarialLoss, gradient_penalty
from ganlib.models import build_dcgan_discriminator, build_dcgan_generator
from ganlib.steps import GANStep
from ganlib.watchdog import Watchdog

SEED = tf.constant([3, 4], tf.int64)


def col(*values):
    return tf.constant(values, tf.float32)[:, None]


# --- the losses -------------------------------------------------------------------------------
def test_wasserstein_values():
    loss = AdversarialLoss("wasserstein")
    real, fake = col(2.0, -1.0), col(0.5, 3.0)
    np.testing.assert_allclose(loss.discriminator(real, fake), [0.5 - 2.0, 3.0 + 1.0])
    np.testing.assert_allclose(loss.generator(fake), [-0.5, -3.0])


def test_hinge_values():
    loss = AdversarialLoss("hinge")
    real, fake = col(2.0, 0.25), col(-3.0, 0.5)
    # reals past the margin (score > 1) and fakes past it (< -1) cost D nothing
    np.testing.assert_allclose(loss.discriminator(real, fake), [0.0, 0.75 + 1.5])
    np.testing.assert_allclose(loss.generator(fake), [3.0, -0.5])


@pytest.mark.parametrize("kind", ["wasserstein", "hinge"])
@pytest.mark.parametrize("option", [{"real_label": 0.9}, {"flip_prob": 0.05}])
def test_score_losses_refuse_label_options(kind, option):
    with pytest.raises(ValueError, match="no labels to smooth or flip"):
        AdversarialLoss(kind, **option)


def test_gradient_penalty_of_a_linear_critic():
    """For D(x) = w.x the gradient is w everywhere, so the penalty is (|w| - 1)^2 exactly,
    whatever the interpolation weights."""
    w = np.arange(1, 2 * 2 * 1 + 1, dtype="f4").reshape(2, 2, 1) / 4.0  # |w| = sqrt(30) / 4

    def critic(x, training=False):
        return tf.reduce_sum(x * w, axis=[1, 2, 3])[:, None]

    real, fake = tf.random.normal([5, 2, 2, 1]), tf.random.normal([5, 2, 2, 1])
    penalty = gradient_penalty(critic, real, fake, SEED).numpy()
    np.testing.assert_allclose(penalty, np.full(5, (np.sqrt(30) / 4 - 1) ** 2), rtol=1e-5)


def test_gradient_penalty_interpolates_per_example():
    """The critic sees points between each real and fake image, each at a weight of its own,
    uniform in [0, 1]."""
    seen = []

    def critic(x, training=False):
        seen.append(x)
        return tf.reduce_sum(x, axis=[1, 2, 3])[:, None]

    real, fake = tf.ones([64, 1, 1, 1]), tf.zeros([64, 1, 1, 1])
    gradient_penalty(critic, real, fake, SEED)
    e = seen[0].numpy().ravel()  # x = e * 1 + (1 - e) * 0
    assert ((e >= 0) & (e <= 1)).all()
    assert len(np.unique(e)) == 64 and 0.3 < e.mean() < 0.7


# --- the step ---------------------------------------------------------------------------------
def tiny(loss="non_saturating", critic_steps=1, gradient_penalty=0.0, norm="batch",
         spectral_norm=False, jit_compile=False):
    keras.utils.set_random_seed(0)
    g = build_dcgan_generator(8, (28, 28, 1), width=8)
    d = build_dcgan_discriminator((28, 28, 1), width=8, norm=norm, spectral_norm=spectral_norm)
    step = GANStep(g, d, g_optimizer=keras.optimizers.Adam(1e-3),
                   d_optimizer=keras.optimizers.Adam(1e-3), loss=AdversarialLoss(loss),
                   critic_steps=critic_steps, gradient_penalty=gradient_penalty,
                   jit_compile=jit_compile)
    return g, d, step


@pytest.mark.parametrize("jit", [False, True])
def test_critic_steps_update_d_more_often(jit):
    g, d, step = tiny("wasserstein", critic_steps=3, gradient_penalty=10.0, norm="layer",
                      jit_compile=jit)
    before = [w.numpy().copy() for w in g.trainable_variables]
    logs = step(tf.random.uniform([3 * 4, 28, 28, 1], -1, 1))
    assert int(step.optimizers["discriminator"].iterations) == 3
    assert int(step.optimizers["generator"].iterations) == 1
    assert int(step.step) == 1
    assert any(not np.allclose(a, w.numpy()) for a, w in zip(before, g.trainable_variables))
    assert logs["gradient_penalty"].numpy() > 0 and np.isfinite(logs["discriminator_loss"])


def test_critic_steps_need_a_batch_that_splits():
    _, _, step = tiny("wasserstein", critic_steps=3)
    with pytest.raises(ValueError, match="batch of 8 does not split into the 3 parts"):
        step(tf.zeros([8, 28, 28, 1]))


def test_bad_repeats_and_penalty():
    with pytest.raises(ValueError, match="at least 1 update"):
        tiny(critic_steps=0)
    with pytest.raises(ValueError, match="gradient_penalty"):
        tiny(gradient_penalty=-1.0)


def test_the_penalty_alone_brings_the_critic_slope_to_one():
    """A critic trained on the penalty alone ends with gradient norms near 1 between the
    two batches (it starts near 0: N(0, 0.02) weights give a flat critic)."""
    keras.utils.set_random_seed(0)
    d = build_dcgan_discriminator((28, 28, 1), width=8, norm="layer")
    opt = keras.optimizers.Adam(1e-3)
    real = tf.random.uniform([16, 28, 28, 1], -1, 1)
    fake = tf.random.uniform([16, 28, 28, 1], -1, 1)

    @tf.function
    def train(seed):
        with tf.GradientTape() as tape:
            penalty = tf.reduce_mean(gradient_penalty(d, real, fake, seed))
        opt.apply_gradients(zip(tape.gradient(penalty, d.trainable_variables),
                                d.trainable_variables))
        return penalty

    first = float(train(tf.constant([0, 0], tf.int64)))
    for i in range(1, 150):
        last = float(train(tf.constant([0, i], tf.int64)))
    assert first > 0.5 and last < 0.05  # |grad| within about 0.2 of 1


def test_spectral_norm_bounds_each_layer():
    """After a training call, every wrapped kernel's largest singular value is about 1."""
    _, d, step = tiny("hinge", spectral_norm=True, norm="none")
    for _ in range(5):  # the power iteration converges over calls
        step(tf.random.uniform([8, 28, 28, 1], -1, 1))
    wrapped = [layer for layer in d.layers
               if isinstance(layer, keras.layers.SpectralNormalization)]
    assert len(wrapped) == 3  # two convolutions and the logit
    for layer in wrapped:
        kernel = layer.layer.kernel.numpy()
        sigma = np.linalg.svd(kernel.reshape(-1, kernel.shape[-1]), compute_uv=False)[0]
        assert sigma == pytest.approx(1.0, abs=0.1)
    assert d.output.dtype == "float32"


def test_layer_norm_discriminator_has_no_batch_norm():
    _, d, _ = tiny(norm="layer")
    kinds = {type(layer).__name__ for layer in d.layers}
    assert "GroupNormalization" in kinds and "BatchNormalization" not in kinds


# --- the watchdog -----------------------------------------------------------------------------
def test_watchdog_leaves_a_negative_critic_loss_alone():
    limits = AdversarialLoss("wasserstein").watchdog_limits()
    dog = Watchdog(patience=3, **limits)
    for _ in range(10):
        assert dog.diagnose({"discriminator_loss": -50.0, "generator_loss": 80.0}) == ""
    assert "non-finite" in dog.diagnose({"discriminator_loss": float("nan")})
    default = Watchdog(patience=3)
    for _ in range(3):
        reason = default.diagnose({"discriminator_loss": -50.0, "generator_loss": 0.5})
    assert "D has won" in reason  # what the limits prevent


# --- the lesson -------------------------------------------------------------------------------
def test_variants_change_only_their_papers_settings():
    base = gan_losses.variant("non_saturating")
    assert (base.loss, base.lr, base.beta_1, base.critic_steps) == ("non_saturating", 2e-4,
                                                                    0.5, 1)
    assert gan_losses.Config() == gan_losses.variant("non_saturating")  # the default
    for name in gan_losses.VARIANTS:
        assert gan_losses.name_of(gan_losses.variant(name)) == name
    assert gan_losses.name_of(gan_losses.variant("hinge", lr=1e-3)) == "custom"
    with pytest.raises(ValueError, match="Unknown variant"):
        gan_losses.variant("wgan")
    with pytest.raises(ValueError, match="d_norm"):
        gan_losses.Config(d_norm="group")
    with pytest.raises(ValueError, match="no labels"):
        gan_losses.variant("wgan_gp", real_label=0.9)  # a critic has no labels


def test_compare_smoke(tmp_path):
    rows = gan_losses.compare(["wgan_gp", "hinge_sn"], seeds=(0,), out_dir=tmp_path, smoke=True,
                            evaluations=3, n_curve=200, n_final=300)
    assert [r["variant"] for r in rows] == ["wgan_gp", "hinge_sn"]
    smoke = gan_losses.variant("wgan_gp").smoke()
    for r in rows:
        assert r["steps"] == smoke.steps and r["rollbacks"] == 0
        assert [c[1] for c in r["curve"]] == [20, 40, 60]
        seconds = [c[0] for c in r["curve"]]
        assert seconds == sorted(seconds) and r["train_seconds"] >= seconds[-1]
        assert np.isfinite(r["fid"]) and r["curve"][-1][2] < 0.8 * r["curve"][0][2]  # learning
    assert rows[0]["d_updates"] == 5 * rows[0]["steps"]
    # the last checkpoint is saved and resumes: the run trained to its step budget
    run = gan_losses.build(smoke, tmp_path / "wgan_gp-seed0", keep_best=False)
    assert lessons.restore(run) == smoke.steps
    summary = gan_losses.summary(rows)
    assert set(summary) == {"wgan_gp", "hinge_sn"} and summary["wgan_gp"]["runs"] == 1


def test_cli_trains_a_variant_with_set(tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["train", "gan_losses", "--out", str(out), "--smoke", "--variant", "hinge_sn",
                     "--set", "width=8", "--set", "steps=12", "--set", "ema_decay=null"])
    assert code == 0, capsys.readouterr().err
    assert last_json(capsys.readouterr().out)["step"] == 12
    saved = json.loads((out / "config.json").read_text())
    assert (saved["lesson"], saved["loss"], saved["spectral_norm"], saved["width"],
            saved["ema_decay"]) == ("gan_losses", "hinge", True, 8, None)


@pytest.mark.parametrize("argv, message", [
    (["--set", "widht=8"], "KEY=VALUE with KEY one of"),
    (["--set", "width"], "KEY=VALUE"),
    (["--set", "width=wide"], "width takes a int"),
    (["--set", "spectral_norm=1"], "spectral_norm takes a bool"),
    (["--variant", "wgan"], "Unknown variant"),
])
def test_cli_bad_settings(tmp_path, capsys, argv, message):
    code = cli.main(["train", "gan_losses", "--out", str(tmp_path / "run"), "--smoke", *argv])
    assert code == 2 and message in capsys.readouterr().err


def test_cli_variant_only_for_losses(tmp_path, capsys):
    code = cli.main(["train", "dcgan", "--out", str(tmp_path / "run"), "--smoke",
                     "--variant", "hinge"])
    assert code == 2 and "no --variant option" in capsys.readouterr().err
