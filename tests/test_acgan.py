import contextlib
import dataclasses
import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_output import last_json

from ganlib import cli, data, lessons, metrics
from ganlib.lessons import acgan
from ganlib.models import build_dcgan_discriminator
from ganlib.models.auxiliary import build_acgan_discriminator, class_head_size
from ganlib.models.conditional import build_conditional_generator, generate
from ganlib.steps import ACGANStep, GANStep

SHAPE = (28, 28, 1)
K = 10
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")  # fmt: skip


def _tiny(seed=0, latent_dim=8, **kwargs):
    keras.utils.set_random_seed(seed)
    g = build_conditional_generator(latent_dim, K, SHAPE, width=8, embed_dim=4, seed=seed)
    d = build_acgan_discriminator(SHAPE, K, width=8, seed=seed)
    step = ACGANStep(g, d, num_classes=K, seed=seed,
                     g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                     d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), **kwargs)
    return g, d, step


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    images = rng.uniform(-1, 1, (10, *SHAPE)).astype(np.float32)
    return tf.constant(images), tf.constant(np.arange(10) % K, tf.int32)


def _values(model):
    return [np.array(v.numpy(), copy=True) for v in model.trainable_variables]


def test_discriminator_has_a_real_fake_head_and_a_class_head():
    d = build_acgan_discriminator(SHAPE, K, width=8, seed=0)
    assert [t.name for t in d.inputs] == ["image"]
    assert class_head_size(d) == K
    images = np.random.default_rng(0).uniform(-1, 1, (5, *SHAPE)).astype(np.float32)
    logit, class_logits = d(images, training=False)
    assert logit.shape == (5, 1) and class_logits.shape == (5, K)
    # both heads read the features of lesson 02's discriminator: same conv body, one more Dense
    body = build_dcgan_discriminator(SHAPE, width=8)
    assert d.count_params() == body.count_params() + (d.get_layer("logit").input.shape[-1] + 1) * K
    assert d.get_layer("class_logits").input is d.get_layer("logit").input
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_acgan_discriminator(SHAPE, 1)


