"""Lesson 10: low-resolution copies, bicubic upsampling, SRResNet, the SRGAN step, the lesson
and `translate`."""

import contextlib
import dataclasses
import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_output import last_json

from ganlib import cli, data, lessons
from ganlib.data.resolution import bicubic, low_resolution, shrink
from ganlib.lessons import srgan
from ganlib.models import build_dcgan_discriminator
from ganlib.models.srresnet import SubPixelUpsampling, build_srresnet_generator
from ganlib.steps import SRGANStep


# --- low resolution and bicubic --------------------------------------------------------------
def test_low_resolution_is_the_block_mean_on_the_8_bit_grid():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 28, 28, 1)).astype(np.uint8)
    for factor in (2, 4):
        small = low_resolution(images, factor)
        side = 28 // factor
        assert small.shape == (3, side, side, 1) and small.dtype == np.uint8
        blocks = images.reshape(3, side, factor, side, factor, 1).astype(float).mean((2, 4))
        assert np.abs(small - blocks).max() <= 0.5 + 1e-3
        # the tf.data version (in [-1, 1]) gives the same images
        in_tf = shrink(tf.constant(data.to_model_range(images)), factor).numpy()
        np.testing.assert_array_equal(data.to_uint8(in_tf), small)


def test_low_resolution_and_bicubic_refuse_bad_input():
    with pytest.raises(ValueError, match="not one of"):
        low_resolution(np.zeros((1, 28, 28, 1), np.uint8), 3)
    with pytest.raises(ValueError, match="uint8"):
        low_resolution(np.zeros((1, 28, 28, 1), np.float32), 4)
    with pytest.raises(ValueError, match="do not shrink by 4"):
        low_resolution(np.zeros((1, 30, 30, 1), np.uint8), 4)
    with pytest.raises(ValueError, match="not one of"):
        bicubic(np.zeros((1, 7, 7, 1), np.uint8), 8)


def test_bicubic_keeps_flat_images_flat_and_stays_in_range():
    flat = np.full((2, 7, 7, 1), 200, np.uint8)
    up = bicubic(flat, 4)
    assert up.shape == (2, 28, 28, 1)
    np.testing.assert_allclose(up, 200 / 127.5 - 1, atol=1e-5)
    edge = np.zeros((1, 7, 7, 1), np.uint8)
    edge[:, :, 3:] = 255
    up = bicubic(edge, 4)
    assert up.min() >= -1 and up.max() <= 1  # bicubic's overshoot is clipped


# --- SRResNet --------------------------------------------------------------------------------
def test_sub_pixel_upsampling_is_depth_to_space_and_saves(tmp_path):
    x = np.arange(2 * 3 * 3 * 8, dtype=np.float32).reshape(2, 3, 3, 8)
    layer = SubPixelUpsampling(2)
    np.testing.assert_array_equal(layer(x), tf.nn.depth_to_space(x, 2))
    assert layer.compute_output_shape((None, 3, 3, 8)) == (None, 6, 6, 2)
    g = build_srresnet_generator((7, 7, 1), 4, width=4, blocks=1, seed=0)
    g.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    low = np.random.default_rng(0).uniform(-1, 1, (2, 7, 7, 1)).astype("f4")
    np.testing.assert_allclose(loaded(low), g(low), atol=1e-6)


@pytest.mark.parametrize("shape, scale, out", [((7, 7, 1), 4, (28, 28, 1)),
                                               ((14, 14, 1), 2, (28, 28, 1)),
                                               ((8, 8, 3), 4, (32, 32, 3))])
def test_srresnet_shapes(shape, scale, out):
    g = build_srresnet_generator(shape, scale, width=4, blocks=2, norm="none", seed=0)
    y = g(np.zeros((2, *shape), np.float32))
    assert tuple(y.shape[1:]) == out and float(tf.reduce_max(tf.abs(y))) <= 1


def test_srresnet_refuses_bad_scales_and_shapes():
    with pytest.raises(ValueError, match="power of 2"):
        build_srresnet_generator((7, 7, 1), 3)
    with pytest.raises(ValueError, match="H x W x C"):
        build_srresnet_generator((7, 7))


# --- the SRGAN step --------------------------------------------------------------------------
def _features():
    keras.utils.set_random_seed(5)
    image = keras.Input((28, 28, 1))
    return keras.Model(image, keras.layers.Conv2D(4, 3, strides=2, padding="same")(image))


