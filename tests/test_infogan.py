import contextlib
import dataclasses
import io
import json
import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_output import last_json

from ganlib import cli, data, lessons, metrics
from ganlib.lessons import infogan
from ganlib.losses import categorical_nll, category_information, gaussian_nll
from ganlib.models import build_dcgan_discriminator
from ganlib.models.infogan import (
    build_infogan_discriminator,
    build_infogan_generator,
    category_sweep,
    code_sizes,
    continuous_sweep,
    draw_codes,
    predict_categories,
)
from ganlib.steps import GANStep, InfoGANStep
from ganlib.steps.infogan import noise_sensitivity, pair_rows

SHAPE = (28, 28, 1)
K, M = 10, 2


def _tiny(seed=0, noise_dim=8, **kwargs):
    keras.utils.set_random_seed(seed)
    g = build_infogan_generator(noise_dim, K, M, SHAPE, width=8, seed=seed)
    d = build_infogan_discriminator(SHAPE, K, M, width=8, q_units=16, seed=seed)
    step = InfoGANStep(g, d, seed=seed, g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                       d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), **kwargs)
    return g, d, step


@pytest.fixture
def batch():
    images = np.random.default_rng(0).uniform(-1, 1, (16, *SHAPE)).astype(np.float32)
    return tf.constant(images)


def _values(model):
    return [np.array(v.numpy(), copy=True) for v in model.trainable_variables]


