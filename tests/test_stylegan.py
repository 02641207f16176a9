"""Lesson 11: the style-based generator's layers and parts, style mixing, noise, truncation,
the StyleGAN step, the lesson's config, checkpoints and the CLI (two replicas: test_distribute)."""

import dataclasses
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_output import last_json

from ganlib import cli, lessons
from ganlib.lessons import stylegan
from ganlib.models import build_dcgan_discriminator
from ganlib.models import stylegan as sg
from ganlib.steps.stylegan import StyleGANStep

LATENT, W_DIM = 8, 8


def tiny_generator(seed=0):
    keras.utils.set_random_seed(seed)
    return sg.build_stylegan_generator(LATENT, W_DIM, (32, 32, 1), width=4, max_width=8,
                                       mapping_layers=2, seed=seed)


def z_of(n, seed=0):
    return np.random.default_rng(seed).standard_normal((n, LATENT)).astype("f4")


def with_noise_and_w_avg(g):
    """Noise that matters (strengths start at 0) and a w_avg away from 0."""
    for layer in g.get_layer("synthesis").layers:
        if isinstance(layer, sg.NoiseInjection):
            layer.strength.assign(np.ones(layer.strength.shape, "f4"))
    g.get_layer("truncation").w_avg.assign(np.linspace(-1, 1, W_DIM).astype("f4"))
    return g


# --- the generator --------------------------------------------------------------------------
def test_generator_shapes_and_parts():
    g = tiny_generator()
    images = np.asarray(g(z_of(5)))
    assert images.shape == (5, 32, 32, 1)
    assert np.isfinite(images).all() and -1 <= images.min() and images.max() <= 1
    mapping, truncation, synthesis = sg.parts(g)
    assert g.inputs[0].shape[-1] == LATENT and mapping.output.shape[-1] == W_DIM
    assert sg.num_ws(32) == 8 and synthesis.inputs[0].shape[1:] == (8, W_DIM)
    assert [x.shape[1] for x in synthesis.inputs[1:]] == sg.noise_sides(32) == [4, 8, 8, 16, 16,
                                                                             32, 32]
    assert sg.block_widths(32, 16, 128) == [128, 64, 32, 16]
    assert truncation.w_avg.trainable is False
    np.testing.assert_allclose(images, g(z_of(5)))  # G(z) is deterministic (fixed noise)


@pytest.mark.parametrize("side", [28, 4, 48])
def test_sides_that_do_not_double_from_4_are_refused(side):
    with pytest.raises(ValueError, match="power of 2"):
        sg.block_sides(side)


def test_modulated_conv_demodulates_each_image():
    """Whatever the style, each output channel has unit expected energy: a style that
    scales every input channel by 10 gives the same output as one that scales them by 1."""
    layer = sg.ModulatedConv2D(6, 3, use_bias=False, seed=1)
    x = tf.random.normal([2, 8, 8, 4], seed=2)
    w = tf.random.normal([2, 5], seed=3)
    out = layer([x, w])
    layer.affine_kernel.assign(np.zeros((5, 4), "f4"))
    layer.affine_bias.assign(np.full(4, 10.0, "f4"))
    ten = layer([x, w])
    layer.affine_bias.assign(np.ones(4, "f4"))
    np.testing.assert_allclose(ten, layer([x, w]), rtol=1e-4, atol=1e-5)
    assert not np.allclose(out, ten)  # the style did matter before


def test_generator_saves_and_loads_with_its_custom_layers(tmp_path):
    g = with_noise_and_w_avg(tiny_generator())
    path = tmp_path / "g.keras"
    g.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(loaded.predict(z_of(4), verbose=0), g.predict(z_of(4), verbose=0),
                               atol=1e-6)
    np.testing.assert_array_equal(loaded.get_layer("truncation").w_avg.numpy(),
                                  g.get_layer("truncation").w_avg.numpy())
    kinds = {type(layer).__name__ for layer in loaded.get_layer("synthesis").layers}
    assert {"ModulatedConv2D", "NoiseInjection", "ConstantInput", "SelectW"} <= kinds
    clone = keras.models.clone_model(g)  # what the EMA callback does
    assert [w.shape for w in clone.weights] == [w.shape for w in g.weights]