def _tiny_step(baseline=True, **weights):
    keras.utils.set_random_seed(0)
    g = build_srresnet_generator((7, 7, 1), 4, width=4, blocks=1, seed=0)
    d = build_dcgan_discriminator((28, 28, 1), width=4, seed=0)
    b = None
    if baseline:
        b = build_srresnet_generator((7, 7, 1), 4, width=4, blocks=1, seed=0, name="mse")
        b.set_weights(g.get_weights())
    opt = keras.optimizers.Adam
    return SRGANStep(g, d, _features(), g_optimizer=opt(1e-3), d_optimizer=opt(1e-3),
                     baseline=b, baseline_optimizer=opt(1e-3) if b else None, **weights)


def _batch(n=4):
    high = np.random.default_rng(2).uniform(-1, 1, (n, 28, 28, 1)).astype("f4")
    return shrink(high, 4), tf.constant(high)


def test_srgan_step_trains_g_d_and_the_mse_baseline_but_not_the_features():
    step = _tiny_step(content_weight=1.0, pixel_weight=0.5, adversarial_weight=0.01)
    before = {k: [w.numpy().copy() for w in n.trainable_weights] for k, n in step.networks.items()}
    frozen = [w.numpy().copy() for w in step.features.weights]
    logs = {k: float(v) for k, v in step(_batch()).items()}
    for name in ("discriminator_loss", "generator_loss", "baseline_loss", "content", "mse",
                 "baseline_mse", "d_real_acc", "d_adversarial_loss", "g_adversarial_loss"):
        assert np.isfinite(logs[name]), name
    assert logs["generator_loss"] == pytest.approx(
        logs["content"] + 0.5 * logs["mse"] + 0.01 * logs["g_adversarial_loss"], rel=1e-4)
    assert logs["baseline_loss"] == pytest.approx(logs["baseline_mse"], rel=1e-6)
    for name, net in step.networks.items():
        after = [w.numpy() for w in net.trainable_weights]
        assert any(not np.allclose(a, b) for a, b in zip(before[name], after)), name
    assert all(np.array_equal(a, b.numpy()) for a, b in zip(frozen, step.features.weights))
    assert "features" not in step.networks  # not trained, not checkpointed


def test_content_loss_is_zero_for_the_target_and_grows_with_the_error():
    step = _tiny_step(baseline=False)
    _, high = _batch()
    assert np.allclose(step.content(high, high), 0)
    near, far = step.content(high * 0.9, high), step.content(-high, high)
    assert np.all(near.numpy() > 0) and np.all(far.numpy() > near.numpy())


def test_srgan_step_learns_to_upscale():
    step = _tiny_step(baseline=False, pixel_weight=1.0, adversarial_weight=0.0)
    coarse = np.random.default_rng(1).uniform(-1, 1, (8, 4, 4, 1)).astype("f4")
    high = tf.image.resize(coarse, [28, 28])  # smooth images, which 7 x 7 copies pin down
    batch = (shrink(high, 4), high)
    first = float(step(batch)["mse"])
    for _ in range(60):
        last = float(step(batch)["mse"])
    assert last < 0.5 * first


def test_srgan_step_checks_its_weights_and_baseline():
    with pytest.raises(ValueError, match="content_weight or pixel_weight"):
        _tiny_step(content_weight=0.0, pixel_weight=0.0)
    with pytest.raises(ValueError, match=">= 0"):
        _tiny_step(adversarial_weight=-1.0)
    g = build_srresnet_generator((7, 7, 1), 4, width=4, blocks=1)
    d = build_dcgan_discriminator((28, 28, 1), width=4)
    opt = keras.optimizers.Adam
    with pytest.raises(ValueError, match="together"):
        SRGANStep(g, d, _features(), g_optimizer=opt(), d_optimizer=opt(), baseline=g)


# --- the lesson ------------------------------------------------------------------------------
def test_config_checks_factor_and_content_layer():
    with pytest.raises(ValueError, match="not one of"):
        srgan.Config(factor=3)
    with pytest.raises(ValueError, match="content_layer"):
        srgan.Config(content_layer="conv9")


