"""What a notebook says and checks about a lesson's result, from the lesson's own declaration
(`LESSON.target`, `LESSON.measure`), so no notebook retypes a threshold.

    print(expect.what_to_expect("dcgan"))   # the target, where it comes from, when it is checked
    expect.check_target(run)                 # measures; asserts the target at the defaults only
    expect.exercise(cfg, minutes=2, lr=1e-2)  # an exercise's settings, a short budget

The target is a claim about the lesson's default settings. A learner who changes a setting
(an exercise, say) gets the measured figure beside the target, and no failing assert.
"""

from __future__ import annotations

import dataclasses

from .. import config
from .registry import LESSONS, get


def lesson_of(cfg):
    """The lesson module whose `Config` `cfg` is."""
    for module in LESSONS.values():
        if type(cfg) is module.Config:
            return module
    raise TypeError(f"{type(cfg).__name__} is no registered lesson's Config.")


def at_defaults(cfg) -> bool:
    """Whether `cfg` is its lesson's default settings (the ones its target is about)."""
    return cfg == lesson_of(cfg).Config()


def changed_settings(cfg) -> dict:
    """The settings of `cfg` that differ from its lesson's defaults: {name: (default, now)}."""
    default = lesson_of(cfg).Config()
    return {f.name: (getattr(default, f.name), getattr(cfg, f.name))
            for f in dataclasses.fields(cfg) if getattr(default, f.name) != getattr(cfg, f.name)}


def what_to_expect(name: str) -> str:
    """A few lines for a notebook: lesson `name`'s target at its defaults, and its source."""
    lesson = get(name).LESSON
    target = lesson.target
    return (f"Target at the default settings: {target.text()}\n"
            f"  where the threshold comes from: {target.source}\n"
            "  checked at the end of a full run with the default settings; with any other "
            "settings the figure is printed beside it")


def check_target(run) -> float:
    """Measure a trained run with its lesson's own measure and print the figure beside the
    target. At the lesson's default settings (a full run), a miss is an AssertionError; with
    other settings, or a smoke run, the figure is only reported. Returns the figure."""
    module = lesson_of(run.config)
    target = module.LESSON.target
    smoke = config.settings().smoke
    value, _ = module.LESSON.measure(run, smoke)
    verdict = "meets" if target.met(value) else "misses"
    print(f"{target.metric} = {value:.4g}: {verdict} the target {target.text()}")
    if smoke:
        print("  (smoke run, small sample: a check of the code, not of the target)")
    elif not at_defaults(run.config):
        changed = ", ".join(f"{k}={now!r} (default {was!r})"
                            for k, (was, now) in changed_settings(run.config).items())
        print(f"  not checked: the target is about the default settings; changed: {changed}")
    else:
        assert target.met(value), (f"{module.NAME}: {target.metric} = {value:.4g} misses the "
                                   f"target {target.text()} at the default settings")
    return value


EXERCISE_SMOKE_STEPS = 30  # an exercise's solution in a smoke run: enough to run every line


def exercise(cfg, minutes: float | None = None, steps: int | None = None, **changes):
    """`cfg` with an exercise's `changes`, trained for `minutes` or `steps` (one of them; a
    smoke run: its smoke budget, at most EXERCISE_SMOKE_STEPS steps), so a worked solution
    costs little."""
    if (minutes is None) == (steps is None):
        raise ValueError("give an exercise's budget as minutes= or steps=, one of them.")
    cfg = dataclasses.replace(cfg, **changes)
    if config.settings().smoke:
        small = cfg.smoke()
        return dataclasses.replace(small, minutes=None,
                                   steps=min(small.steps, EXERCISE_SMOKE_STEPS))
    return dataclasses.replace(cfg, minutes=minutes, steps=steps)
