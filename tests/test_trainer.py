import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from ganlib.callbacks import EMA, Callback, Snapshots, TensorBoard
from ganlib.checkpoints import Checkpoints
from ganlib.data import batches
from ganlib.trainer import Trainer

LOSS_KEYS = {"discriminator_loss", "generator_loss", "d_real_acc", "d_fake_acc"}


@pytest.fixture
def make_trainer(tiny_gan, uint8_images):
    def make(run_dir, callbacks=(), seed=0, log_every=1, checkpoints=None):
        g, d, step = tiny_gan(seed=seed)
        cbs = [cb(g) if callable(cb) and not isinstance(cb, Callback) else cb
               for cb in callbacks]
        trainer = Trainer(step, lambda start: batches(uint8_images, 8, seed=0, start_step=start),
                          run_dir, cbs, checkpoints=checkpoints, log_every=log_every,
                          progress=False)
        return trainer, g, d

    return make


def _history_file(run_dir):
    return [json.loads(line) for line in (run_dir / "history.jsonl").read_text().splitlines()]


class Crash(Callback):
    """Simulates a run killed after step `at` (after the callbacks before it have run)."""

    def __init__(self, at):
        self.at = at

    def on_step_end(self, trainer, logs):
        if trainer.global_step == self.at:
            raise KeyboardInterrupt


class Recorder(Callback):
    """Keeps the generator's weights after every step."""

    def __init__(self, g):
        self.g = g
        self.weights = [[w.numpy().copy() for w in g.weights]]

    def on_step_end(self, trainer, logs):
        self.weights.append([w.numpy().copy() for w in self.g.weights])


def test_fit_stops_at_steps_and_logs_history(make_trainer, run_dir):
    trainer, _, _ = make_trainer(run_dir, log_every=2)
    history = trainer.fit(steps=5)
    assert trainer.global_step == 5
    assert [r["step"] for r in history] == [2, 4, 5]  # every 2nd, and the last
    for record in history:
        assert LOSS_KEYS <= set(record) and "seconds" in record
        assert all(np.isfinite(record[k]) for k in LOSS_KEYS)
    assert _history_file(run_dir) == history
    # steps is a total: asking again for 5 does nothing, for 7 does two more
    trainer.fit(steps=5)
    assert trainer.global_step == 5
    trainer.fit(steps=7)
    assert trainer.global_step == 7
    assert [r["step"] for r in _history_file(run_dir)] == [2, 4, 5, 6, 7]


def test_fit_epochs(make_trainer, run_dir):
    trainer, _, _ = make_trainer(run_dir)
    trainer.fit(epochs=1.5, steps_per_epoch=2)
    assert trainer.global_step == 3
    with pytest.raises(ValueError, match="steps_per_epoch"):
        trainer.fit(epochs=1)


@pytest.mark.parametrize("budget", [{}, {"steps": 2, "minutes": 1.0}, {"steps": 2, "epochs": 1},
                                    {"minutes": 1.0, "epochs": 1, "steps_per_epoch": 2}])
def test_fit_needs_exactly_one_budget(make_trainer, run_dir, budget):
    trainer, _, _ = make_trainer(run_dir)
    with pytest.raises(ValueError, match="exactly one"):
        trainer.fit(**budget)
    assert trainer.global_step == 0


def test_fit_minutes_zero_runs_no_step(make_trainer, run_dir):
    trainer, _, _ = make_trainer(run_dir)
    trainer.fit(minutes=0)
    assert trainer.global_step == 0


def test_progress_bar_counts_seconds_on_a_minutes_budget(make_trainer, run_dir, capsys):
    """On a minutes budget the bar shows seconds trained and left, the step beside the
    losses; on a step budget, steps."""
    trainer, _, _ = make_trainer(run_dir)
    trainer.progress = True
    timed = trainer._progress_bar(None, 0.5)
    assert (timed.target, timed.unit_name) == (30, "s")
    assert trainer._progress_bar(40, None).target == 40
    trainer.fit(minutes=0.02)
    out = capsys.readouterr().out
    assert "1/1" in out and "step:" in out, out
    trainer.progress = False
    assert trainer._progress_bar(40, None) is None


