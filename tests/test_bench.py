import keras
import numpy as np
import pytest
from keras import layers

from ganlib.bench import step as bench
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

    from ganlib import data
    from ganlib.lessons import dcgan

    cfg = dataclasses.replace(dcgan.Config(), width=8, latent_dim=8, batch_size=16)
    images = data.load("fashion_mnist", "test").x[:64]
    iteration, check, g, d = bench.classic_keras_loop(cfg, images)
    check()  # raises RuntimeError if D did not move in its step or moved in G's
    assert d.trainable is False  # left frozen, as the stacked model expects


def test_bench_all_scores_sgan_by_the_sterner_gain(tmp_path):
    """`bench all` times lesson 06 to +10 points over the better of the baseline's averaged
    and latest weights, so a dip of the baseline's average reaches no target."""
    import dataclasses

    from ganlib import lessons
    from ganlib.lessons import sgan

    cfg = dataclasses.replace(sgan.Config().smoke(), batch_size=16, steps=3)
    run = sgan.build(cfg, tmp_path / "sgan")
    lessons.fit(run)
    value, found = lessons.get("sgan").LESSON.measure(run, smoke=True)
    assert "baseline_latest" in found
    assert value == sgan.gains(found)["gain_over_better_baseline"]
    assert value == pytest.approx(
        found["gan"] - max(found["baseline"], found["baseline_latest"]), abs=1e-4)


@pytest.mark.parametrize("policy, matmul_dtype", [("float32", "float32"),
                                                  ("mixed_bfloat16", "bfloat16")])
def test_bench_step_runs_on_tiny_settings(monkeypatch, policy, matmul_dtype):
    """`bench step` end to end on tiny models: ganlib's step, the classic loop, the matmul in
    the step's compute dtype; the global dtype policy is left as it was."""
    import dataclasses

    from ganlib import precision
    from ganlib.lessons import dcgan

    tiny = dataclasses.replace(dcgan.Config().smoke(), width=8, latent_dim=8, batch_size=16)
    monkeypatch.setattr(dcgan, "Config", lambda: tiny)
    result = bench.bench_step(repeats=2, matmul_n=128, precision=policy)
    assert precision.current() == "float32"
    assert (result["precision"], result["matmul_dtype"]) == (policy, matmul_dtype)
    assert result["bench"] == "step" and result["batch_size"] == 16
    for key in ("ganlib_images_per_s", "classic_images_per_s", "speedup", "step_gflop",
                "matmul_gflops_per_s", "matmul_efficiency", "step_ms_with_data",
                "step_ms_without_data", "heaviest_layer_gflops_per_s",
                "heaviest_layer_matmul_efficiency", "step_share_of_heaviest_layer"):
        assert result[key] > 0, key
    assert result["heaviest_layer"].startswith("conv2d_transpose")  # G's first, widest
    expected = result["step_ms_with_data"] / result["step_ms_without_data"] - 1
    assert result["input_overhead"] == pytest.approx(expected, abs=0.01)


def test_every_lesson_has_one_target_and_unit():
    from ganlib import lessons

    for lesson in (m.LESSON for m in lessons.LESSONS.values()):
        target = lesson.target
        assert target.op in ("<=", ">=") and target.source and lesson.unit
    low = lessons.Target("fid", "<=", 5.0, "here")
    assert low.met(5.0) and not low.met(5.1)
    assert lessons.Target("share", ">=", 0.9, "here").met(0.95)


