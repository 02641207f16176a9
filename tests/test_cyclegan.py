import contextlib
import dataclasses
import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_output import last_json

from ganlib import cli, config, data, domain_metrics, lessons, metrics
from ganlib.data import DatasetUnavailable, UnknownDataset, domains, shapes
from ganlib.lessons import cyclegan
from ganlib.models.patchgan import build_patchgan_discriminator
from ganlib.models.resnet_generator import ReflectionPadding2D, build_resnet_generator
from ganlib.steps import CycleGANStep, TrainStep
from ganlib.steps.cyclegan import ImagePool
from ganlib.watchdog import Watchdog

SHAPE = (32, 32, 3)


# --- the shapes -------------------------------------------------------------------------------
def test_shapes_are_seeded_labelled_circles_and_squares():
    train = data.load("shapes", "train", n_per_class=50)
    assert train.x.shape == (100, *SHAPE) and train.x.dtype == np.uint8
    np.testing.assert_array_equal(train.y, np.arange(100) % 2)
    assert train.class_names == ("circle", "square") and train.num_classes == 2
    test = data.load("shapes", "test", n_per_class=50)
    assert not np.array_equal(train.x, test.x)
    np.testing.assert_array_equal(train.x, data.load("shapes", "train", n_per_class=50,
                                                     seed=0).x)
    assert not np.array_equal(train.x, data.load("shapes", "train", n_per_class=50, seed=1).x)
    # the images are what their parameters say: a square fills the box of its circle
    params = shapes.split_params("train", n_per_class=50)
    np.testing.assert_array_equal(train.x, shapes.render_shapes(train.y, **params))
    circles, squares = train.x[0::2].astype(float), train.x[1::2].astype(float)
    assert (circles.max((1, 2, 3)) > 150).all() and (squares.max((1, 2, 3)) > 150).all()
    r = params["radii"]
    fill = lambda x, r: (x.max(-1) > 127).sum((1, 2)) / (2 * r) ** 2
    assert abs(fill(circles, r[0::2]).mean() - np.pi / 4) < 0.05
    assert abs(fill(squares, r[1::2]).mean() - 1.0) < 0.05
    assert train.x[:, 0].max() == 0 and train.x[:, :, 0].max() == 0  # a black border
    with pytest.raises(ValueError, match="rendered by ganlib"):
        data.load("shapes", "train", path="/tmp")
    with pytest.raises(ValueError, match="kinds"):
        shapes.render_shapes([2], **shapes.shape_params(1))


def test_shapes_judge_is_shipped_small_and_sure():
    assert (metrics.JUDGE_DIR / "shapes.keras").stat().st_size < 2_000_000
    info = metrics.judge_info("shapes")
    assert info["dataset"] == "shapes" and info["test_accuracy"] >= 0.99
    test = data.load("shapes", "test", n_per_class=200)
    _, probs = metrics.judge_outputs(test.x, "shapes")
    assert np.mean(probs.argmax(1) == test.y) >= 0.99


def test_ideal_translation_keeps_position_and_colour_and_a_shuffled_one_does_not():
    params = shapes.split_params("test", n_per_class=100)
    kinds = np.arange(200) % 2
    circles = shapes.render_shapes(kinds * 0, **params)
    ideal = shapes.render_shapes(kinds * 0 + 1, **params)  # the same shapes, as squares
    kept = domain_metrics.shapes_kept(circles, ideal)
    assert kept["position_kept"] == 1.0 and kept["colour_kept"] == 1.0
    assert kept["position_error_px"] < 0.2 and kept["colour_error"] < 0.02
    assert domain_metrics.target_share(ideal, "shapes", 1) >= 0.99
    shuffled = domain_metrics.shapes_kept(circles, ideal[::-1])
    assert shuffled["position_kept"] < 0.2 and shuffled["colour_kept"] < 0.2
    blank = domain_metrics.shapes_kept(circles, np.zeros_like(circles))
    assert blank["position_kept"] == 0.0 and blank["position_error_px"] is None