def test_generator_takes_noise_category_and_continuous_codes():
    g = build_infogan_generator(8, K, M, SHAPE, width=8, seed=0)
    assert [t.name for t in g.inputs] == ["noise", "category", "continuous"]
    assert code_sizes(g) == (8, K, M)
    noise, category, continuous = draw_codes(g, 6, seed=1)
    assert noise.shape == (6, 8) and continuous.shape == (6, M)
    assert category.dtype == np.int32 and set(category) <= set(range(K))
    assert np.abs(continuous).max() <= 1
    images = g.predict([noise, category, continuous], verbose=0)
    assert images.shape == (6, *SHAPE) and np.abs(images).max() <= 1
    # the category is what changes the image when noise and continuous codes are fixed
    other = g.predict([noise, (category + 1) % K, continuous], verbose=0)
    assert not np.allclose(images, other)
    with pytest.raises(ValueError, match="out of range"):
        draw_codes(g, 2, categories=[0, K])
    with pytest.raises(ValueError, match="2 x 2"):
        draw_codes(g, 2, continuous=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at least 2 categories"):
        build_infogan_generator(8, 1, M, SHAPE)


def test_q_shares_the_discriminator_body():
    d = build_infogan_discriminator(SHAPE, K, M, width=8, q_units=16, seed=0)
    images = np.random.default_rng(0).uniform(-1, 1, (5, *SHAPE)).astype(np.float32)
    logit, categories, mean, log_std = d(images, training=False)
    assert logit.shape == (5, 1) and categories.shape == (5, K)
    assert mean.shape == log_std.shape == (5, M)
    # Q reads the DCGAN D's features: one hidden layer and three heads more, no second body
    body = build_dcgan_discriminator(SHAPE, width=8)
    features = d.get_layer("logit").input.shape[-1]
    q = (features + 1) * 16 + 17 * (K + 2 * M)
    assert d.count_params() == body.count_params() + q
    assert d.get_layer("q_hidden").input is d.get_layer("logit").input
    assert predict_categories(d, images).shape == (5,)


def test_information_losses_are_negative_log_likelihoods():
    codes = np.array([[0.3, -0.5], [1.0, 0.0]], np.float32)
    mean = np.array([[0.0, -0.4], [0.5, 0.2]], np.float32)
    log_std = np.array([[0.0, -1.0], [0.5, -0.2]], np.float32)
    std = np.exp(log_std)
    expected = (0.5 * ((codes - mean) / std) ** 2 + np.log(std * math.sqrt(2 * math.pi))).sum(1)
    np.testing.assert_allclose(gaussian_nll(codes, mean, log_std).numpy(), expected, rtol=1e-5)
    # a Q sure of itself cannot drive the loss to minus infinity: log-std is clipped
    sure = gaussian_nll(codes[:1], codes[:1], np.full((1, 2), -50.0, np.float32)).numpy()
    assert np.isfinite(sure).all() and sure[0] == pytest.approx(
        2 * (-4.0 + 0.5 * math.log(2 * math.pi)), rel=1e-5)
    logits = np.log(np.array([[0.7, 0.2, 0.1]], np.float32))
    assert categorical_nll([0], logits).numpy()[0] == pytest.approx(-math.log(0.7), rel=1e-5)


def test_category_information_rewards_sure_and_balanced_categories():
    sure_and_balanced = np.eye(K, dtype=np.float32) * 30  # each image sure, every category used
    assert category_information(sure_and_balanced).numpy().mean() == pytest.approx(
        math.log(K), abs=1e-3)
    one_category = np.tile(sure_and_balanced[:1], (K, 1))  # sure, but all in one category
    assert category_information(one_category).numpy().mean() == pytest.approx(0, abs=1e-3)
    unsure = np.zeros((K, K), np.float32)  # uniform for every image
    assert category_information(unsure).numpy().mean() == pytest.approx(0, abs=1e-5)


def test_category_balance_weighs_using_every_category():
    """balance b: b x H(mean p) - H(p); a batch sure but lopsided (two of K categories, 3:1)
    loses more against a balanced one the larger b is."""
    sure = np.eye(K, dtype=np.float32) * 30
    lopsided = sure[[0, 0, 0, 1] * 4]
    h_mean = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    for b in (1.0, 4.0):
        assert category_information(lopsided, b).numpy().mean() == pytest.approx(
            b * h_mean, abs=1e-3)
        assert category_information(sure, b).numpy().mean() == pytest.approx(
            b * math.log(K), abs=1e-3)
    unsure = np.zeros((K, K), np.float32)  # every category used, no image sure: b - 1 nats
    assert category_information(unsure, 4.0).numpy().mean() == pytest.approx(
        3 * math.log(K), abs=1e-4)


def test_one_step_trains_both_networks(batch):
    g, d, step = _tiny()
    assert isinstance(step, GANStep)
    before = {m.name: _values(m) for m in (g, d)}
    logs = step(batch)
    assert set(logs) == {"discriminator_loss", "generator_loss", "d_real_acc", "d_fake_acc",
                         "category_loss", "continuous_loss", "q_category_acc",
                         "real_category_info", "d_adversarial_loss", "g_adversarial_loss"}
    assert all(np.isfinite(float(v)) for v in logs.values())
    # an untrained Q is close to uniform over the categories: cross-entropy near ln 10
    assert float(logs["category_loss"]) == pytest.approx(np.log(K), abs=0.5)
    for model in (g, d):
        moved = [not np.array_equal(a, v.numpy())
                 for a, v in zip(before[model.name], model.trainable_variables)]
        assert all(moved), f"{model.name}: some weights did not move"


def test_information_term_is_added_to_both_losses(batch):
    seed = tf.constant([5, 6], tf.int64)
    results = {}
    for weights in ((0.0, 0.0), (2.0, 0.5)):
        _, _, step = _tiny(category_weight=weights[0], continuous_weight=weights[1])
        losses, logs = step.losses(batch, seed)
        results[weights] = ({k: v.numpy() for k, v in losses.items()},
                            {k: v.numpy() for k, v in logs.items()})
    (plain, _), (informed, logs) = results[(0.0, 0.0)], results[(2.0, 0.5)]
    info = 2.0 * logs["category_loss"] + 0.5 * logs["continuous_loss"]
    for network in ("discriminator", "generator"):
        np.testing.assert_allclose(informed[network] - plain[network], info, rtol=1e-4,
                                   atol=1e-5)


def test_real_information_term_goes_to_d_only(batch):
    """real_info_weight w: D's loss minus w x (H(mean p) - H(p)) on real images; G's unchanged."""
    seed = tf.constant([5, 6], tf.int64)
    plain, _ = _tiny()[2].losses(batch, seed)
    informed, logs = _tiny(real_info_weight=0.5)[2].losses(batch, seed)
    info = logs["real_category_info"].numpy()
    # its batch mean estimates a mutual information with one of K categories: in [0, ln K]
    assert -1e-5 <= info.mean() <= np.log(K) + 1e-5 and np.all(info <= np.log(K) + 1e-5)
    np.testing.assert_allclose(informed["discriminator"].numpy(),
                               plain["discriminator"].numpy() - 0.5 * info, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(informed["generator"].numpy(), plain["generator"].numpy(),
                               rtol=1e-5)
    # with a category balance, D's loss uses the weighted term; the log stays the estimate
    balanced, logs4 = _tiny(real_info_weight=0.5, category_balance=4.0)[2].losses(batch, seed)
    np.testing.assert_allclose(logs4["real_category_info"].numpy(), info, rtol=1e-5)
    weighted = category_information(_tiny()[1](batch, training=True)[1], 4.0).numpy()
    assert weighted.shape == (16,) and not np.allclose(weighted, info, atol=1e-3)
    np.testing.assert_allclose(balanced["discriminator"].numpy(),
                               plain["discriminator"].numpy() - 0.5 * weighted, rtol=1e-4,
                               atol=1e-4)


def test_consistency_term_goes_to_d_only(batch):
    """consistency_weight w: D's loss plus w x the cross-entropy of Q's categories on shifted,
    mirrored real images against those on the originals; G's loss unchanged."""
    seed = tf.constant([5, 6], tf.int64)
    plain, _ = _tiny()[2].losses(batch, seed)
    informed, logs = _tiny(consistency_weight=2.0)[2].losses(batch, seed)
    consistency = logs["category_consistency"].numpy()
    assert consistency.shape == (16,) and np.all(consistency >= 0)
    np.testing.assert_allclose(informed["discriminator"].numpy(),
                               plain["discriminator"].numpy() + 2.0 * consistency, rtol=1e-4,
                               atol=1e-5)
    np.testing.assert_allclose(informed["generator"].numpy(), plain["generator"].numpy(),
                               rtol=1e-5)
    # the intensity jitter changes the moved images, so Q's reading of them
    _, jittered = _tiny(consistency_weight=2.0, intensity_levels=(0.35, 0.75),
                        intensity_gamma=0.5)[2].losses(batch, seed)
    assert not np.allclose(jittered["category_consistency"].numpy(), consistency, atol=1e-6)
    # ... and so does the zoom
    _, zoomed = _tiny(consistency_weight=2.0, max_zoom=0.15)[2].losses(batch, seed)
    assert not np.allclose(zoomed["category_consistency"].numpy(), consistency, atol=1e-6)
    _, stretched = _tiny(consistency_weight=2.0, max_zoom=0.15, max_aspect=0.25)[2].losses(
        batch, seed)
    assert not np.allclose(stretched["category_consistency"].numpy(),
                           zoomed["category_consistency"].numpy(), rtol=0, atol=1e-6)
    _, cut = _tiny(consistency_weight=2.0, max_zoom=0.15, max_aspect=0.25, cutout_size=5)[
        2].losses(batch, seed)
    assert not np.allclose(cut["category_consistency"].numpy(),
                           stretched["category_consistency"].numpy(), rtol=0, atol=1e-6)


def test_pair_rows_and_noise_sensitivity():
    x = tf.constant([[1.0], [2.0], [3.0], [4.0], [5.0]])
    np.testing.assert_array_equal(pair_rows(x).numpy().ravel(), [1, 1, 3, 3, 5])
    np.testing.assert_array_equal(pair_rows(tf.constant([7, 8, 9, 10])).numpy(), [7, 7, 9, 9])
    # pairs (rows 0-1, 2-3; row 4 has no partner): image gaps 2 and 0, noise gaps 1 and 3
    images = tf.constant([[[0.0, 0.0]], [[2.0, -2.0]], [[1.0, 1.0]], [[1.0, 1.0]], [[9.0, 9.0]]])
    noise = tf.constant([[0.0], [1.0], [0.0], [3.0], [5.0]])
    assert float(noise_sensitivity(images, noise)) == pytest.approx(1 / 2)


def test_mode_seeking_term_pairs_the_codes_and_goes_to_g_only(batch):
    """mode_seeking_weight w: fakes 2k and 2k + 1 share their codes, not their noise, and G's
    loss gains w / (image gap / noise gap + 1e-5); D's loss does not change with w."""
    seed = tf.constant([5, 6], tf.int64)
    g, _, step = _tiny(mode_seeking_weight=1.0)
    calls = []
    g.call = _recording(g.call, calls)
    one, logs = step.losses(batch, seed)
    noise, category, continuous = (v.numpy() for v in calls[0])
    np.testing.assert_array_equal(category[::2], category[1::2])
    np.testing.assert_array_equal(continuous[::2], continuous[1::2])
    assert not np.allclose(noise[::2], noise[1::2])
    ratio = logs["mode_seeking_ratio"].numpy()
    assert ratio.shape == (16,) and np.all(ratio == ratio[0]) and ratio[0] > 0
    three, _ = _tiny(mode_seeking_weight=3.0)[2].losses(batch, seed)
    np.testing.assert_allclose(three["generator"].numpy() - one["generator"].numpy(),
                               2.0 / (ratio + 1e-5), rtol=1e-4)
    np.testing.assert_allclose(three["discriminator"].numpy(), one["discriminator"].numpy(),
                               rtol=1e-5)
    plain = _tiny()[2]
    plain_g = plain.networks["generator"]
    calls.clear()
    plain_g.call = _recording(plain_g.call, calls)
    plain.losses(batch, seed)
    assert not np.array_equal(calls[0][1].numpy()[::2], calls[0][1].numpy()[1::2])


def _recording(call, calls):
    def recorded(inputs, *args, **kwargs):
        calls.append(inputs)
        return call(inputs, *args, **kwargs)
    return recorded


def test_q_learns_to_read_the_category_back(batch):
    """G and Q together make the category readable within a couple of hundred steps."""
    _, _, step = _tiny(seed=1, continuous_weight=0.0)
    first = float(step(batch)["category_loss"])
    for _ in range(160):
        last = step(batch)
    assert float(last["category_loss"]) < 0.25 * first
    assert float(last["q_category_acc"]) >= 0.8


def test_step_is_seeded_and_checks_its_models(batch):
    first = {k: float(v) for k, v in _tiny(seed=3)[2](batch).items()}
    again = {k: float(v) for k, v in _tiny(seed=3)[2](batch).items()}
    assert first == pytest.approx(again, abs=1e-6)
    g, d, _ = _tiny()
    adam = dict(g_optimizer=keras.optimizers.Adam(), d_optimizer=keras.optimizers.Adam())
    with pytest.raises(ValueError, match="four|continuous_mean"):
        InfoGANStep(g, build_dcgan_discriminator(SHAPE, 8), **adam)
    with pytest.raises(ValueError, match="three inputs"):
        InfoGANStep(build_dcgan_discriminator(SHAPE, 8), d, **adam)
    with pytest.raises(ValueError, match="3 continuous codes but Q reads 2"):
        InfoGANStep(build_infogan_generator(8, K, 3, SHAPE, width=8), d, **adam)
    with pytest.raises(ValueError, match=">= 0"):
        InfoGANStep(g, d, category_weight=-1, **adam)
    with pytest.raises(ValueError, match="consistency_weight"):
        InfoGANStep(g, d, consistency_weight=-1, **adam)
    for levels in ((0.0, 0.5), (0.6, 0.4), (0.5, 1.2), (0.5,), 0.5, ("low", 1)):
        with pytest.raises(ValueError, match="intensity_levels"):
            InfoGANStep(g, d, intensity_levels=levels, **adam)
    with pytest.raises(ValueError, match="intensity_gamma"):
        InfoGANStep(g, d, intensity_gamma=-0.1, **adam)
    for max_zoom in (-0.1, 1.0):
        with pytest.raises(ValueError, match="max_zoom"):
            InfoGANStep(g, d, max_zoom=max_zoom, **adam)
    for max_aspect in (-0.1, 1.0):
        with pytest.raises(ValueError, match="max_aspect"):
            InfoGANStep(g, d, max_aspect=max_aspect, **adam)
    for cutout_size in (-1, 2.5, SHAPE[0] + 1):
        with pytest.raises(ValueError, match="cutout_size"):
            InfoGANStep(g, d, cutout_size=cutout_size, **adam)
    with pytest.raises(ValueError, match="category_balance"):
        InfoGANStep(g, d, category_balance=-1, **adam)
    with pytest.raises(ValueError, match="mode_seeking_weight"):
        InfoGANStep(g, d, mode_seeking_weight=-1, **adam)


def test_code_sweeps_vary_one_code_at_a_time():
    g = build_infogan_generator(8, K, M, SHAPE, width=8, seed=0)
    grid = category_sweep(g, rows=3, seed=2)
    assert grid.shape == (3 * K, *SHAPE)
    # within a row only the category changes: columns differ, and the row's first image is
    # what its noise gives for category 0
    noise = draw_codes(g, 3, seed=2)[0]
    first = g.predict([noise, np.zeros(3, np.int32), np.zeros((3, M), np.float32)], verbose=0)
    np.testing.assert_allclose(grid[::K], first, atol=1e-5)
    assert not np.allclose(grid[0], grid[1])
    values = [-2, 0, 2]
    sweep = continuous_sweep(g, 1, values, seed=2)
    assert sweep.shape == (K * len(values), *SHAPE)
    middle = sweep[1::len(values)]  # code 1 at 0: the category sweep of the same noise
    single = category_sweep(g, rows=1, seed=2)
    np.testing.assert_allclose(middle, single, atol=1e-5)
    with pytest.raises(ValueError, match="continuous code 2 does not exist"):
        continuous_sweep(g, 2)


def test_cluster_accuracy_matches_clusters_to_classes():
    labels = np.repeat(np.arange(4), 5)
    renamed = (labels + 1) % 4  # perfect clusters under other names
    result = metrics.cluster_accuracy(renamed, labels)
    assert result["accuracy"] == 1.0
    assert result["matching"] == {1: 0, 2: 1, 3: 2, 0: 3}
    # two classes merged into one cluster: one of them is matched, the other is wrong
    merged = np.where(labels == 3, 2, labels)
    assert metrics.cluster_accuracy(merged, labels)["accuracy"] == 0.75
    # one cluster per image of class 0: only one of them can be matched to class 0
    split = labels.copy()
    split[labels == 0] = [10, 11, 12, 13, 14]
    assert metrics.cluster_accuracy(split, labels)["accuracy"] == pytest.approx(16 / 20)
    with pytest.raises(ValueError, match="same length"):
        metrics.cluster_accuracy(labels[:3], labels)
    with pytest.raises(ValueError, match="non-negative integers"):
        metrics.cluster_accuracy(labels - 1, labels)


def test_kmeans_reference_is_far_above_chance_and_below_a_classifier():
    test = data.load("fashion_mnist", "test")
    accuracy = metrics.kmeans_pixel_accuracy(test.x[:3000], test.y[:3000])
    assert 0.3 < accuracy < 0.75


def test_lesson_smoke_build_fit_restore_and_cluster_accuracy(tmp_path):
    cfg = dataclasses.replace(infogan.Config().smoke(), steps=20, width=8, latent_dim=16,
                              sample_every=10, checkpoint_every=10)
    run = infogan.build(cfg, tmp_path / "infogan")
    assert lessons.get("infogan") is infogan
    lessons.fit(run)
    assert run.trainer.global_step == 20
    assert {"category_loss", "q_category_acc"} <= set(run.history[-1])
    frames = run.snapshots.frames
    assert frames[-1][1].shape == (10 * K, *SHAPE) and np.abs(frames[-1][1]).max() <= 1
    assert [e["step"] for e in run.events if e["event"] == "eval"] == [10, 20]
    result = infogan.cluster_accuracy(run)
    assert 0.1 <= result["accuracy"] <= 1.0 and len(result["matching"]) <= K
    test = data.load("fashion_mnist", "test")
    found = predict_categories(run.models["discriminator"], data.to_model_range(test.x))
    assert result["accuracy"] == metrics.cluster_accuracy(found, test.y)["accuracy"]

    again = infogan.build(cfg, tmp_path / "infogan")
    assert lessons.restore(again) == 20
    assert infogan.cluster_accuracy(again)["accuracy"] == result["accuracy"]
    codes = draw_codes(run.generator(), 4, seed=3)
    np.testing.assert_allclose(again.generator().predict(codes, verbose=0),
                               run.generator().predict(codes, verbose=0), atol=1e-5)


def _cli(args) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(args)
    return code, buf.getvalue()



def test_cli_sample_writes_categories_as_labels_and_evaluate_matches_them(tmp_path):
    run_dir = tmp_path / "infogan"
    code, out = _cli(["train", "infogan", "--out", str(run_dir), "--steps", "2", "--smoke"])
    assert code == 0 and last_json(out)["step"] == 2
    samples = tmp_path / "codes.npz"
    code, out = _cli(["sample", str(run_dir), "--n", "30", "--out", str(samples)])
    assert code == 0
    with np.load(samples) as f:
        assert sorted(f) == ["continuous", "images", "labels"]
        images, labels, continuous = f["images"], f["labels"], f["continuous"]
    assert images.shape == (30, *SHAPE) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.arange(30) % K)  # the categories in turn
    assert continuous.shape == (30, infogan.Config().num_continuous)
    assert np.abs(continuous).max() <= 1
    code, out = _cli(["evaluate", str(samples), "--dataset", "fashion_mnist"])
    assert code == 0
    result = last_json(out)
    assert 0.0 < result["category_accuracy"] <= 1.0 and result["fid"] > 0
    assert "intended_share" not in result  # categories are not classes
    assert "fid" in result["real"]


def test_cli_sets_the_intensity_levels_and_resumes_with_them(tmp_path):
    """`--set intensity_levels=[low, high]` (JSON has lists, the Config a tuple) trains with
    them, and `--resume` reads them back from config.json; null turns the levelling off."""
    run_dir = tmp_path / "infogan"
    code, out = _cli(["train", "infogan", "--out", str(run_dir), "--steps", "2", "--smoke",
                      "--set", "intensity_levels=[0.2, 0.5]"])
    assert code == 0 and last_json(out)["step"] == 2
    assert json.loads((run_dir / "config.json").read_text())["intensity_levels"] == [0.2, 0.5]
    code, out = _cli(["train", "infogan", "--out", str(run_dir), "--resume", "--steps", "3"])
    assert code == 0 and last_json(out)["step"] == 3
    off = cli._set_options(["intensity_levels=null"], infogan.Config(), resume=False)
    assert off == {"intensity_levels": None}


def test_quality_bench_reports_the_median_over_seeds(monkeypatch):
    tiny = dataclasses.replace(infogan.Config().smoke(), width=8, batch_size=16)
    monkeypatch.setattr(infogan, "Config", lambda: tiny)
    result = infogan.quality_bench(minutes=0.02, seeds=3, n=200)
    assert [s["seed"] for s in result["seeds"]] == [0, 1, 2]
    accuracies = [s["test_accuracy"] for s in result["seeds"]]
    assert all(s["steps"] > 0 and 0.1 <= s["test_accuracy"] <= 1 for s in result["seeds"])
    assert result["median_test_accuracy"] == sorted(accuracies)[1]
    assert 0.3 < result["kmeans_pixels_test_accuracy"] < 0.75


def test_quality_bench_takes_a_step_budget(monkeypatch, capsys):
    from ganlib import cli

    tiny = dataclasses.replace(infogan.Config().smoke(), width=8, batch_size=16)
    monkeypatch.setattr(infogan, "Config", lambda: tiny)
    result = infogan.quality_bench(seeds=1, n=100, steps=3, first_seed=2)
    assert result["steps"] == 3 and result["minutes"] is None
    assert [(s["seed"], s["steps"]) for s in result["seeds"]] == [(2, 3)]
    for wrong in (["--steps", "0"], ["--steps", "5", "--minutes", "1"]):
        assert cli.main(["bench", "quality", "infogan", *wrong]) == 2
        assert "--steps (a positive step budget" in capsys.readouterr().err
    assert cli.main(["bench", "quality", "dcgan", "--steps", "5"]) == 2
    assert "is for `bench quality infogan` or `sgan`" in capsys.readouterr().err