# --- style mixing, noise, truncation ----------------------------------------------------------
def test_style_mixing_takes_the_second_w_for_the_chosen_layers_only():
    g = tiny_generator()
    ws_a, ws_b, ws_c = (sg.ws_of(g, z_of(3, seed)) for seed in (1, 2, 3))
    coarse, fine = range(0, 4), range(4, 8)
    image = lambda ws: sg.synthesize(g, ws=ws)  # noqa: E731
    a = image(ws_a)
    with_b, with_c = image(sg.mix_ws(ws_a, ws_b, coarse)), image(sg.mix_ws(ws_a, ws_c, coarse))
    assert np.abs(with_b - a).max() > 1e-3 and np.abs(with_b - with_c).max() > 1e-3
    # no layers mixed: the second w does not matter
    np.testing.assert_array_equal(image(sg.mix_ws(ws_a, ws_b, range(0))), a)
    np.testing.assert_array_equal(image(sg.mix_ws(ws_a, ws_c, range(0))), a)
    # B's fine layers only, with the coarse ones from A: changing B's coarse ws changes nothing
    hybrid = ws_b.copy()
    hybrid[:, coarse] = ws_c[:, coarse]
    np.testing.assert_array_equal(image(sg.mix_ws(ws_a, ws_b, fine)),
                                  image(sg.mix_ws(ws_a, hybrid, fine)))


def step_for(g, mixing_prob=0.9, r1_gamma=0.0, d_norm="batch", seed=0):
    d = build_dcgan_discriminator((32, 32, 1), 4, seed=seed, norm=d_norm)
    return StyleGANStep(g, d, g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                        d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), seed=seed,
                        mixing_prob=mixing_prob, r1_gamma=r1_gamma)


@pytest.mark.parametrize("mixing_prob", [0.0, 1.0, 0.5])
def test_the_step_mixes_two_ws_at_a_crossover_per_example(mixing_prob):
    step = step_for(tiny_generator(), mixing_prob=mixing_prob)
    ws, w1 = (t.numpy() for t in step.mixed_ws(256, tf.constant([5, 6], tf.int64)))
    assert ws.shape == (256, 8, W_DIM)
    first = np.all(ws == w1[:, None], axis=-1)  # n x num_ws: the layers that take w1
    crossover = first.sum(axis=1)
    assert first[:, 0].all()  # every example starts with w1 ...
    assert (first == (np.arange(8) < crossover[:, None])).all()  # ... and switches once
    mixed = crossover < 8
    if mixing_prob == 0.0:
        assert not mixed.any()
    elif mixing_prob == 1.0:
        assert mixed.all() and set(crossover) == set(range(1, 8))
    else:
        assert 0.35 < mixed.mean() < 0.65


def test_noise_changes_details_and_fixed_noise_is_repeatable():
    g = with_noise_and_w_avg(tiny_generator())
    z = z_of(3)
    fixed = sg.synthesize(g, z)
    np.testing.assert_array_equal(fixed, sg.synthesize(g, z))
    np.testing.assert_allclose(fixed, g.predict(z, verbose=0), atol=1e-6)
    one, two = (sg.synthesize(g, z, noise=sg.random_noise(g, 3, s)) for s in (1, 2))
    assert np.abs(one - two).max() > 1e-3
    np.testing.assert_array_equal(one, sg.synthesize(g, z, noise=sg.random_noise(g, 3, 1)))


def test_truncation_to_zero_gives_the_average_image_for_every_z():
    g = with_noise_and_w_avg(tiny_generator())
    images = sg.synthesize(g, z_of(6), psi=0.0)
    avg = g.get_layer("truncation").w_avg.numpy()
    average = sg.synthesize(g, ws=np.tile(avg, (1, 8, 1)))
    np.testing.assert_allclose(images, np.repeat(average, 6, axis=0), atol=1e-5)
    # psi 1 leaves z's ws alone; psi between pulls images towards the average one
    free, half = sg.synthesize(g, z_of(6)), sg.synthesize(g, z_of(6), psi=0.5)
    np.testing.assert_allclose(free, g.predict(z_of(6), verbose=0), atol=1e-6)
    assert np.abs(half - average).mean() < np.abs(free - average).mean()


# --- the step ---------------------------------------------------------------------------------
@pytest.mark.parametrize("r1_gamma,d_norm", [(0.0, "batch"), (1.0, "none")])
def test_the_step_trains_both_networks_and_moves_w_avg(r1_gamma, d_norm):
    g = tiny_generator()
    step = step_for(g, r1_gamma=r1_gamma, d_norm=d_norm)
    d = step.networks["discriminator"]
    before = {"g": [w.numpy() for w in g.trainable_weights],
              "d": [w.numpy() for w in d.trainable_weights]}
    real = tf.constant(np.random.default_rng(1).uniform(-1, 1, (8, 32, 32, 1)), tf.float32)
    for _ in range(3):
        logs = {k: float(v) for k, v in step(real).items()}
    assert all(np.isfinite(v) for v in logs.values()), logs
    for name, model in (("g", g), ("d", d)):
        moved = [not np.array_equal(b, w.numpy()) for b, w in zip(before[name],
                                                                    model.trainable_weights)]
        assert all(moved), f"{name}: {sum(moved)} of {len(moved)} weights moved"
    assert np.abs(g.get_layer("truncation").w_avg.numpy()).sum() > 0
    assert ("r1_penalty" in logs) == (r1_gamma > 0)
    if r1_gamma:
        assert logs["r1_penalty"] > 0


