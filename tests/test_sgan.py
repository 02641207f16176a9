import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

import ganlib  # noqa: F401  (what a user imports before loading the saved classifier)
from ganlib import cli, data, lessons
from ganlib.callbacks import Callback
from ganlib.lessons import sgan
from ganlib.models import build_dcgan_generator
from ganlib.models.classifier import (
    build_classifier_discriminator,
    build_mlp_classifier_discriminator,
    classifier_of,
)
from ganlib.steps import SemiSupervisedGANStep, TrainStep

SHAPE = (28, 28, 1)


def _tiny(seed=0, weight=1.0):
    keras.utils.set_random_seed(seed)
    g = build_dcgan_generator(8, SHAPE, width=8, seed=seed)
    d = build_classifier_discriminator(SHAPE, 10, width=8, seed=seed)
    b = build_classifier_discriminator(SHAPE, 10, width=8, seed=seed, name="baseline")
    step = SemiSupervisedGANStep(g, d, b, g_optimizer=keras.optimizers.Adam(1e-3),
                                 d_optimizer=keras.optimizers.Adam(1e-3),
                                 baseline_optimizer=keras.optimizers.Adam(1e-3),
                                 unsupervised_weight=weight, seed=seed)
    return g, d, b, step


@pytest.fixture
def batch():
    rng = np.random.default_rng(0)
    unlabelled = tf.constant(rng.uniform(-1, 1, (8, *SHAPE)).astype(np.float32))
    labelled = tf.constant(rng.uniform(-1, 1, (8, *SHAPE)).astype(np.float32))
    return unlabelled, (labelled, tf.constant(np.arange(8) % 10, tf.int32))


def test_classifier_discriminator_outputs_logits_and_features():
    d = build_classifier_discriminator(SHAPE, 10, width=8)
    x = np.zeros((3, *SHAPE), np.float32)
    logits, features = d(x)
    assert logits.shape == (3, 10) and features.shape == (3, 32)
    c = classifier_of(d)
    np.testing.assert_allclose(c(x), logits, atol=1e-6)  # same layers, same weights
    assert {id(v) for v in c.weights} == {id(v) for v in d.weights}


def test_mlp_discriminator_is_noisy_only_in_training():
    d = build_mlp_classifier_discriminator(SHAPE, 10, hidden=(16, 8), seed=0)
    x = np.zeros((4, *SHAPE), np.float32)
    logits, features = d(x, training=False)
    assert logits.shape == (4, 10) and features.shape == (4, 8)
    np.testing.assert_allclose(d(x, training=False)[0], logits)  # deterministic at test time
    assert not np.allclose(d(x, training=True)[0], logits)  # Gaussian noise while training


def test_one_step_trains_gan_and_baseline(batch):
    g, d, b, step = _tiny()
    assert isinstance(step, TrainStep)
    before = {m.name: [v.numpy().copy() for v in m.trainable_variables] for m in (g, d, b)}
    logs = {k: float(v) for k, v in step(batch).items()}
    assert set(logs) == {"generator_loss", "discriminator_loss", "baseline_loss", "d_real_acc",
                         "d_fake_acc", "d_labelled_acc", "baseline_labelled_acc"}
    assert all(np.isfinite(v) for v in logs.values())
    # at initialisation the class logits are near 0: cross-entropy near ln 10
    assert logs["baseline_loss"] == pytest.approx(np.log(10), abs=0.1)
    for m in (g, d, b):
        assert any(not np.array_equal(a, v.numpy())
                   for a, v in zip(before[m.name], m.trainable_variables)), m.name


def test_without_unsupervised_loss_d_is_the_baseline(batch):
    # same init, same labelled batches, weight 0: D and the baseline get the same loss
    _, _, _, step = _tiny(weight=0.0)
    logs = step(batch)
    assert float(logs["discriminator_loss"]) == pytest.approx(float(logs["baseline_loss"]),
                                                              abs=1e-5)
    with pytest.raises(ValueError, match="unsupervised_weight"):
        _tiny(weight=-1.0)