def test_content_network_is_a_frozen_copy_of_the_judge():
    from ganlib import metrics

    cfg = srgan.Config(content_layer="conv2")
    features = srgan.content_network(cfg)
    assert tuple(features.output.shape[1:]) == (14, 14, 64) and not features.trainable_weights
    judge = metrics.judge("fashion_mnist")
    assert features.get_weights()[0] is not judge.get_weights()[0]
    np.testing.assert_array_equal(features.get_weights()[0], judge.get_weights()[0])


def test_lesson_smoke_run_evaluates_restores_and_translates(tmp_path):
    cfg = dataclasses.replace(srgan.Config().smoke(), steps=6, sample_every=3, checkpoint_every=3)
    run = srgan.build(cfg, tmp_path / "sr")
    assert lessons.get("srgan") is srgan
    lessons.fit(run)
    assert run.trainer.global_step == 6
    assert run.snapshots.frames[-1][1].shape == (16, 28, 28, 1)
    result = srgan.evaluate(run, n=200)
    assert result["n"] == 200 and result["factor"] == 4
    for which in ("bicubic", "mse", "srgan"):
        assert set(result[which]) >= {"l1", "psnr", "ssim", "fid", "judge_accuracy"}
    # the real images are the floor and the ceiling; bicubic beats an untrained network
    assert result["real"]["fid"] < result["bicubic"]["fid"] < result["srgan"]["fid"]
    assert result["real"]["judge_accuracy"] > 0.8 > result["srgan"]["judge_accuracy"]
    assert result["bicubic"]["psnr"] > result["srgan"]["psnr"]

    low = low_resolution(data.load("fashion_mnist", "test").x[:3], 4)
    assert srgan.translate(run, low).shape == (3, 28, 28, 1)
    assert srgan.translate(run, low, baseline=True).shape == (3, 28, 28, 1)
    with pytest.raises(ValueError, match="one way"):
        srgan.translate(run, low, direction="BtoA")
    with pytest.raises(ValueError, match="7 x 7 x 1"):
        srgan.translate(run, np.zeros((2, 14, 14, 1), np.uint8))

    # `bench all`'s metric is the evaluation's FID ratio
    ratio, details = srgan.measure(run, smoke=True)
    assert ratio == pytest.approx(details["fid"] / details["mse_fid"])

    again = srgan.build(cfg, tmp_path / "sr")
    assert lessons.restore(again) == 6
    for name in ("generator", "discriminator", "baseline"):
        for a, b in zip(again.models[name].get_weights(), run.models[name].get_weights()):
            np.testing.assert_array_equal(a, b)


def test_cli_train_and_translate(tmp_path, capsys):
    run_dir = tmp_path / "sr"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["train", "srgan", "--out", str(run_dir), "--steps", "2", "--smoke",
                         "--set", "factor=2"])
    assert code == 0 and last_json(buf.getvalue())["step"] == 2
    low = low_resolution(data.load("fashion_mnist", "test").x[:3], 2)
    np.savez(tmp_path / "in.npz", images=low)
    out = tmp_path / "out.npz"
    capsys.readouterr()
    assert cli.main(["translate", str(run_dir), "--input", str(tmp_path / "in.npz"),
                     "--out", str(out)]) == 0
    with np.load(out) as f:
        assert f["images"].shape == (3, 28, 28, 1) and f["images"].dtype == np.uint8
    np.savez(tmp_path / "big.npz", images=np.zeros((2, 28, 28, 1), np.uint8))
    assert cli.main(["translate", str(run_dir), "--input", str(tmp_path / "big.npz"),
                     "--out", str(out)]) == 2
    assert "14 x 14 x 1" in capsys.readouterr().err
    assert cli.main(["sample", str(run_dir), "--out", str(out)]) == 2
    assert "use `python -m ganlib translate" in capsys.readouterr().err


def test_quality_bench_compares_srgan_with_bicubic_and_mse(monkeypatch, capsys):

    tiny = srgan.Config().smoke()
    monkeypatch.setattr(srgan, "Config", lambda: tiny)
    result = srgan.quality_bench(minutes=0.01)
    assert capsys.readouterr().out == ""  # no progress bar: the CLI prints one JSON line
    assert result["bench"] == "quality-srgan" and result["n"] == 5000 and result["step"] > 0
    assert result["fid_ratio"] == pytest.approx(result["srgan"]["fid"] / result["mse"]["fid"],
                                                rel=1e-3)
    assert result["real"]["fid"] < result["bicubic"]["fid"]
