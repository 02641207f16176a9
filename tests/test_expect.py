"""A notebook's target check reads the lesson's declaration: it asserts the target at the
lesson's default settings only, and with any other settings reports the figure instead."""

import dataclasses
import types

import pytest

from ganlib.lessons import dcgan, expect, sine


def fake_run(cfg):
    return types.SimpleNamespace(config=cfg)


@pytest.fixture
def sine_measures(monkeypatch):
    """sine's measure replaced by one that returns the figure the test sets."""
    figure = {"value": 0.5}
    lesson = dataclasses.replace(sine.LESSON, measure=lambda run, smoke: (figure["value"], {}))
    monkeypatch.setattr(sine, "LESSON", lesson)
    return figure


def test_defaults_are_recognised():
    assert expect.at_defaults(sine.Config())
    assert not expect.at_defaults(sine.Config(lr=1e-2))
    assert expect.changed_settings(sine.Config(lr=1e-2)) == {"lr": (1e-3, 1e-2)}
    with pytest.raises(TypeError, match="no registered lesson"):
        expect.lesson_of(object())


def test_a_miss_at_the_defaults_fails(monkeypatch, sine_measures):
    monkeypatch.setenv("GANLIB_SMOKE", "0")
    with pytest.raises(AssertionError, match=r"sine: mean \|y - sin x\| = 0.5 misses"):
        expect.check_target(fake_run(sine.Config()))
    sine_measures["value"] = 0.01
    assert expect.check_target(fake_run(sine.Config())) == 0.01


def test_a_miss_with_changed_settings_is_reported(monkeypatch, sine_measures, capsys):
    monkeypatch.setenv("GANLIB_SMOKE", "0")
    assert expect.check_target(fake_run(sine.Config(lr=1e-2))) == 0.5
    out = capsys.readouterr().out
    assert "misses the target mean |y - sin x| <= 0.03" in out
    assert "not checked" in out and "lr=0.01 (default 0.001)" in out


def test_a_smoke_run_is_reported_not_checked(monkeypatch, sine_measures, capsys):
    monkeypatch.setenv("GANLIB_SMOKE", "1")
    assert expect.check_target(fake_run(sine.Config())) == 0.5
    assert "smoke run" in capsys.readouterr().out


def test_what_to_expect_states_the_declared_target():
    text = expect.what_to_expect("dcgan")
    assert dcgan.LESSON.target.text() in text and dcgan.LESSON.target.source in text


def test_an_exercise_changes_settings_on_a_short_budget(monkeypatch):
    monkeypatch.setenv("GANLIB_SMOKE", "0")
    cfg = expect.exercise(dcgan.Config(), minutes=2, lr=1e-3)
    assert (cfg.minutes, cfg.steps, cfg.lr) == (2, None, 1e-3)
    monkeypatch.setenv("GANLIB_SMOKE", "1")
    cfg = expect.exercise(dcgan.Config(), minutes=2, lr=1e-3)
    assert (cfg.minutes, cfg.steps, cfg.lr) == (None, expect.EXERCISE_SMOKE_STEPS, 1e-3)
    with pytest.raises(ValueError, match="lr"):  # the lesson's own checks still apply
        expect.exercise(dcgan.Config(), minutes=2, lr=-1.0)
    monkeypatch.setenv("GANLIB_SMOKE", "0")
    cfg = expect.exercise(sine.Config(), steps=500)  # a step budget, as the lesson's own
    assert (cfg.minutes, cfg.steps) == (None, 500)
    with pytest.raises(ValueError, match="one of them"):
        expect.exercise(sine.Config(), minutes=1, steps=500)