def test_each_labelled_image_shares_the_gan_loss_of_its_unlabelled_ones(batch):
    """With r unlabelled (and generated) images per labelled one, D's loss per labelled
    example is its cross-entropy + the weight x the mean GAN loss over its r of each."""
    unlabelled, (labelled, labels) = batch
    keras.utils.set_random_seed(0)
    g = build_dcgan_generator(8, SHAPE, width=8, seed=0)
    d = build_classifier_discriminator(SHAPE, 10, width=8, dropout=0.0, input_noise=0.0, seed=0)
    b = build_classifier_discriminator(SHAPE, 10, width=8, seed=0, name="baseline")
    step = SemiSupervisedGANStep(g, d, b, g_optimizer=keras.optimizers.Adam(1e-3),
                                 d_optimizer=keras.optimizers.Adam(1e-3),
                                 baseline_optimizer=keras.optimizers.Adam(1e-3),
                                 unsupervised_weight=0.5)
    seed = tf.constant([3, 4], tf.int64)
    losses, _ = step.losses((unlabelled, (labelled[:4], labels[:4])), seed)  # r = 2
    fake = g(tf.random.stateless_normal([8, 8], seed), training=True)  # G draws 8
    real_lse, fake_lse = (tf.reduce_logsumexp(d(x)[0], -1) for x in (unlabelled, fake))
    gan = (tf.nn.softplus(-real_lse) + tf.nn.softplus(fake_lse)).numpy()
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(labels[:4], d(labelled[:4])[0])
    np.testing.assert_allclose(losses["discriminator"],
                               cross_entropy + 0.5 * gan.reshape(4, 2).mean(1), rtol=1e-5)
    assert losses["generator"].shape == (8,) and losses["baseline"].shape == (4,)
    assert np.isfinite(float(step((unlabelled, (labelled[:4], labels[:4])))["discriminator_loss"]))
    with pytest.raises(ValueError, match="whole number of unlabelled images per labelled"):
        step.losses((unlabelled, (labelled[:3], labels[:3])), seed)
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="unlabelled_per_labelled"):
            sgan.Config(unlabelled_per_labelled=bad)


def test_labelled_subset_is_per_class_and_seeded():
    labels = np.repeat(np.arange(10), 50)
    picked = sgan.labelled_subset(labels, 10, seed=0)
    assert len(picked) == 100 and len(set(picked)) == 100
    assert np.all(np.bincount(labels[picked]) == 10)
    np.testing.assert_array_equal(picked, sgan.labelled_subset(labels, 10, seed=0))
    assert set(picked) != set(sgan.labelled_subset(labels, 10, seed=1))
    for bad in (0, 51):
        with pytest.raises(ValueError, match="labels_per_class"):
            sgan.labelled_subset(labels, bad)


def test_gains_subtract_the_baseline_and_its_better_weights():
    """The sterner gain subtracts the better of the baseline's averaged and latest weights."""
    dipped = {"gan": 0.77, "baseline": 0.49, "gan_latest": 0.75, "baseline_latest": 0.68}
    assert sgan.gains(dipped) == {"gain": pytest.approx(0.28),
                                  "gain_over_better_baseline": pytest.approx(0.09)}
    steady = {"gan": 0.77, "baseline": 0.70, "gan_latest": 0.75, "baseline_latest": 0.68}
    assert sgan.gains(steady)["gain_over_better_baseline"] == pytest.approx(0.07)
    no_averages = {"gan": 0.75, "baseline": 0.68}
    assert sgan.gains(no_averages) == {"gain": pytest.approx(0.07),
                                       "gain_over_better_baseline": pytest.approx(0.07)}


def test_batches_pair_unlabelled_and_labelled_and_resume_exactly():
    rng = np.random.default_rng(0)
    train = data.ArrayDataset("toy", "train", rng.integers(0, 256, (60, *SHAPE), np.uint8),
                              np.arange(60) % 10, "test", 10)
    cfg = dataclasses.replace(sgan.Config(), batch_size=8, labels_per_class=2,
                              unlabelled_per_labelled=1)
    labelled = sgan.labelled_subset(train.y, 2)
    stream = sgan._batches(cfg, train, labelled)
    first = list(stream(0).take(7))
    (unl, (lab, y)) = first[0]
    assert unl.shape == lab.shape == (8, *SHAPE) and y.shape == (8,)
    assert set(y.numpy()) <= set(range(10))
    labelled_images = data.to_model_range(train.x[labelled])
    for image in lab.numpy():  # labelled images come from the labelled subset only
        assert np.any(np.all(np.isclose(labelled_images, image), axis=(1, 2, 3)))
    resumed = list(stream(5).take(2))
    for a, b in zip(first[5:], resumed):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1][1], b[1][1])
    (more, (few, _)), = sgan._batches(dataclasses.replace(cfg, unlabelled_per_labelled=3),
                                     train, labelled)(0).take(1)
    assert more.shape == (24, *SHAPE) and few.shape == (8, *SHAPE)
    with pytest.raises(ValueError, match="larger than the 20 labelled"):
        sgan._batches(dataclasses.replace(cfg, batch_size=32), train, labelled)


