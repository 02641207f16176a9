"""Resume after a kill, roll back from failure, refuse to clobber a run in use."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from ganlib import lessons
from ganlib.callbacks import Callback
from ganlib.checkpoints import CheckpointMismatch, Checkpoints
from ganlib.data import batches
from ganlib.lessons import base, dcgan, sine
from ganlib.models import build_dcgan_discriminator, build_dcgan_generator
from ganlib.runlock import RunBusy, hold, release
from ganlib.steps import GANStep
from ganlib.trainer import Trainer
from ganlib.watchdog import TrainingDiverged, Watchdog


def _cli(*args, python_only=False, **popen):
    """`python -m ganlib ARGS` (or `python ARGS`) in a subprocess, in smoke mode."""
    env = {**os.environ, "GANLIB_SMOKE": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    cmd = [sys.executable, *([] if python_only else ["-m", "ganlib"]), *map(str, args)]
    if popen:
        return subprocess.Popen(cmd, env=env, **popen)
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _latest_step(run_dir):
    state = run_dir / "checkpoints" / "checkpoint"
    if not state.exists():
        return -1
    first = state.read_text().splitlines()[0]  # model_checkpoint_path: "ckpt-N"
    return int(first.rsplit("-", 1)[1].rstrip('"'))


def _records(run_dir):
    lines = (run_dir / "history.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if "event" not in r]


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    total = 1500
    done = _cli("train", "sine", "--out", straight, "--steps", total, "--checkpoint-every", 100)
    assert done.returncode == 0, done.stderr

    proc = _cli("train", "sine", "--out", killed, "--steps", 10**7, "--checkpoint-every", 100,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while _latest_step(killed) < 300 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = _latest_step(killed)
    assert 300 <= kept < total, kept
    assert max(r["step"] for r in _records(killed)) >= kept  # it was killed mid-run

    resumed = _cli("train", "sine", "--out", killed, "--resume", "--steps", total)
    assert resumed.returncode == 0, resumed.stderr

    a, b = _records(straight), _records(killed)
    steps = [r["step"] for r in b]
    assert steps == sorted(set(steps)) == [r["step"] for r in a]  # no gap, no repeat
    for x, y in zip(a, b):  # same data, same noise, same weights: the same losses
        for key in ("discriminator_loss", "generator_loss"):
            assert x[key] == pytest.approx(y[key], rel=1e-4, abs=1e-5), (x["step"], key)
    for flag in ([], ["--raw"]):  # EMA and raw generator both continue exactly
        out = {}
        for name, run_dir in (("a", straight), ("b", killed)):
            out[name] = tmp_path / f"{name}{len(flag)}.npz"
            assert _cli("sample", run_dir, "--n", 200, "--out", out[name], *flag).returncode == 0
        np.testing.assert_allclose(np.load(out["a"])["points"], np.load(out["b"])["points"],
                                   rtol=1e-4, atol=1e-5)


def test_a_second_process_cannot_train_in_a_run_in_use(tmp_path):
    run_dir = tmp_path / "busy"
    hold(run_dir)  # this test's process plays the notebook kernel that trains there
    try:
        (run_dir / "keep.txt").write_text("the other run's file")
        result = _cli("train", "sine", "--out", run_dir, "--steps", 10)
        assert result.returncode == 2
        assert "in use by process" in result.stderr and str(os.getpid()) in result.stderr
    finally:
        release(run_dir)
    assert (run_dir / "keep.txt").read_text() == "the other run's file"
    assert not (run_dir / "config.json").exists()
    assert _cli("train", "sine", "--out", run_dir, "--steps", 10).returncode == 0  # now free


def test_a_fresh_start_cannot_clear_a_run_another_process_holds(tmp_path):
    cfg = sine.Config().smoke()
    run = sine.build(cfg, tmp_path / "r")
    lessons.fit(run)
    release(run.run_dir)  # hand the finished run over to another "kernel"
    other = _cli("-c", "import sys, time; from ganlib.runlock import hold; hold(sys.argv[1]); "
                       "print('held', flush=True); time.sleep(120)", run.run_dir,
                 stdout=subprocess.PIPE, text=True, python_only=True)
    try:
        assert other.stdout.readline().strip() == "held"
        before = sorted(p.name for p in run.run_dir.rglob("*"))
        with pytest.raises(RunBusy, match=f"in use by process {other.pid}"):
            sine.build(cfg, run.run_dir, fresh=True)
        with pytest.raises(RunBusy):
            lessons.fit(sine.build(cfg, run.run_dir))
        assert sorted(p.name for p in run.run_dir.rglob("*")) == before
    finally:
        other.kill()
        other.wait()
    again = sine.build(cfg, run.run_dir, fresh=True)  # its lock died with it
    assert not (again.run_dir / "checkpoints").exists()


# --- a run directory holds one run -----------------------------------------------------------
@pytest.fixture(scope="module")
def trained_sine(tmp_path_factory):
    cfg = sine.Config().smoke()
    run = sine.build(cfg, tmp_path_factory.mktemp("sine") / "run")
    lessons.fit(run)
    return cfg, run.run_dir


def test_other_settings_on_a_trained_run_are_refused(trained_sine):
    cfg, run_dir = trained_sine
    with pytest.raises(base.RunMismatch, match=r"lr=0\.001 there, 0\.01 here"):
        sine.build(dataclasses.replace(cfg, lr=0.01), run_dir)
    with pytest.raises(base.RunMismatch, match="holds a 'sine' run, not 'dcgan'"):
        dcgan.build(dcgan.Config().smoke(), run_dir)
    # a longer budget is not another run: it resumes
    longer = sine.build(dataclasses.replace(cfg, steps=cfg.steps + 20), run_dir)
    assert lessons.restore(longer) == cfg.steps


def test_a_checkpoint_of_another_model_fails_clearly(trained_sine, tmp_path):
    _, run_dir = trained_sine
    g = build_dcgan_generator(8, (28, 28, 1), width=8)
    d = build_dcgan_discriminator((28, 28, 1), width=8)
    step = GANStep(g, d, g_optimizer=keras.optimizers.Adam(), d_optimizer=keras.optimizers.Adam())
    images = np.zeros((16, 28, 28, 1), np.uint8)
    trainer = Trainer(step, lambda s: batches(images, 8, start_step=s), run_dir,
                      checkpoints=Checkpoints(every=10), progress=False)
    with pytest.raises(CheckpointMismatch, match="does not fit this model"):
        trainer.checkpoints.open(trainer, save_initial=False)


def test_best_checkpoint_is_kept_and_restorable(trained_sine):
    cfg, run_dir = trained_sine
    best = json.loads((run_dir / "best.json").read_text())
    run = sine.build(cfg, run_dir)
    lessons.restore(run)
    evals = {e["step"]: e["mean_abs_error"] for e in run.events if e["event"] == "eval"}
    assert sorted(evals) == list(range(cfg.sample_every, cfg.steps + 1, cfg.sample_every))
    assert best["step"] in evals and best["value"] == pytest.approx(min(evals.values()), abs=1e-5)
    assert lessons.restore(run, "best") == best["step"]
    score = sine.mean_abs_error(run.generator())
    assert score == pytest.approx(best["value"], rel=1e-4)


# --- the watchdog ------------------------------------------------------------------------------
class Poison(Callback):
    """Sets G's first kernel to NaN after step `at` (once, or at every step from `at` on)."""

    def __init__(self, g, at, always=False):
        self.g, self.at, self.always, self.fired = g, at, always, False

    def on_step_end(self, trainer, logs):
        if self.always and trainer.global_step >= self.at or (
                trainer.global_step == self.at and not self.fired):
            self.fired = True
            kernel = self.g.weights[0]
            kernel.assign(np.full(kernel.shape, np.nan, "f4"))