def _state(trainer, g, d):
    step = trainer.step
    opt = step.optimizers["generator"]
    slots = [v for v in opt.variables if "momentum" in v.path]
    return {
        "g": [w.numpy().copy() for w in g.weights],
        "d": [w.numpy().copy() for w in d.weights],
        "g_opt": [v.numpy().copy() for v in opt.variables],
        "d_opt": [v.numpy().copy() for v in step.optimizers["discriminator"].variables],
        "iterations": int(opt.iterations.numpy()),
        "slot": slots[0].numpy().copy(),
        "step": trainer.global_step,
        "ema": [w.numpy().copy() for w in trainer.callbacks[0].model.weights],
    }


def _assert_same(a, b):
    assert a["step"] == b["step"] and a["iterations"] == b["iterations"]
    np.testing.assert_array_equal(a["slot"], b["slot"])
    for key in ("g", "d", "g_opt", "d_opt", "ema"):
        assert len(a[key]) == len(b[key])
        for x, y in zip(a[key], b[key]):
            np.testing.assert_array_equal(x, y)


def test_checkpoint_round_trip(make_trainer, run_dir):
    trainer, g, d = make_trainer(run_dir, [EMA], checkpoints=Checkpoints(every=100))
    trainer.fit(steps=3)
    saved = _state(trainer, g, d)
    assert saved["step"] == 3 and saved["iterations"] == 3
    assert np.abs(saved["slot"]).max() > 0
    assert (run_dir / "checkpoints" / "checkpoint").exists()

    fresh, g2, d2 = make_trainer(run_dir, [EMA], checkpoints=Checkpoints(every=100), seed=1)
    before = _state(fresh, g2, d2)
    assert before["step"] == 0 and before["iterations"] == 0
    assert not np.array_equal(before["g"][0], saved["g"][0])
    fresh.fit(steps=3)  # restores the latest checkpoint, then has nothing left to do
    assert fresh.checkpoints.restored_from.endswith("ckpt-3")
    _assert_same(_state(fresh, g2, d2), saved)
    fresh.fit(steps=4)
    assert fresh.global_step == 4 and int(fresh.step.optimizers["generator"].iterations) == 4


def test_checkpoints_every_and_keep(make_trainer, run_dir):
    trainer, _, _ = make_trainer(run_dir, [], checkpoints=Checkpoints(every=2, max_to_keep=2))
    trainer.fit(steps=5)
    manager = trainer.checkpoints.manager
    assert [p.rsplit("-", 1)[1] for p in manager.checkpoints] == ["4", "5"]


def test_restore_false_starts_fresh(make_trainer, run_dir):
    trainer, _, _ = make_trainer(run_dir, [], checkpoints=Checkpoints(every=100))
    trainer.fit(steps=2)
    again, _, _ = make_trainer(run_dir, [], checkpoints=Checkpoints(every=100, restore=False))
    again.checkpoints.open(again, save_initial=False)
    assert again.global_step == 0 and again.checkpoints.restored_from is None


def test_history_is_trimmed_to_the_restored_step(make_trainer, run_dir):
    trainer, _, _ = make_trainer(run_dir, [Crash(at=6)], checkpoints=Checkpoints(every=4))
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(steps=8)
    assert [r["step"] for r in _history_file(run_dir)] == [1, 2, 3, 4, 5, 6]

    resumed, _, _ = make_trainer(run_dir, [], checkpoints=Checkpoints(every=4), seed=1)
    resumed.fit(steps=8)
    assert resumed.checkpoints.restored_from.endswith("ckpt-4")
    steps = [r["step"] for r in _history_file(run_dir)]
    assert steps == list(range(1, 9))  # 5 and 6 are not repeated
    assert [r["step"] for r in resumed.history] == steps