def test_lesson_smoke_saves_classifiers_that_load(tmp_path):
    """The run averages both classifiers' weights, scores and exports the averages, and keeps
    them in its checkpoints; the latest weights are scored beside them."""
    cfg = dataclasses.replace(sgan.Config().smoke(), steps=20, width=8, latent_dim=16,
                              sample_every=10, checkpoint_every=10, batch_size=16)
    assert cfg.classifier_ema == 0.999
    run = sgan.build(cfg, tmp_path / "sgan")
    lessons.fit(run)
    assert run.trainer.global_step == 20
    assert lessons.get("sgan") is sgan
    accuracy = sgan.test_accuracy(run)
    assert set(accuracy) == {"gan", "baseline", "gan_latest", "baseline_latest"}
    assert all(0.0 <= v <= 1.0 for v in accuracy.values())
    averaged, latest = sgan.classifiers(run), sgan.classifiers(run, averaged=False)
    assert averaged["gan"] is run.models["ema_discriminator"]
    assert latest["gan"] is run.models["discriminator"]
    for name in ("gan", "baseline"):  # after 20 steps the average is not the latest
        assert not np.allclose(averaged[name].get_weights()[0], latest[name].get_weights()[0])
    x = data.to_model_range(data.load("fashion_mnist", "test").x[:50])
    for file, name in ((sgan.CLASSIFIER_FILE, "gan"), (sgan.BASELINE_FILE, "baseline")):
        loaded = keras.models.load_model(run.run_dir / file)
        assert loaded.output_shape == (None, 10)
        np.testing.assert_allclose(loaded.predict(x, verbose=0),
                                   classifier_of(averaged[name]).predict(x, verbose=0),
                                   atol=1e-5)
    restored = sgan.build(cfg, run.run_dir)
    assert lessons.restore(restored) == 20
    for name in ("gan", "baseline"):
        for a, b in zip(sgan.classifiers(restored)[name].get_weights(),
                        averaged[name].get_weights()):
            np.testing.assert_array_equal(a, b)


def test_without_weight_averages_the_latest_weights_are_scored(tmp_path):
    cfg = dataclasses.replace(sgan.Config().smoke(), steps=2, batch_size=16,
                              classifier_ema=None)
    run = sgan.build(cfg, tmp_path / "sgan")
    assert "ema_discriminator" not in run.models
    assert sgan.classifiers(run)["gan"] is run.models["discriminator"]
    assert set(sgan.test_accuracy(run)) == {"gan", "baseline"}


def test_generator_option_picks_g_and_rejects_unknown_kinds(tmp_path):
    from ganlib.models.mlp import build_mlp_image_generator

    g = build_mlp_image_generator(16, SHAPE, hidden=(32,), seed=0)
    assert g.output_shape == (None, *SHAPE)
    images = np.asarray(g(np.random.default_rng(0).standard_normal((4, 16)), training=False))
    assert images.min() >= -1 and images.max() <= 1  # tanh pixels
    cfg = dataclasses.replace(sgan.Config().smoke(), width=8, latent_dim=16, batch_size=16)
    assert cfg.generator == "mlp"
    built = {kind: sgan.build(dataclasses.replace(cfg, generator=kind), tmp_path / kind)
             for kind in ("mlp", "dcgan")}
    dense_only = {kind: all(not isinstance(layer, keras.layers.Conv2DTranspose)
                            for layer in run.models["generator"].layers)
                  for kind, run in built.items()}
    assert dense_only == {"mlp": True, "dcgan": False}
    with pytest.raises(ValueError, match="generator='big'.*'mlp' or 'dcgan'"):
        sgan.Config(generator="big")


def test_lr_decay_brings_every_learning_rate_to_zero_at_the_step_budget(tmp_path):
    cfg = dataclasses.replace(sgan.Config().smoke(), steps=4, batch_size=16, lr_decay_from=0.5)
    run = sgan.build(cfg, tmp_path / "sgan")
    optimizers = run.trainer.step.optimizers
    assert sorted(optimizers) == ["baseline", "discriminator", "generator"]
    assert all(float(o.current_learning_rate()) == pytest.approx(cfg.lr)
               for o in optimizers.values())
    lessons.fit(run)
    assert run.trainer.global_step == 4
    assert all(float(o.current_learning_rate()) == 0.0 for o in optimizers.values())
    with pytest.raises(ValueError, match="lr_decay_from needs a step budget"):
        dataclasses.replace(cfg, minutes=1.0, steps=None)
    for share in (1.0, -0.1, "half"):
        with pytest.raises(ValueError, match=r"lr_decay_from=.*in \[0, 1\)"):
            dataclasses.replace(cfg, lr_decay_from=share)