def test_translation_metrics_on_real_fashion_images(fashion_test):
    sneakers = fashion_test.x[fashion_test.y == 7][:300]
    boots = fashion_test.x[fashion_test.y == 9][:300]
    assert domain_metrics.target_share(boots, "fashion_mnist", 9) >= 0.9
    assert domain_metrics.target_share(sneakers, "fashion_mnist", 9) < 0.1
    assert domain_metrics.cycle_l1(sneakers, sneakers) == 0.0
    assert domain_metrics.cycle_l1(np.zeros((2, 4, 4, 1), np.uint8),
                                   np.full((2, 4, 4, 1), 255, np.uint8)) == 2.0
    result = domain_metrics.translation_metrics(sneakers, boots, sneakers, "fashion_mnist", 9)
    assert result == {"n": 300, "cycle_l1": 0.0, "target_share": pytest.approx(
        domain_metrics.target_share(boots, "fashion_mnist", 9), abs=1e-4)}
    with pytest.raises(ValueError, match="differ in shape"):
        domain_metrics.cycle_l1(sneakers, boots[:10])


# --- two domains ------------------------------------------------------------------------------
def test_offline_domain_pairs(fashion_test):
    pair = domains.load_domains("sneakers_boots", "test")
    assert pair.names == ("Sneaker", "Ankle boot") and pair.classes == (7, 9)
    assert pair.judge == "fashion_mnist" and pair.image_shape == (28, 28, 1)
    np.testing.assert_array_equal(pair.a, fashion_test.x[fashion_test.y == 7])
    np.testing.assert_array_equal(pair.b, fashion_test.x[fashion_test.y == 9])
    small = domains.load_domains("Shapes", "train", n=20, image_size=64)
    assert small.a.shape == small.b.shape == (20, 64, 64, 3) and small.names == (
        "circle", "square")
    with pytest.raises(UnknownDataset, match="horse2zebra"):
        domains.load_domains("cats2dogs")
    with pytest.raises(ValueError, match="split"):
        domains.load_domains("shapes", "validation")
    with pytest.raises(ValueError, match="no path"):
        domains.load_domains("sneakers_boots", path="/tmp")


def test_tfds_set_offline_is_a_clear_error(nowhere):
    with pytest.raises(DatasetUnavailable) as info:
        domains.load_domains("horse2zebra", "train")
    message = str(info.value)
    assert "cycle_gan/horse2zebra" in message and "GANLIB_OFFLINE" in message
    assert str(nowhere / "repo" / "data" / "tensorflow_datasets") in message
    assert "tfds.load('cycle_gan/horse2zebra')" in message


def test_tfds_set_is_read_and_resized(monkeypatch, tmp_path):
    """TFDS's own mock (random examples of the set's features) stands in for the download."""
    import tensorflow_datasets as tfds

    monkeypatch.setenv("GANLIB_OFFLINE", "0")
    monkeypatch.setenv("GANLIB_DATA_DIR", str(tmp_path))
    with tfds.testing.mock_data(num_examples=6):
        pair = domains.load_domains("horse2zebra", "test", image_size=32, n=4)
    assert pair.a.shape == pair.b.shape == (4, 32, 32, 3) and pair.a.dtype == np.uint8
    assert pair.names == ("horse", "zebra") and pair.judge is None
    assert "cycle_gan/horse2zebra" in pair.source