# --- the lesson -------------------------------------------------------------------------------
@pytest.mark.parametrize("change,message", [
    (dict(mixing_prob=1.5), "mixing_prob"), (dict(r1_gamma=-1.0), "r1_gamma"),
    (dict(w_avg_beta=1.0), "w_avg_beta"), (dict(d_norm="spectral"), "d_norm"),
    (dict(width=0), "width"), (dict(width=64, max_width=32), "max_width"),
    (dict(mapping_lr_mul=0.0), "mapping_lr_mul"), (dict(loss="wasserstein_gp"), "loss"),
    (dict(mapping_layers=1.5), "mapping_layers"),
])
def test_bad_settings_are_refused_clearly(change, message):
    with pytest.raises(ValueError, match=message):
        stylegan.Config(**change)


def test_padding_and_cropping_invert_each_other():
    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1), dtype=np.uint8)
    padded = stylegan.pad(x)
    assert padded.shape == (3, 32, 32, 1) and padded[:, :2].max() == 0
    np.testing.assert_array_equal(stylegan.crop(padded), x)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    cfg = dataclasses.replace(stylegan.Config().smoke(), steps=20, checkpoint_every=10,
                              sample_every=10)
    run = stylegan.build(cfg, tmp_path_factory.mktemp("stylegan") / "run", fresh=True)
    run.trainer.progress = False
    return lessons.fit(run)


def test_a_smoke_run_restores_with_the_same_weights_and_samples(smoke_run):
    cfg = smoke_run.config
    assert smoke_run.trainer.global_step == cfg.steps
    assert any(e["event"] == "eval" for e in smoke_run.events)
    restored = stylegan.build(cfg, smoke_run.run_dir)
    assert lessons.restore(restored) == cfg.steps
    for name, model in smoke_run.models.items():
        for saved, loaded in zip(model.get_weights(), restored.models[name].get_weights()):
            np.testing.assert_array_equal(saved, loaded)
    np.testing.assert_allclose(stylegan.sample(restored, 4, psi=0.7),
                               stylegan.sample(smoke_run, 4, psi=0.7), atol=1e-6)


def test_the_lesson_helpers_shapes(smoke_run):
    grid = stylegan.style_mix(smoke_run, rows=2, cols=3)
    assert grid["a"].shape == (2, 32, 32, 1) and grid["mixed"].shape == (2, 3, 32, 32, 1)
    coarse, fine = stylegan.coarse_fine(smoke_run)
    assert list(coarse) == [0, 1, 2, 3] and list(fine) == [4, 5, 6, 7]
    noise = stylegan.resample_noise(smoke_run, n_images=2, n_noise=3)
    assert noise["images"].shape == (2, 3, 32, 32, 1) and noise["std"].shape == (2, 32, 32, 1)
    sweep = stylegan.truncation_sweep(smoke_run, n=3)
    assert sweep.shape == (4, 3, 32, 32, 1)
    np.testing.assert_allclose(sweep[-1], np.repeat(sweep[-1][:1], 3, 0), atol=1e-5)
    scores = stylegan.evaluate(smoke_run, n=200)
    assert set(scores) == {"real (train)", "psi=1.0", "psi=0.7"}
    assert all(np.isfinite(s["fid"]) for s in scores.values())


def test_cli_trains_and_samples(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", "stylegan", "--out", str(out), "--steps", "3", "--smoke"]) == 0
    assert last_json(capsys.readouterr().out)["step"] == 3
    npz = tmp_path / "samples.npz"
    assert cli.main(["sample", str(out), "--n", "5", "--out", str(npz)]) == 0
    with np.load(npz) as f:
        assert f["images"].shape == (5, 28, 28, 1)  # cropped and f["images"].dtype == np.uint8
    assert json.loads((out / "config.json").read_text())["lesson"] == "stylegan"



def test_quality_bench_scores_both_psis_next_to_the_real_floor_and_lesson_02(monkeypatch, capsys):
    from ganlib.lessons import dcgan

    tiny = stylegan.Config().smoke()
    monkeypatch.setattr(stylegan, "Config", lambda: tiny)
    result = stylegan.quality_bench(minutes=0.01, n=200)
    assert capsys.readouterr().out == ""  # the CLI prints one JSON line
    assert result["bench"] == "quality-stylegan" and result["n"] == 200 and result["steps"] > 0
    assert result["real_fid_floor"] < min(result["fid"], result["fid_psi_0.7"])
    assert result["lesson_02_fid"] == dcgan.TEN_MINUTE_FID
    assert 0 <= result["class_entropy_bits"] <= np.log2(10) + 1e-6
