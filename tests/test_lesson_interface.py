"""A lesson is one module: a toy lesson, defined in this file and registered here, trains,
samples, evaluates and is benchmarked through the CLI with no other file changed; and every
lesson's `build` takes a learner's own networks and step, checked."""

import dataclasses
import json
import os
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_output import last_json

from ganlib import cli, data, lessons
from ganlib.losses import AdversarialLoss
from ganlib.models import build_mlp_discriminator, build_mlp_generator
from ganlib.optimizers import FusedAdam
from ganlib.steps import GANStep

# --- the toy lesson: everything a lesson declares, in one module (this one) -----------------
NAME = "toy"


@dataclasses.dataclass
class Config:
    minutes: float | None = None
    steps: int | None = 40
    batch_size: int = 50
    latent_dim: int = 4
    lr: float = 2e-3
    ema_decay: float | None = None
    seed: int = 0
    log_every: int = 10
    sample_every: int = 20
    checkpoint_every: int = 20

    def smoke(self):
        return self


def build(cfg: Config, run_dir=None, fresh: bool = False, step_class=None, **overrides):
    from ganlib.lessons import base

    run_dir = base.run_dir_for(NAME, run_dir)
    base.seed_everything(cfg.seed)
    train = data.load("sine", "train", seed=cfg.seed)
    nets = base.networks(NAME, overrides,
                         generator=lambda: build_mlp_generator(cfg.latent_dim, (16,), 2),
                         discriminator=lambda: build_mlp_discriminator(2, (16,)))
    step = base.step_class(NAME, step_class, GANStep)(
        nets["generator"], nets["discriminator"], g_optimizer=FusedAdam(cfg.lr),
        d_optimizer=FusedAdam(cfg.lr), loss=AdversarialLoss(), seed=cfg.seed)
    return base.assemble(NAME, cfg, run_dir, step, train.x, n_snapshot=100, images=False,
                         fresh=fresh)


def measure(run, smoke: bool = False):
    from ganlib.lessons.sine import mean_abs_error

    return mean_abs_error(run.generator(), n=500, seed=1), {}


LESSON = lessons.Lesson(
    number=99, name=NAME, title="A toy lesson", measure=measure, unit="points",
    target=lessons.Target("mean |y - sin x|", "<=", 10.0, "a toy's: any trained run"),
    output="points",
)


# --- the toy through the CLI and `bench all` ------------------------------------------------
@pytest.fixture
def toy():
    module = sys.modules[__name__]
    lessons.register(module)
    yield module
    lessons.LESSONS.pop(NAME)


def test_a_lesson_defined_in_a_test_trains_samples_evaluates_and_benchmarks(toy, tmp_path,
                                                                           capsys, monkeypatch):
    assert lessons.get("toy") is toy and "toy" in lessons.names()
    out = tmp_path / "run"
    assert cli.main(["train", "toy", "--out", str(out)]) == 0, capsys.readouterr().err
    assert last_json(capsys.readouterr().out)["step"] == 40
    samples = tmp_path / "points.npz"
    assert cli.main(["sample", str(out), "--n", "200", "--out", str(samples)]) == 0
    with np.load(samples) as f:
        assert f["points"].shape == (200, 2)
    capsys.readouterr()
    assert cli.main(["evaluate", str(samples)]) == 0
    assert np.isfinite(last_json(capsys.readouterr().out)["mean_abs_error"])

    # `bench all` trains each lesson in a worker process, which finds the toy by its module
    monkeypatch.setenv("GANLIB_LESSONS", __name__)
    path = [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in path if p))
    bench = tmp_path / "bench"
    assert cli.main(["bench", "all", "--lessons", "toy", "--minutes", "0.5", "--skip-step",
                     "--evaluations", "2", "--out", str(bench)]) == 0, (bench / "toy.log")
    report = json.loads((bench / "bench_all.json").read_text())
    [row] = report["lessons"]
    assert row["lesson"] == "toy" and row["unit"] == "points"
    assert row["target"]["text"] == "mean |y - sin x| <= 10" and row["reached"]
    assert row["step_at_target"] == 20  # the first of 2 evaluations over its 40 steps met it
    assert "| toy |" in (bench / "bench_all.md").read_text()