def _watched(tiny_gan, uint8_images, run_dir, poison=None, **watch):
    g, d, step = tiny_gan(seed=0)
    callbacks = [Watchdog(**watch)] + ([poison(g)] if poison else [])
    trainer = Trainer(step, lambda s: batches(uint8_images, 8, seed=0, start_step=s), run_dir,
                      callbacks, checkpoints=Checkpoints(every=4), log_every=1, progress=False)
    return trainer, g, step


def test_watchdog_rolls_back_after_nan(tiny_gan, uint8_images, run_dir, capsys):
    trainer, g, step = _watched(tiny_gan, uint8_images, run_dir,
                                poison=lambda g: Poison(g, at=6))
    lr = float(step.optimizers["generator"].learning_rate)
    trainer.fit(steps=12)
    assert trainer.global_step == 12
    assert all(np.isfinite(w.numpy()).all() for w in g.weights)
    events = [r for r in trainer.history if r.get("event") == "rollback"]
    assert len(events) == 1 and events[0]["step"] == 4  # back to the checkpoint before step 6
    assert "non-finite" in events[0]["reason"]
    assert int(step.seed.numpy()) == events[0]["seed"] != 0
    assert float(step.optimizers["generator"].learning_rate) == pytest.approx(lr / 2)
    steps = [r["step"] for r in trainer.history if "event" not in r]
    assert steps == list(range(1, 13))  # the failed steps were replaced, not repeated
    assert "watchdog: non-finite" in capsys.readouterr().out
    saved = sorted(int(p.name.split("-")[1].split(".")[0])
                   for p in (run_dir / "checkpoints").glob("ckpt-*.index"))
    assert saved == [8, 12]


