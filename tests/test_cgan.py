import contextlib
import dataclasses
import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_output import last_json

from ganlib import cli, data, lessons, metrics
from ganlib.lessons import cgan
from ganlib.models import build_dcgan_discriminator, build_dcgan_generator
from ganlib.models.conditional import (
    build_conditional_generator,
    build_projection_discriminator,
    class_interpolation,
    generate,
)
from ganlib.steps import ConditionalGANStep, TrainStep, other_labels

SHAPE = (32, 32, 3)


def _tiny(seed=0, latent_dim=8, mismatch_weight=0.0):
    keras.utils.set_random_seed(seed)
    g = build_conditional_generator(latent_dim, 4, SHAPE, width=8, embed_dim=4, seed=seed)
    d = build_projection_discriminator(SHAPE, 4, width=8, seed=seed)
    step = ConditionalGANStep(g, d, num_classes=4, seed=seed, mismatch_weight=mismatch_weight,
                              g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                              d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5))
    return g, d, step


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (8, *SHAPE)).astype(np.float32)
    return tf.constant(images), tf.constant(np.arange(8) % 4, tf.int32)


def _values(model):
    return [np.array(v.numpy(), copy=True) for v in model.trainable_variables]


def test_models_take_two_inputs():
    g, d, _ = _tiny()
    assert [i.name for i in g.inputs] == ["noise", "label"]
    assert [i.name for i in d.inputs] == ["image", "label"]
    noise = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    labels = np.array([0, 1, 2, 3, 1], np.int32)
    images = np.asarray(g([noise, labels], training=False))
    assert images.shape == (5, *SHAPE) and np.abs(images).max() <= 1
    assert d([images, labels], training=False).shape == (5, 1)
    # the label matters: same noise, another class, another image and another logit
    other = np.asarray(g([noise, (labels + 1) % 4], training=False))
    assert not np.allclose(images, other)
    assert not np.allclose(d([images, labels]), d([images, (labels + 1) % 4]))


def test_one_conditional_step_trains_both_networks(batch):
    g, d, step = _tiny()
    assert isinstance(step, TrainStep)
    before = {m.name: _values(m) for m in (g, d)}
    logs = step(batch)
    assert set(logs) == {"discriminator_loss", "generator_loss", "d_real_acc", "d_fake_acc"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert int(step.step.numpy()) == 1
    assert [int(o.iterations.numpy()) for o in step.optimizers.values()] == [1, 1]
    for model in (g, d):
        moved = [not np.array_equal(a, v.numpy())
                 for a, v in zip(before[model.name], model.trainable_variables)]
        assert all(moved), f"{model.name}: some weights did not move"
    assert g.get_layer("label_embedding").trainable_variables
    assert d.get_layer("class_projection").trainable_variables


def test_conditional_step_is_seeded(batch):
    first = {k: float(v) for k, v in _tiny(seed=3)[2](batch).items()}
    again = {k: float(v) for k, v in _tiny(seed=3)[2](batch).items()}
    assert first == pytest.approx(again, abs=1e-6)


def test_matching_aware_step_also_scores_real_images_with_wrong_labels(batch):
    plain = {k: float(v) for k, v in _tiny(seed=3)[2](batch).items()}
    aware = {k: float(v) for k, v in _tiny(seed=3, mismatch_weight=1.0)[2](batch).items()}
    assert set(aware) == set(plain) | {"d_mismatch_acc"}
    assert 0.0 <= aware["d_mismatch_acc"] <= 1.0
    # same draws, same G loss; D's loss now averages the fake and the mismatched terms
    assert aware["generator_loss"] == pytest.approx(plain["generator_loss"], abs=1e-6)
    assert aware["discriminator_loss"] != pytest.approx(plain["discriminator_loss"], abs=1e-4)
    with pytest.raises(ValueError, match="mismatch_weight"):
        _tiny(mismatch_weight=-1.0)


def test_other_labels_are_never_the_true_ones():
    labels = tf.constant(np.arange(4000) % 4, tf.int32)
    wrong = other_labels(labels, 4, tf.constant([1, 2], tf.int32)).numpy()
    assert wrong.min() >= 0 and wrong.max() <= 3
    assert not np.any(wrong == labels.numpy())
    for k in range(4):  # each of the 3 other classes about a third of the time
        counts = np.bincount(wrong[labels.numpy() == k], minlength=4)
        assert counts[k] == 0 and np.all(np.abs(counts[np.arange(4) != k] - 1000 / 3) < 80)


def test_conditional_step_needs_two_input_models():
    g = build_dcgan_generator(8, SHAPE, 8)
    d = build_dcgan_discriminator(SHAPE, 8)
    with pytest.raises(ValueError, match="two inputs"):
        ConditionalGANStep(g, d, num_classes=4, g_optimizer=keras.optimizers.Adam(),
                           d_optimizer=keras.optimizers.Adam())


def test_batches_yield_images_and_labels():
    x = np.zeros((10, *SHAPE), np.uint8)
    y = np.arange(10)
    images, labels = next(iter(data.batches(x, 4, seed=0, y=y)))
    assert images.shape == (4, *SHAPE) and images.dtype == tf.float32
    assert labels.shape == (4,) and labels.dtype == tf.int32


def test_labels_out_of_range_are_clear_errors():
    g, _, _ = _tiny()
    with pytest.raises(ValueError, match="out of range.*0..3"):
        generate(g, [0, 4])
    with pytest.raises(ValueError, match="out of range"):
        class_interpolation(g, np.zeros(8), 0, -1)
    with pytest.raises(ValueError, match="integers"):
        generate(g, [0.5])
    with pytest.raises(ValueError, match="Unknown traffic sign"):
        cgan.labels_for(["stop", "yield"])
    np.testing.assert_array_equal(cgan.labels_for(["stop", 0, "no trucks"]), [2, 0, 3])
    np.testing.assert_array_equal(cgan.labels_for([1, 2], n=5), [1, 2, 1, 2, 1])


def test_class_interpolation_keeps_noise_fixed():
    g, _, _ = _tiny()
    noise = np.random.default_rng(1).standard_normal(8).astype(np.float32)
    walk = class_interpolation(g, noise, 0, 2, steps=5)
    assert walk.shape == (5, *SHAPE)
    ends = generate(g, [0, 2], noise=np.stack([noise, noise]))
    np.testing.assert_allclose(walk[[0, -1]], ends, atol=1e-5)


def test_lesson_smoke_build_and_fit(tmp_path):
    cfg = dataclasses.replace(cgan.Config().smoke(), steps=20, width=8, latent_dim=16,
                              n_per_class=40, sample_every=10, checkpoint_every=10)
    run = cgan.build(cfg, tmp_path / "cgan")
    assert lessons.get("cgan") is cgan
    assert run.models["generator"].output_shape == (None, *SHAPE)
    lessons.fit(run)
    assert run.trainer.global_step == 20
    steps = [r["step"] for r in run.history if "event" not in r]
    assert steps == [10, 20]
    frames = run.snapshots.frames
    assert frames[-1][1].shape == (64, *SHAPE) and np.abs(frames[-1][1]).max() <= 1
    assert sorted(p.name for p in (run.run_dir / "samples").glob("*.png"))[-1] == \
        "step_0000020.png"
    assert list((run.run_dir / "tensorboard").glob("events.out.tfevents.*"))
    images = cgan.sample(run, ["stop", "speed limit 30"])
    assert images.shape == (2, *SHAPE)
    with pytest.raises(ValueError, match="out of range"):
        generate(run.generator(), [9])

    again = cgan.build(cfg, tmp_path / "cgan")
    assert lessons.restore(again) == 20
    np.testing.assert_allclose(cgan.sample(again, [2, 0]), cgan.sample(run, [2, 0]), atol=1e-5)



def test_cli_train_and_sample_write_labels(tmp_path, capsys):
    run_dir = tmp_path / "cgan"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["train", "cgan", "--out", str(run_dir), "--steps", "2", "--smoke"])
    assert code == 0 and last_json(buf.getvalue())["step"] == 2
    out = tmp_path / "signs.npz"
    assert cli.main(["sample", str(run_dir), "--n", "10", "--out", str(out)]) == 0
    with np.load(out) as f:
        assert sorted(f) == ["images", "labels"]
        images, labels = f["images"], f["labels"]
    assert images.shape == (10, *SHAPE) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.arange(10) % 4)  # the classes in turn
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), "--dataset", "traffic_signs"]) == 0
    result = last_json(capsys.readouterr().out)
    assert set(result["per_class"]) == set(result["coverage"]) == set(cgan.CLASS_NAMES)
    assert 0.0 <= result["intended_share"] <= 1.0 and result["real"]["intended_share"] > 0.9