def test_one_step_trains_both_networks_and_both_heads(batch):
    g, d, step = _tiny()
    assert isinstance(step, GANStep)
    before = {m.name: _values(m) for m in (g, d)}
    logs = step(batch)
    assert set(logs) == {"discriminator_loss", "generator_loss", "d_real_acc", "d_fake_acc",
                         "real_class_loss", "fake_class_loss", "d_real_class_acc",
                         "d_fake_class_acc", "d_adversarial_loss", "g_adversarial_loss"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    # at the start the class head is close to uniform: cross-entropy near ln 10
    assert float(logs["real_class_loss"]) == pytest.approx(np.log(K), abs=0.7)
    for key in ("d_real_class_acc", "d_fake_class_acc"):
        assert 0.0 <= float(logs[key]) <= 1.0
    assert int(step.step.numpy()) == 1
    for model in (g, d):
        moved = [not np.array_equal(a, v.numpy())
                 for a, v in zip(before[model.name], model.trainable_variables)]
        assert all(moved), f"{model.name}: some weights did not move"


def test_losses_add_the_class_terms_to_the_adversarial_ones(batch):
    """D: adversarial + w (CE real + w_fake CE fake); G: adversarial + w CE fake."""
    seed = tf.constant([3, 4], tf.int64)
    per_example = {}
    for w, w_fake in ((0.0, 0.0), (2.0, 0.5)):
        _, _, step = _tiny(class_weight=w, fake_class_weight=w_fake)
        losses, logs = step.losses(batch, seed)
        per_example[w] = ({k: v.numpy() for k, v in losses.items()},
                          {k: v.numpy() for k, v in logs.items()})
    (plain, _), (with_classes, logs) = per_example[0.0], per_example[2.0]
    np.testing.assert_allclose(
        with_classes["discriminator"] - plain["discriminator"],
        2.0 * (logs["real_class_loss"] + 0.5 * logs["fake_class_loss"]), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(with_classes["generator"] - plain["generator"],
                               2.0 * logs["fake_class_loss"], rtol=1e-4, atol=1e-5)


def test_class_loss_falls_on_a_fixed_batch(batch):
    """D's class head learns the labels of a batch it sees again and again."""
    _, _, step = _tiny(seed=1)
    first = float(step(batch)["real_class_loss"])
    for _ in range(40):
        last = step(batch)
    assert float(last["real_class_loss"]) < 0.5 * first
    assert float(last["d_real_class_acc"]) >= 0.8


def test_step_is_seeded(batch):
    first = {k: float(v) for k, v in _tiny(seed=3)[2](batch).items()}
    again = {k: float(v) for k, v in _tiny(seed=3)[2](batch).items()}
    assert first == pytest.approx(again, abs=1e-6)


def test_step_checks_its_models():
    g, d, _ = _tiny()
    adam = dict(g_optimizer=keras.optimizers.Adam(), d_optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="two outputs"):
        ACGANStep(g, build_dcgan_discriminator(SHAPE, 8), num_classes=K, **adam)
    with pytest.raises(ValueError, match="predicts 10 classes, not 4"):
        ACGANStep(g, d, num_classes=4, **adam)
    with pytest.raises(ValueError, match=">= 0"):
        ACGANStep(g, d, num_classes=K, class_weight=-1, **adam)


def test_labels_by_name_and_out_of_range_are_clear():
    np.testing.assert_array_equal(acgan.labels_for(["sneaker", "Coat", 0], FASHION), [7, 4, 0])
    np.testing.assert_array_equal(acgan.labels_for("bag", FASHION, n=3), [8, 8, 8])
    with pytest.raises(ValueError, match="Unknown class 'hat'.*Ankle boot"):
        acgan.labels_for(["hat"], FASHION)
    with pytest.raises(ValueError, match="out of range.*0..9"):
        acgan.labels_for([10], FASHION)
    g, _, _ = _tiny()
    with pytest.raises(ValueError, match="out of range"):
        generate(g, [3, -1])


def test_class_coverage_sees_collapse_inside_a_class():
    train = data.load("fashion_mnist", "train")
    x, y = train.x[:5000], train.y[:5000]
    real = metrics.class_coverage(x, y, "fashion_mnist")
    assert set(real) == set(FASHION) and all(v >= 0.8 for v in real.values())
    # every image of a class replaced by a copy of one of just two images of that class: each
    # copy looks real, but the class collapsed
    low = metrics.collapsed_coverage(x, y, "fashion_mnist", 2)
    assert all(low[n] < 0.2 for n in FASHION), low
    # the lesson's collapse check: no more coverage than 30 images per class, or under 0.15
    # of real images'
    thirty = metrics.collapsed_coverage(x, y, "fashion_mnist", 30)
    assert all(low[n] < thirty[n] < real[n] for n in FASHION), (low, thirty)
    assert metrics.narrow_classes(real, real, thirty) == []
    assert metrics.narrow_classes(low, real, thirty) == list(FASHION)
    assert metrics.narrow_classes({"Bag": 0.13}, {"Bag": 0.9}, {"Bag": 0.05}) == ["Bag"]
    assert metrics.narrow_classes({"Bag": 0.14}, {"Bag": 0.9}, {"Bag": 0.05}) == []
    # images of the wrong class cover nothing of the class they are filed under
    shifted = metrics.class_coverage(x, (y + 1) % K, "fashion_mnist")
    assert np.mean(list(shifted.values())) < 0.3
    with pytest.raises(ValueError, match="one per image"):
        metrics.class_coverage(x, y[:5], "fashion_mnist")


def test_lesson_smoke_build_fit_sample_restore(tmp_path):
    cfg = dataclasses.replace(acgan.Config().smoke(), steps=20, width=8, latent_dim=16,
                              sample_every=10, checkpoint_every=10)
    run = acgan.build(cfg, tmp_path / "acgan")
    assert lessons.get("acgan") is acgan
    assert run.models["generator"].output_shape == (None, *SHAPE)
    assert class_head_size(run.models["discriminator"]) == K
    lessons.fit(run)
    assert run.trainer.global_step == 20
    assert [r["step"] for r in run.history] == [10, 20]
    assert {"real_class_loss", "d_fake_class_acc"} <= set(run.history[-1])
    frames = run.snapshots.frames
    assert frames[-1][1].shape == (100, *SHAPE) and np.abs(frames[-1][1]).max() <= 1
    assert sorted(p.name for p in (run.run_dir / "samples").glob("*.png"))[-1] == \
        "step_0000020.png"
    assert [e["step"] for e in run.events if e["event"] == "eval"] == [10, 20]
    images = acgan.sample(run, ["Sneaker", "coat", 9])
    assert images.shape == (3, *SHAPE)
    with pytest.raises(ValueError, match="out of range"):
        acgan.sample(run, [11])

    again = acgan.build(cfg, tmp_path / "acgan")
    assert lessons.restore(again) == 20
    np.testing.assert_allclose(acgan.sample(again, [7, 4]), acgan.sample(run, [7, 4]),
                               atol=1e-5)



def _cli(args) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(args)
    return code, buf.getvalue()


def test_cli_train_resume_and_sample_write_labels(tmp_path):
    run_dir = tmp_path / "acgan"
    code, out = _cli(["train", "acgan", "--out", str(run_dir), "--steps", "2", "--smoke"])
    assert code == 0 and last_json(out)["step"] == 2
    code, out = _cli(["train", "acgan", "--out", str(run_dir), "--resume", "--steps", "4"])
    assert code == 0 and last_json(out)["step"] == 4
    samples = tmp_path / "clothes.npz"
    code, out = _cli(["sample", str(run_dir), "--n", "25", "--out", str(samples)])
    assert code == 0 and last_json(out)["step"] == 4
    with np.load(samples) as f:
        assert sorted(f) == ["images", "labels"]
        images, labels = f["images"], f["labels"]
    assert images.shape == (25, *SHAPE) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.arange(25) % K)  # the classes in turn