def test_register_refuses_a_module_that_declares_no_lesson():
    with pytest.raises(TypeError, match="declares no `LESSON"):
        lessons.register(dataclasses)


def test_what_the_cli_does_is_read_from_each_lesson_not_guessed(capsys):
    """Capabilities are declared: the translators are the lessons whose generator takes
    images, and `translate` refuses the others by name."""
    declared = {name: m.LESSON for name, m in lessons.LESSONS.items()}
    assert {n for n, d in declared.items() if d.translate} == {"pix2pix", "cyclegan", "srgan"}
    assert {n for n, d in declared.items() if d.inputs == "noise+class"} == {"cgan", "acgan"}
    assert declared["stylegan"].crop is not None and declared["sine"].output == "points"
    assert [d.number for d in declared.values()] == list(range(1, 12))
    for d in declared.values():
        assert Path(__file__).parents[1].joinpath(d.notebook).exists(), d.notebook
    assert lessons.get("losses") is lessons.get("gan_losses")  # runs saved under the old name


# --- a learner's own pieces through `build` --------------------------------------------------
def _sine_cfg():
    from ganlib.lessons import sine

    return dataclasses.replace(sine.Config().smoke(), steps=3, log_every=1, sample_every=0,
                               checkpoint_every=100)


class HingeStep(GANStep):
    """A learner's own losses(): the hinge loss, written out (per example, as the step's
    `losses()` returns them)."""

    def losses(self, real, seed):
        g, d = self.networks["generator"], self.networks["discriminator"]
        noise = tf.random.stateless_normal([tf.shape(real)[0], self.latent_dim], seed)
        real_logits = d(real, training=True)[:, 0]
        fake_logits = d(g(noise, training=True), training=True)[:, 0]
        return {"discriminator": tf.nn.relu(1 - real_logits) + tf.nn.relu(1 + fake_logits),
                "generator": -fake_logits}, {"mean_fake_logit": fake_logits}


def test_build_trains_a_learners_own_discriminator_and_step(tmp_path):
    from ganlib.lessons import sine

    mine = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.Dense(1)], name="my_d")
    run = sine.build(_sine_cfg(), tmp_path / "run", discriminator=mine, step_class=HingeStep)
    assert run.models["discriminator"] is mine
    lessons.fit(run)
    assert run.trainer.global_step == 3
    assert "mean_fake_logit" in run.history[-1]
    assert np.isfinite(run.history[-1]["discriminator_loss"])


def test_build_refuses_a_network_of_other_shapes_or_name_and_a_foreign_step(tmp_path):
    from ganlib.lessons import dcgan, sine

    wrong = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    with pytest.raises(ValueError, match=r"takes inputs of shapes \[\(None, 2\)\].*yours "
                                         r"takes \[\(None, 3\)\]"):
        sine.build(_sine_cfg(), tmp_path / "a", discriminator=wrong)
    with pytest.raises(TypeError, match="has no network 'critic'.*generator, discriminator"):
        sine.build(_sine_cfg(), tmp_path / "b", critic=wrong)
    with pytest.raises(TypeError, match="subclass of ganlib.steps.gan.GANStep"):
        sine.build(_sine_cfg(), tmp_path / "c", step_class=dict)
    with pytest.raises(TypeError, match="takes a keras.Model"):
        dcgan.build(dcgan.Config().smoke(), tmp_path / "d", generator="my_generator")
    assert not any((tmp_path / name).exists() for name in "abcd")  # nothing written


@pytest.mark.parametrize("name", ["sine", "dcgan", "cgan", "infogan", "acgan", "sgan", "pix2pix",
                                  "cyclegan", "gan_losses", "srgan", "stylegan"])
def test_every_lesson_takes_its_own_networks_back(name, tmp_path):
    """Each lesson's networks, given back as overrides, pass the shape check and are used."""
    module = lessons.get(name)
    cfg = module.Config().smoke()
    first = module.build(cfg, tmp_path / "first")
    own = {k: first.trainer.step.networks[k] for k in ("generator", "discriminator")}
    second = module.build(cfg, tmp_path / "second", **own)
    for key, network in own.items():
        assert second.trainer.step.networks[key] is network