def test_watchdog_gives_up_and_keeps_the_good_checkpoint(tiny_gan, uint8_images, run_dir):
    trainer, _, _ = _watched(tiny_gan, uint8_images, run_dir, max_rollbacks=2,
                             poison=lambda g: Poison(g, at=5, always=True))
    with pytest.raises(TrainingDiverged, match="did not recover after 2 rollbacks"):
        trainer.fit(steps=12)
    again, g, _ = _watched(tiny_gan, uint8_images, run_dir)
    again.checkpoints.open(again, save_initial=False)
    assert again.global_step == 4
    assert all(np.isfinite(w.numpy()).all() for w in g.weights)


def test_watchdog_catches_a_discriminator_that_has_won(tiny_gan, uint8_images, run_dir):
    # Any loss counts as "near zero" below a floor of 100: the run looks collapsed throughout.
    trainer, _, _ = _watched(tiny_gan, uint8_images, run_dir, patience=3, d_floor=100.0,
                             max_rollbacks=1)
    with pytest.raises(TrainingDiverged, match="discriminator_loss below 100 for 3 steps"):
        trainer.fit(steps=20)
    reasons = [r["reason"] for r in trainer.history if r.get("event") == "rollback"]
    assert reasons == ["discriminator_loss below 100 for 3 steps (D has won)"]


def test_watchdog_diagnosis():
    dog = Watchdog(patience=2, d_floor=0.01, g_ceiling=10.0)
    healthy = {"discriminator_loss": 1.3, "generator_loss": 0.8}
    assert dog.diagnose(healthy) == ""
    assert "non-finite" in dog.diagnose({**healthy, "generator_loss": float("inf")})
    won = {"discriminator_loss": 0.001, "generator_loss": 0.8}
    assert dog.diagnose(won) == ""  # one step is not a streak
    assert dog.diagnose(healthy) == ""  # and a healthy step resets it
    assert dog.diagnose(won) == ""
    assert "D has won" in dog.diagnose(won)
    exploding = {"discriminator_loss": 1.0, "generator_loss": 50.0}
    dog.diagnose(exploding)
    assert "generator_loss above 10" in dog.diagnose(exploding)


def test_watchdog_reads_the_adversarial_part_of_losses_with_more_terms():
    """InfoGAN's and AC-GAN's losses add terms that can be negative (a Gaussian NLL) or keep
    the total high: the adversarial parts they log on their own decide."""
    dog = Watchdog(patience=2, d_floor=0.01, g_ceiling=10.0)
    negative_total = {"discriminator_loss": -1.5, "generator_loss": -0.4,
                      "d_adversarial_loss": 1.2, "g_adversarial_loss": 0.9}
    for _ in range(3):
        assert dog.diagnose(negative_total) == ""
    won = {"discriminator_loss": 2.3, "generator_loss": 4.0,
           "d_adversarial_loss": 0.001, "g_adversarial_loss": 6.0}
    dog.diagnose(won)
    assert dog.diagnose(won) == "d_adversarial_loss below 0.01 for 2 steps (D has won)"


def test_a_damaged_latest_checkpoint_falls_back_to_the_one_before(tiny_gan, uint8_images,
                                                                  run_dir):
    trainer, _, _ = _watched(tiny_gan, uint8_images, run_dir)
    trainer.fit(steps=8)
    data_file = next((run_dir / "checkpoints").glob("ckpt-8.data-*"))
    data_file.write_bytes(data_file.read_bytes()[: data_file.stat().st_size // 2])
    again, _, _ = _watched(tiny_gan, uint8_images, run_dir)
    with pytest.warns(UserWarning, match="skipping unreadable checkpoint .*ckpt-8"):
        again.checkpoints.open(again, save_initial=False)
    assert again.global_step == 4 and again.checkpoints.restored_from.endswith("ckpt-4")