def test_the_watchdog_rolls_back_a_decaying_run_and_halves_its_rates(tmp_path):
    """NaN weights at step 6 of 8: the run goes back to its step-4 checkpoint with the
    learning rates halved, and the decay goes on from there on the halved rates."""

    class Poison(Callback):
        def on_step_end(self, trainer, logs):
            if trainer.global_step == 6 and not getattr(self, "fired", False):
                self.fired = True
                kernel = trainer.step.networks["discriminator"].weights[0]
                kernel.assign(np.full(kernel.shape, np.nan, "f4"))

    cfg = dataclasses.replace(sgan.Config().smoke(), steps=8, checkpoint_every=4,
                              batch_size=16, width=8, latent_dim=16, lr_decay_from=0.5)
    run = sgan.build(cfg, tmp_path / "sgan")
    run.trainer.callbacks.append(Poison())
    lessons.fit(run)
    assert run.trainer.global_step == 8
    rollbacks = [r for r in run.events if r["event"] == "rollback"]
    assert [r["step"] for r in rollbacks] == [4]
    d = run.trainer.step.optimizers["discriminator"]
    assert float(d.learning_rate) == pytest.approx(cfg.lr / 2)
    assert float(d.decay(7)) * cfg.lr / 2 == pytest.approx(cfg.lr / 8)  # the last step's rate
    assert all(np.isfinite(w).all() for w in run.trainer.step.networks["discriminator"]
               .get_weights())


def test_minutes_from_the_command_line_need_the_decay_turned_off(tmp_path, capsys):
    """The default decays its learning rate over its step budget, so `train sgan --minutes M`
    stops with a message naming the way out, and that way gives a constant-rate config."""
    out = tmp_path / "run"
    assert cli.main(["train", "sgan", "--out", str(out), "--minutes", "1"]) == 2
    err = capsys.readouterr().err
    assert "needs a step budget" in err and "--set lr_decay_from=null" in err
    assert not out.exists()
    args = cli._parser().parse_args(["train", "sgan", "--out", str(out), "--minutes", "1",
                                     "--set", "lr_decay_from=null"])
    cfg = cli._train_config(args, sgan)
    assert (cfg.minutes, cfg.steps, cfg.lr_decay_from) == (1.0, None, None)


def test_runs_saved_before_a_knob_existed_load_as_they_trained(tmp_path):
    """A config.json without `lr_decay_from` (saved before the knob) means a constant rate,
    even on a minutes budget, which the decay would refuse, and one without
    `unlabelled_per_labelled` one unlabelled image per labelled one; saved values are kept."""
    import json

    cfg = dataclasses.replace(sgan.Config().smoke(), steps=2, batch_size=16, width=8,
                              latent_dim=16, lr_decay_from=None)
    run = lessons.fit(sgan.build(cfg, tmp_path / "old"))
    path = run.run_dir / "config.json"
    saved = json.loads(path.read_text())
    assert lessons.saved_config(run.run_dir)[1] == cfg
    del saved["lr_decay_from"], saved["unlabelled_per_labelled"]
    path.write_text(json.dumps({**saved, "minutes": 0.05, "steps": None}))
    name, old = lessons.saved_config(run.run_dir)
    assert (name, old.lr_decay_from, old.minutes, old.steps) == ("sgan", None, 0.05, None)
    assert old.unlabelled_per_labelled == 1
    before = path.read_text()
    assert cli.main(["sample", str(run.run_dir), "--n", "4",
                     "--out", str(tmp_path / "s.npz")]) == 0
    assert np.load(tmp_path / "s.npz")["images"].shape[0] == 4
    assert path.read_text() == before  # sampling a run writes nothing to it
    path.write_text(json.dumps({**saved, "lr_decay_from": 0.5, "unlabelled_per_labelled": 3}))
    kept = lessons.saved_config(run.run_dir)[1]
    assert (kept.lr_decay_from, kept.unlabelled_per_labelled) == (0.5, 3)
