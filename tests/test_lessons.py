import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from ganlib import config, lessons
from ganlib.callbacks import EMA
from ganlib.lessons import base, dcgan, sine


def _checkpoint_steps(run_dir):
    return sorted(int(p.name.split("-")[1].split(".")[0])
                  for p in (run_dir / "checkpoints").glob("ckpt-*.index"))


def test_get_lesson():
    assert lessons.get("sine") is sine and lessons.get("dcgan") is dcgan
    with pytest.raises(KeyError, match="sine"):
        lessons.get("progan")


def test_smoke_configs_are_tiny_and_use_steps():
    for module in (sine, dcgan):
        cfg = module.Config().smoke()
        assert cfg.minutes is None and 0 < cfg.steps <= 300
        assert cfg.checkpoint_every < cfg.steps and cfg.sample_every < cfg.steps
        assert dataclasses.replace(cfg, seed=1).seed == 1


def test_sine_smoke(tmp_path):
    cfg = sine.Config().smoke()
    run = sine.build(cfg, tmp_path / "sine")
    assert lessons.fit(run) is run
    assert run.trainer.global_step == cfg.steps == 300
    steps = [r["step"] for r in run.history]
    assert steps == list(range(cfg.log_every, cfg.steps + 1, cfg.log_every))
    assert _checkpoint_steps(run.run_dir) == [200, 300]
    name, raw = lessons.load_config(run.run_dir)
    assert name == "sine" and raw["steps"] == 300 and raw["g_hidden"] == [64, 64]
    assert [s for s, _ in run.snapshots.frames] == [0, 100, 200, 300]
    points = run.snapshots.frames[-1][1]
    assert points.shape == (1000, 2) and np.isfinite(points).all()
    assert run.generator() is run.models["ema_generator"]
    assert run.generator(ema=False) is run.models["generator"]

    again = sine.build(cfg, tmp_path / "sine")
    assert lessons.restore(again) == 300
    for a, b in zip(again.models["generator"].get_weights(),
                    run.models["generator"].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_dcgan_smoke(tmp_path):
    cfg = dataclasses.replace(dcgan.Config().smoke(), steps=20, width=8, latent_dim=16,
                              sample_every=10, checkpoint_every=10)
    run = dcgan.build(cfg, tmp_path / "dcgan")
    assert run.models["generator"].output_shape == (None, 28, 28, 1)
    assert any(isinstance(cb, EMA) for cb in run.trainer.callbacks)
    lessons.fit(run)
    assert run.trainer.global_step == 20
    assert [r["step"] for r in run.history] == [10, 20]
    assert _checkpoint_steps(run.run_dir) == [10, 20]
    assert json.loads((run.run_dir / "config.json").read_text())["lesson"] == "dcgan"
    assert sorted(p.name for p in (run.run_dir / "samples").glob("*.png")) == [
        "step_0000000.png", "step_0000010.png", "step_0000020.png"]
    assert list((run.run_dir / "tensorboard").glob("events.out.tfevents.*"))
    frames = run.snapshots.frames
    assert frames[-1][1].shape == (64, 28, 28, 1)
    assert np.abs(frames[-1][1]).max() <= 1.0


def test_load_config_on_a_non_run_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="config.json"):
        lessons.load_config(tmp_path)


def test_restore_without_checkpoint(tmp_path):
    run = sine.build(dataclasses.replace(sine.Config().smoke(), xla=False), tmp_path / "r")
    with pytest.raises(FileNotFoundError, match="no readable checkpoint"):
        lessons.restore(run)
    with pytest.raises(FileNotFoundError, match="no best checkpoint"):
        lessons.restore(run, "best")
    with pytest.raises(ValueError, match="'latest' or 'best'"):
        lessons.restore(run, "newest")


def test_default_run_dir_is_under_the_output_dir():
    assert base.run_dir_for("sine") == config.settings().output_dir / "sine"
    assert base.run_dir_for("sine", "elsewhere") == Path("elsewhere")
