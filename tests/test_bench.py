import keras
import numpy as np
import pytest
from keras import layers

from ganlib import bench
from ganlib.models import build_mlp_generator


def _tiny():
    x = keras.Input((8, 8, 2))
    h = layers.Conv2D(3, 3, strides=2, padding="same")(x)  # -> 4 x 4 x 3
    h = layers.Conv2DTranspose(5, 4, strides=2, padding="same")(h)  # -> 8 x 8 x 5
    h = layers.Flatten()(h)  # 320
    return keras.Model(x, layers.Dense(7)(h))


CONV = 2 * (4 * 4) * 2 * 3 * (3 * 3)  # output positions x cin x cout x kernel = 1728
TCONV = 2 * (4 * 4) * 3 * 5 * (4 * 4)  # input positions x cin x cout x kernel = 7680
DENSE = 2 * 320 * 7  # 4480


def test_forward_flops_by_hand():
    assert CONV + TCONV + DENSE == 13888
    assert bench.forward_flops(_tiny()) == CONV + TCONV + DENSE


@pytest.mark.parametrize("layer, shape, expected", [
    (layers.Dense(6), (5,), 2 * 5 * 6),
    (layers.Conv2D(4, 3, padding="valid"), (6, 6, 2), 2 * 4 * 4 * 2 * 4 * 9),
    (layers.Conv2D(4, 1, strides=3, padding="same"), (9, 9, 3), 2 * 3 * 3 * 3 * 4 * 1),
    (layers.Conv2DTranspose(2, 3, strides=2, padding="same"), (5, 5, 4), 2 * 25 * 4 * 2 * 9),
    (layers.BatchNormalization(), (4, 4, 2), 0),
])  # fmt: skip
def test_forward_flops_single_layers(layer, shape, expected):
    x = keras.Input(shape)
    assert bench.forward_flops(keras.Model(x, layer(x))) == expected


def test_forward_flops_of_nested_models_and_mlp():
    inner = _tiny()
    x = keras.Input((8, 8, 2))
    outer = keras.Model(x, layers.Dense(3)(inner(x)))
    assert bench.forward_flops(outer) == CONV + TCONV + DENSE + 2 * 7 * 3
    g = build_mlp_generator(latent_dim=4, hidden=(10,), output_dim=2)
    assert bench.forward_flops(g) == 2 * (4 * 10 + 10 * 2)


def test_gan_step_flops():
    g = build_mlp_generator(latent_dim=4, hidden=(10,), output_dim=2)
    d = _tiny()
    assert bench.gan_step_flops(g, d) == 3 * (120 + 2 * 13888)


def test_classic_keras_loop_trains_d_only_in_its_own_update():
    """The comparison loop must be the *correct* Keras 3 recipe: check() raises otherwise."""
    import dataclasses

    from ganlib import bench, data
    from ganlib.lessons import dcgan

    cfg = dataclasses.replace(dcgan.Config(), width=8, latent_dim=8, batch_size=16)
    images = data.load("fashion_mnist", "test").x[:64]
    iteration, check, g, d = bench.classic_keras_loop(cfg, images)
    check()  # raises RuntimeError if D did not move in its step or moved in G's
    assert d.trainable is False  # left frozen, as the stacked model expects


def test_quality_bench_of_cgan_reports_its_metric_next_to_real_signs(monkeypatch):
    import dataclasses

    from ganlib.lessons import cgan

    tiny = dataclasses.replace(cgan.Config().smoke(), n_per_class=100, width=8)
    monkeypatch.setattr(cgan, "Config", lambda: tiny)
    result = bench.bench_quality_cgan(minutes=0.02, n_per_class=20)
    assert result["bench"] == "quality-cgan" and result["steps"] > 0
    assert set(result["per_class"]) == set(cgan.CLASS_NAMES)
    for who in ("intended_share", "untrained_intended_share", "real_intended_share"):
        assert 0.0 <= result[who] <= 1.0
    assert result["real_intended_share"] > 0.9  # real signs: the judge knows them


def test_quality_bench_of_a_lesson_without_one_is_a_clear_error(capsys):
    from ganlib import cli

    assert cli.main(["bench", "quality", "sine"]) == 2
    assert "no quality benchmark for lesson 'sine'" in capsys.readouterr().err


def test_quality_bench_of_sgan_averages_label_draws(monkeypatch):
    import dataclasses

    from ganlib.lessons import sgan

    tiny = dataclasses.replace(sgan.Config().smoke(), batch_size=16)
    monkeypatch.setattr(sgan, "Config", lambda: tiny)
    result = bench.bench_quality_sgan(minutes=0.02, draws=2)
    assert [d["label_seed"] for d in result["draws"]] == [0, 1]
    assert all(d["steps"] > 0 and 0 <= d["gan"] <= 1 and 0 <= d["baseline"] <= 1
               for d in result["draws"])
    mean = np.mean([d["gan"] for d in result["draws"]])
    assert result["mean_gan_accuracy"] == pytest.approx(mean, abs=1e-4)
    assert result["mean_gain_points"] == pytest.approx(
        100 * (result["mean_gan_accuracy"] - result["mean_baseline_accuracy"]), abs=0.02)