# --- the models -------------------------------------------------------------------------------
def test_resnet_generator_layout_and_saving(tmp_path):
    g = build_resnet_generator((32, 32, 3), width=8, n_blocks=6)
    assert g.output_shape == (None, 32, 32, 3)
    assert sum(isinstance(layer, keras.layers.Add) for layer in g.layers) == 6
    assert sum(isinstance(layer, ReflectionPadding2D) for layer in g.layers) == 2 + 2 * 6
    convs = [layer for layer in g.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [c.kernel_size for c in convs[:3]] == [(7, 7), (3, 3), (3, 3)]
    assert [c.filters for c in convs[:3]] == [8, 16, 32] and convs[-1].kernel_size == (7, 7)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("f4")
    y = np.asarray(g(x))
    assert np.abs(y).max() <= 1 and np.isfinite(y).all()
    path = tmp_path / "g.keras"
    g.save(path)
    np.testing.assert_allclose(np.asarray(keras.models.load_model(path)(x)), y, atol=1e-5)
    grey = build_resnet_generator((28, 28, 1), width=8, n_blocks=9)
    assert grey.output_shape == (None, 28, 28, 1)
    with pytest.raises(ValueError, match="divisible by 4"):
        build_resnet_generator((30, 30, 3))
    with pytest.raises(ValueError, match="C 1 or 3"):
        build_resnet_generator((32, 32, 4))


def test_unet_option_keeps_a_4x4_bottleneck():
    cfg = dataclasses.replace(cyclegan.Config(), generator="unet", width=8)
    g = cyclegan.build_generator(cfg, SHAPE, "generator")
    smallest = min(layer.output.shape[1] for layer in g.layers if len(layer.output.shape) == 4)
    assert smallest == 4 and g.output_shape == (None, *SHAPE)
    assert cyclegan.build_generator(cfg, (28, 28, 1), "g").output_shape == (None, 28, 28, 1)
    with pytest.raises(ValueError, match="'resnet' or 'unet'"):
        cyclegan.build_generator(dataclasses.replace(cfg, generator="vit"), SHAPE, "g")


# --- the step ---------------------------------------------------------------------------------
def test_image_pool_fills_then_swaps_half():
    pool = ImagePool(4, (1, 1, 1))
    first = tf.constant(np.arange(1, 4, dtype="f4").reshape(3, 1, 1, 1))
    np.testing.assert_array_equal(pool.query(first, tf.constant([0, 1])), first)
    assert int(pool.count.numpy()) == 3
    second = tf.constant(np.arange(11, 14, dtype="f4").reshape(3, 1, 1, 1))
    np.testing.assert_array_equal(pool.query(second, tf.constant([0, 2])), second)  # filling
    assert int(pool.count.numpy()) == 4
    np.testing.assert_array_equal(np.sort(pool.images.numpy()[:4].ravel()), [1, 2, 3, 11])
    shown_old = 0
    for i in range(200):
        held = set(pool.images.numpy()[:4].ravel())
        new = tf.constant((100.0 + i) * np.ones((2, 1, 1, 1), "f4") + [[[[0]]], [[[0.5]]]])
        shown = pool.query(new, tf.constant([i, 3])).numpy().ravel()
        old = [v for v in shown if v < 100 + i]
        assert set(old) <= held and len(set(old)) == len(old)  # distinct images from the pool
        shown_old += len(old)
        now = set(pool.images.numpy()[:4].ravel())
        assert now - held <= set(new.numpy().ravel()) and len(now) == 4
    assert 150 < shown_old < 250  # half of the 400 fakes
    passthrough = ImagePool(0, (1, 1, 1))
    np.testing.assert_array_equal(passthrough.query(first, tf.constant([0, 1])), first)


def _tiny_step(pool_size=4, seed=0):
    keras.utils.set_random_seed(seed)
    g, f = (build_resnet_generator(SHAPE, width=4, n_blocks=1, name=n) for n in ("g", "f"))
    d_b, d_a = (build_patchgan_discriminator(SHAPE, None, 4, 2, norm="instance", name=n)
                for n in ("d_b", "d_a"))
    optimizers = {k: keras.optimizers.Adam(1e-3, beta_1=0.5)
                  for k in ("generator", "generator_ba", "discriminator", "discriminator_a")}
    step = CycleGANStep(g, f, d_b, d_a, optimizers=optimizers, pool_size=pool_size, seed=seed)
    return step


@pytest.fixture
def pair_batch():
    rng = np.random.default_rng(0)
    return tuple(tf.constant(rng.uniform(-1, 1, (2, *SHAPE)).astype("f4")) for _ in range(2))


def test_one_cyclegan_step_trains_all_four_networks(pair_batch):
    step = _tiny_step()
    assert isinstance(step, TrainStep) and step.loss.kind == "least_squares"
    before = {k: [v.numpy().copy() for v in m.trainable_variables]
              for k, m in step.networks.items()}
    logs = {k: float(v) for k, v in step(pair_batch).items()}
    assert set(logs) == {"generator_loss", "generator_ba_loss", "discriminator_loss",
                         "discriminator_a_loss", "cycle_a_l1", "cycle_b_l1", "identity_l1",
                         "d_adversarial_loss", "g_adversarial_loss"}
    assert all(np.isfinite(v) for v in logs.values())
    assert logs["d_adversarial_loss"] <= min(logs["discriminator_loss"],
                                             logs["discriminator_a_loss"]) + 1e-6
    # G's loss: its adversarial term, the cycles (weight 10) and its identity term (5)
    assert logs["generator_loss"] > 10 * (logs["cycle_a_l1"] + logs["cycle_b_l1"])
    for name, model in step.networks.items():
        moved = [not np.array_equal(a, v.numpy())
                 for a, v in zip(before[name], model.trainable_variables)]
        assert all(moved), f"{name}: some weights did not move"
    assert int(step.pools["a"].count.numpy()) == 2 and "pool_b" in step.trackables()


def test_cyclegan_step_rejects_bad_settings():
    g = build_resnet_generator(SHAPE, width=4, n_blocks=1)
    grey = build_resnet_generator((32, 32, 1), width=4, n_blocks=1)
    d = build_patchgan_discriminator(SHAPE, None, 4, 2, norm="instance")
    opts = {k: keras.optimizers.Adam() for k in ("generator", "generator_ba", "discriminator",
                                                 "discriminator_a")}
    with pytest.raises(ValueError, match="one optimizer for each"):
        CycleGANStep(g, g, d, d, optimizers={"generator": keras.optimizers.Adam()})
    with pytest.raises(ValueError, match="judges images"):
        CycleGANStep(g, g, d, build_patchgan_discriminator((32, 32, 1), None, 4, 2),
                     optimizers=opts)
    with pytest.raises(ValueError, match="maps"):
        CycleGANStep(g, grey, d, d, optimizers=opts)
    assert Watchdog().diagnose({"d_adversarial_loss": 0.2, "g_adversarial_loss": 0.3}) == ""


# --- the lesson -------------------------------------------------------------------------------
def _tiny_cfg(**changes):
    tiny = dict(steps=8, width=4, n_blocks=1, d_width=8, n_train=40, sample_every=4,
                checkpoint_every=4, log_every=4, batch_size=4, xla=False)
    return dataclasses.replace(cyclegan.Config().smoke(), **{**tiny, **changes})


def test_lesson_smoke_build_fit_restore_translate(tmp_path):
    cfg = _tiny_cfg()
    run = cyclegan.build(cfg, tmp_path / "cyclegan")
    assert lessons.get("cyclegan") is cyclegan
    assert set(run.models) == {"generator", "generator_ba", "discriminator", "discriminator_a"}
    lessons.fit(run)
    assert run.trainer.global_step == 8 and [r["step"] for r in run.history] == [4, 8]
    frames = run.snapshots.frames
    assert frames[-1][1].shape == (32, *SHAPE) and np.abs(frames[-1][1]).max() <= 1
    assert (run.run_dir / "samples" / "step_0000008.png").exists()
    assert {e["event"] for e in run.events} == {"eval"}
    test = cyclegan.load_split(cfg, "test", n=6)
    out = cyclegan.translate(run, test.a)
    back = cyclegan.translate(run, test.b, direction="BtoA")
    assert out.shape == back.shape == (6, *SHAPE) and out.dtype == np.float32
    assert np.abs(out).max() <= 1 and not np.allclose(out, back)
    with pytest.raises(ValueError, match="AtoB or BtoA"):
        cyclegan.translate(run, test.a, direction="AtoC")
    with pytest.raises(ValueError, match="translates images of shape"):
        cyclegan.translate(run, np.zeros((2, 28, 28, 1), np.uint8))
    result = cyclegan.evaluate(run, n=6)
    for direction in ("AtoB", "BtoA"):
        assert {"target_share", "cycle_l1", "position_kept", "colour_kept",
                "target_and_position_kept"} <= set(result[direction])
    assert result["real"]["a_judged_a"] == 1.0 and result["real"]["b_judged_b"] == 1.0

    again = cyclegan.build(cfg, tmp_path / "cyclegan")
    assert lessons.restore(again) == 8
    np.testing.assert_allclose(cyclegan.translate(again, test.a), out, atol=1e-5)
    for key in ("a", "b"):  # the pools and the decayed learning rates come back too
        np.testing.assert_array_equal(again.trainer.step.pools[key].images.numpy(),
                                      run.trainer.step.pools[key].images.numpy())
    rates = [float(r.trainer.step.optimizers["generator"].current_learning_rate())
             for r in (run, again)]
    assert rates[1] == pytest.approx(rates[0]) and rates[0] < cfg.lr


def test_resumed_run_matches_an_uninterrupted_one(tmp_path):
    """A run stopped after 4 of 8 steps and resumed (same schedule: decay_steps fixed)
    ends where the uninterrupted run does: weights, optimizers, pools, data order."""
    whole = cyclegan.build(_tiny_cfg(decay_steps=8), tmp_path / "whole")
    lessons.fit(whole)
    half = cyclegan.build(_tiny_cfg(decay_steps=8, steps=4), tmp_path / "half")
    lessons.fit(half)
    rest = cyclegan.build(_tiny_cfg(decay_steps=8), tmp_path / "half")
    lessons.fit(rest)
    assert rest.trainer.global_step == 8
    final = lambda run: {k: v for k, v in run.history[-1].items() if k != "seconds"}
    assert final(rest) == pytest.approx(final(whole), rel=1e-4, abs=1e-5)


def test_a_time_budget_needs_decay_steps(tmp_path):
    cfg = dataclasses.replace(_tiny_cfg(), steps=None, minutes=1.0)
    with pytest.raises(ValueError, match="decay_steps"):
        cyclegan.build(cfg, tmp_path / "minutes")
    decay = cyclegan.lr_decay(dataclasses.replace(cfg, decay_steps=100))
    assert decay.get_config() == {"total_steps": 100, "hold": 0.5}
    assert cyclegan.lr_decay(dataclasses.replace(cfg, decay_steps=100, decay_from=1.0)) is None
    with pytest.raises(ValueError, match=r"decay_from=1.5 is out of range; it must be in \[0, 1\]"):
        cyclegan.lr_decay(dataclasses.replace(cfg, decay_steps=100, decay_from=1.5))



def test_cli_train_and_translate_both_ways(tmp_path, capsys):
    run_dir = tmp_path / "cyclegan"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["train", "cyclegan", "--out", str(run_dir), "--steps", "2", "--smoke"])
    assert code == 0 and last_json(buf.getvalue())["step"] == 2
    test = domains.load_domains("shapes", "test", n=5)
    np.savez(tmp_path / "circles.npz", images=test.a)
    for direction in ("AtoB", "BtoA"):
        out = tmp_path / f"{direction}.npz"
        assert cli.main(["translate", str(run_dir), "--direction", direction, "--input",
                         str(tmp_path / "circles.npz"), "--out", str(out)]) == 0
        with np.load(out) as f:
            assert f["images"].shape == (5, *SHAPE) and f["images"].dtype == np.uint8
    capsys.readouterr()
    assert cli.main(["translate", str(run_dir), "--direction", "sideways", "--input",
                     str(tmp_path / "circles.npz"), "--out", str(tmp_path / "x.npz")]) == 2
    assert "AtoB or BtoA" in capsys.readouterr().err
    assert cli.main(["train", "cyclegan", "--out", str(tmp_path / "m"), "--minutes", "1"]) == 2
    assert "--steps" in capsys.readouterr().err
    assert cyclegan.LESSON.quality is not None


def test_output_stays_under_the_output_dir():
    assert cyclegan.run_dir_for("cyclegan").parent == config.settings().output_dir