def _scalar_steps(folder, tag):
    steps = set()
    for path in folder.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.tag == tag:
                    steps.add(event.step)
    return steps


def test_tensorboard_writes_events(make_trainer, run_dir):
    noise = np.random.default_rng(0).standard_normal((4, 8)).astype("f4")
    trainer, _, _ = make_trainer(
        run_dir, [lambda g: TensorBoard(g, noise, image_every=2)], log_every=1)
    trainer.fit(steps=3)
    folder = run_dir / "tensorboard"
    assert list(folder.glob("events.out.tfevents.*"))
    assert _scalar_steps(folder, "generator_loss") == {1, 2, 3}
    assert _scalar_steps(folder, "samples") == {2}


def test_tensorboard_after_resume_writes_every_new_step(make_trainer, run_dir):
    trainer, _, _ = make_trainer(run_dir, [TensorBoard(), Crash(at=6)],
                                 checkpoints=Checkpoints(every=4))
    with pytest.raises(KeyboardInterrupt):
        trainer.fit(steps=8)
    trainer.callbacks[0].writer.close()
    before = {p.name for p in (run_dir / "tensorboard").iterdir()}
    resumed, _, _ = make_trainer(run_dir, [TensorBoard()], checkpoints=Checkpoints(every=4))
    resumed.fit(steps=8)
    resumed.callbacks[0].writer.close()
    new = run_dir / "tensorboard_new"
    new.mkdir()
    for p in (run_dir / "tensorboard").iterdir():
        if p.name not in before:
            p.rename(new / p.name)
    assert _scalar_steps(new, "generator_loss") == {5, 6, 7, 8}


def test_snapshots_write_pngs(make_trainer, run_dir):
    noise = np.random.default_rng(0).standard_normal((6, 8)).astype("f4")
    trainer, g, _ = make_trainer(run_dir, [lambda g: Snapshots(g, noise, every=2)])
    trainer.fit(steps=3)
    snaps = trainer.callbacks[0]
    assert [s for s, _ in snaps.frames] == [0, 2, 3]
    assert all(out.shape == (6, 28, 28, 1) for _, out in snaps.frames)
    np.testing.assert_allclose(snaps.frames[-1][1], g(noise, training=False), atol=1e-6)
    names = sorted(p.name for p in (run_dir / "samples").iterdir())
    assert names == ["step_0000000.png", "step_0000002.png", "step_0000003.png"]
    with Image.open(run_dir / "samples" / names[0]) as im:
        im.load()
        assert im.format == "PNG" and im.width > 28 and im.height > 28


def test_snapshots_of_points_write_no_images(make_trainer, run_dir):
    points = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    trainer, _, _ = make_trainer(run_dir, [Snapshots(lambda: points, np.zeros((5, 8)), every=1)])
    trainer.fit(steps=2)
    assert [s for s, _ in trainer.callbacks[0].frames] == [0, 1, 2]
    assert trainer.callbacks[0].frames[0][1].shape == (5, 2)
    assert not (run_dir / "samples").exists()


def test_ema_tracks_the_generator(make_trainer, run_dir):
    decay = 0.5
    trainer, g, _ = make_trainer(run_dir, [lambda g: EMA(g, decay), Recorder])
    ema, recorder = trainer.callbacks
    for a, b in zip(ema.model.get_weights(), g.get_weights()):
        np.testing.assert_array_equal(a, b)
    trainer.fit(steps=3)
    history = recorder.weights  # the generator's weights after steps 0..3
    # Adam's bias-corrected average of steps 1..3 (the untrained weights, step 0, left out)
    moment = [np.zeros_like(w) for w in history[0]]
    for weights in history[1:]:
        moment = [decay * m + (1 - decay) * w for m, w in zip(moment, weights)]
    expected = [m / (1 - decay ** 3) for m in moment]
    ema_now = [w.numpy() for w in ema.model.weights]
    differs = False
    for i, (e, got) in enumerate(zip(expected, ema_now)):
        np.testing.assert_allclose(got, e, rtol=1e-5, atol=1e-6)
        stacked = np.stack([h[i] for h in history[1:]])
        assert np.all(got >= stacked.min(0) - 1e-6) and np.all(got <= stacked.max(0) + 1e-6)
        differs |= not np.allclose(got, history[-1][i])
    assert differs, "the EMA generator equals the raw generator"
    assert ema.trackables() == {"ema_generator": ema.model}