# --- the judge and the lesson's metric -------------------------------------------------------
@pytest.fixture(scope="module")
def signs_test():
    return data.load("traffic_signs", "test", n_per_class=100)


def test_traffic_sign_judge_is_shipped_and_tells_the_signs_apart(signs_test):
    assert (metrics.JUDGE_DIR / "traffic_signs.keras").stat().st_size < 2_000_000
    info = metrics.judge_info("traffic_signs")
    assert info["dataset"] == "traffic_signs" and info["test_accuracy"] >= 0.95
    _, probs = metrics.judge_outputs(signs_test.x, "traffic_signs")
    assert probs.shape == (400, 4)
    for k in range(4):  # every class, 30 and 100 included, is recognised
        assert np.mean(probs.argmax(1)[signs_test.y == k] == k) >= 0.9, signs_test.class_names[k]


def test_conditional_metrics_on_real_and_shuffled_labels():
    """Real training signs with their labels score well; with the wrong labels, badly."""
    signs = data.load("traffic_signs", "train", n_per_class=100)
    real = metrics.conditional_metrics(signs.x, signs.y, "traffic_signs")
    assert real["n"] == 400 and set(real["per_class"]) == set(signs.class_names)
    assert real["intended_share"] >= 0.9
    wrong = metrics.conditional_metrics(signs.x, (signs.y + 1) % 4, "traffic_signs")
    assert wrong["intended_share"] < 0.1
    for name in signs.class_names:  # another class's images are far from this class's
        assert wrong["per_class"][name]["fid"] > 3 * real["per_class"][name]["fid"]
        assert wrong["per_class"][name]["kid"] > real["per_class"][name]["kid"]
    floor = metrics.conditional_reference("traffic_signs", 50, real=signs)
    assert floor["per_class"]["stop"]["n"] == 50 and floor["judge_test_accuracy"] >= 0.95
    with pytest.raises(ValueError, match="one per image"):
        metrics.conditional_metrics(signs.x, signs.y[:5], "traffic_signs")