def test_bench_all_smoke_run_of_sine_writes_json_and_table(tmp_path):
    """`bench all --lessons sine` in smoke mode (conftest sets GANLIB_SMOKE=1): one worker
    process, its figures in bench_all.json and a row of bench_all.md."""
    import json

    from ganlib import cli

    argv = ["bench", "all", "--lessons", "sine", "--minutes", "0.2", "--out", str(tmp_path),
            "--skip-step"]
    assert cli.main(argv) == 0
    report = json.loads((tmp_path / "bench_all.json").read_text())
    assert report["smoke"] is True and report["device"]
    (row,) = report["lessons"]
    assert row["lesson"] == "sine" and "error" not in row
    assert row["images_per_s"] > 0 and row["peak_rss_mib"] > 0 and row["steps"] > 0
    assert row["evaluations"] and row["evaluations"][-1]["step"] == row["steps"]
    assert row["reached"] == any(e["met"] for e in row["evaluations"])
    assert (row["time_to_target_s"] is None) == (not row["reached"])
    assert row["target"]["threshold"] == 0.03  # sine.LESSON.target
    table = (tmp_path / "bench_all.md").read_text()
    assert "| lesson | images/s (train step) | peak RSS MiB | time to target | target |" in table
    assert "| sine |" in table


def test_bench_all_table_lists_failures_and_bench_step():
    from ganlib.bench import all as bench_all

    report = {"device": "CPU: test", "date": "today", "minutes": 1.0, "smoke": False,
              "lessons": [{"lesson": "dcgan", "error": "worker exited with 1; see x.log"}],
              "step": {"batch_size": 64, "ganlib_images_per_s": 500.0,
                       "classic_images_per_s": 160.0, "speedup": 3.1,
                       "step_gflops_per_s": 50.0, "matmul_efficiency": 0.5,
                       "matmul_gflops_per_s": 100.0, "input_overhead": 0.021,
                       "step_ms_with_data": 12.3, "step_ms_without_data": 12.05,
                       "heaviest_layer": "conv2d_transpose", "heaviest_layer_gflops_per_s": 80.0,
                       "heaviest_layer_matmul_efficiency": 0.8,
                       "step_share_of_heaviest_layer": 0.625}}
    table = bench_all.markdown(report)
    assert "| dcgan | failed |" in table and "CPU: test" in table
    assert "ganlib 500 images/s, classic Keras loop 160 (3.1x)" in table
    assert "input pipeline adds 2.1% to the step" in table
    assert "(conv2d_transpose) alone, forward and backward: 80 GFLOP/s, 0.8 of" in table
    assert "the step reaches 0.625 of that" in table


def test_bench_all_names_the_lessons_when_one_is_unknown(capsys):
    from ganlib import cli

    assert cli.main(["bench", "all", "--lessons", "sine,nope"]) == 2
    err = capsys.readouterr().err
    assert "'nope'" in err and "sine, dcgan, cgan" in err


def test_precision_is_refused_outside_bench_step(capsys):
    from ganlib import cli

    assert cli.main(["bench", "quality", "dcgan", "--precision", "mixed_bfloat16"]) == 2
    assert "--precision is for `bench step`" in capsys.readouterr().err


def test_cli_offers_exactly_the_precision_policies():
    from ganlib import cli, precision

    assert cli.PRECISIONS == precision.POLICIES


def test_layer_gflops_of_a_convolution_and_the_heaviest_layer():
    x = keras.Input((8, 8, 4))
    small = layers.Conv2D(2, 3, padding="same")
    big = layers.Conv2DTranspose(16, 4, strides=2, padding="same")
    model = keras.Model(x, big(small(x)))
    assert bench.layer_flops(big) > bench.layer_flops(small) > 0
    assert bench.heaviest_layer(model) is big
    y = keras.Input((4,))
    outer = keras.Model(y, model(layers.Reshape((8, 8, 4))(layers.Dense(256)(y))))
    assert bench.heaviest_layer(outer) is big  # found inside the nested model
    assert bench.forward_flops(outer) == (bench.layer_flops(outer.layers[1])
                                          + bench.forward_flops(model))
    assert bench.layer_flops(layers.ReLU()) == 0
    rate = bench.layer_gflops(big, batch_size=4, rounds=1, repeats=2)
    assert np.isfinite(rate) and rate > 0