def test_ema_of_a_short_run_is_not_held_back_by_the_untrained_weights(make_trainer, run_dir):
    trainer, g, _ = make_trainer(run_dir, [lambda g: EMA(g, 0.999)])
    untrained = [w.numpy().copy() for w in g.weights]
    trainer.fit(steps=1)
    ema = trainer.callbacks[0].model
    moved = False
    for e, w, w0 in zip(ema.weights, g.weights, untrained):
        np.testing.assert_allclose(e.numpy(), w.numpy(), rtol=1e-5, atol=1e-7)
        moved |= not np.allclose(w.numpy(), w0)
    assert moved, "the step did not change the generator"
    with pytest.raises(ValueError, match="decay"):
        EMA(g, 1.0)


def test_callback_hooks_are_called_in_order(make_trainer, run_dir):
    calls = []

    class Spy(Callback):
        def on_train_begin(self, trainer):
            calls.append(("begin", trainer.global_step))

        def on_step_end(self, trainer, logs):
            calls.append(("step", trainer.global_step, sorted(logs)))

        def on_train_end(self, trainer):
            calls.append(("end", trainer.global_step))

    trainer, _, _ = make_trainer(run_dir, [Spy()])
    trainer.fit(steps=2)
    keys = sorted(LOSS_KEYS)
    assert calls == [("begin", 0), ("step", 1, keys), ("step", 2, keys), ("end", 2)]


def test_a_time_budget_logs_the_last_step(make_trainer, run_dir):
    trainer, _, _ = make_trainer(run_dir, log_every=1000)
    history = trainer.fit(minutes=0.02)
    assert 0 < trainer.global_step < 1000
    assert [r["step"] for r in history] == [trainer.global_step]


def test_a_callback_can_end_training_like_a_spent_budget(make_trainer, run_dir):
    """`request_stop` ends the run after that step: callbacks finish, the last step is
    logged and checkpointed, and the next fit starts with no stop pending."""
    ended = []

    class StopAt(Callback):
        def on_step_end(self, trainer, logs):
            if trainer.global_step in (3, 5):
                trainer.request_stop()

        def on_train_end(self, trainer):
            ended.append(trainer.global_step)

    trainer, _, _ = make_trainer(run_dir, [StopAt()], log_every=1000,
                                 checkpoints=Checkpoints(every=1000))
    history = trainer.fit(steps=100)
    assert trainer.global_step == 3 and ended == [3]
    assert [r["step"] for r in history] == [3]
    assert (run_dir / "checkpoints" / "ckpt-3.index").exists()
    trainer.fit(steps=100)  # continues, and stops at the next request
    assert trainer.global_step == 5 and ended == [3, 5]


def test_timed_scores_pause_the_clock_and_stop_when_asked(make_trainer, run_dir):
    import time

    from ganlib.timed_scores import TimedScores

    def slow_score():
        time.sleep(0.2)
        return 1.0, {"note": "x"}

    watch = TimedScores(slow_score, budget_s=1e9, every_s=1e9, every_steps=2,
                        stop=lambda record: record["step"] >= 4, verbose=False)
    trainer, _, _ = make_trainer(run_dir, [watch])
    trainer.fit(steps=100)
    assert trainer.global_step == 4
    assert [e["step"] for e in watch.evaluations] == [2, 4]
    assert all(e["eval_seconds"] >= 0.2 and e["note"] == "x" for e in watch.evaluations)
    # the scoring is not training time: both 0.2 s scores are left out of the clock
    assert time.perf_counter() - watch._start - watch.train_seconds() >= 0.4
