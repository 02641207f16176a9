"""Range checks for the lessons' Configs, declared as rules next to the fields they check.

Each lesson's `Config.__post_init__` calls `check(self, *rules)`, so a Config is checked
however it is made: `Config(...)` in a notebook, `dataclasses.replace`, `smoke()`, or the
CLI's `--set`. The first value out of range raises `ConfigError`, a `ValueError` (which the
CLI prints as `error: ...`) naming the lesson, the field, the value given and what is allowed:

    dcgan: lr=-1.0 is out of range; it must be > 0.

A rule is a function `cfg -> problem or None`; those below cover single fields, `rule` any
condition over several. A Config that extends another calls `super().__post_init__()` first,
so it keeps its parent's rules.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Callable, Sequence

Rule = Callable[[object], "str | None"]


class ConfigError(ValueError):
    """A lesson's Config holds a value it cannot train with."""


def check(cfg, *rules: Rule) -> None:
    """Apply `rules` to `cfg` in order; raise `ConfigError` at the first problem."""
    for rule_ in rules:
        problem = rule_(cfg)
        if problem:
            raise ConfigError(f"{lesson_name(cfg)}: {problem}")


def lesson_name(cfg) -> str:
    """The lesson a Config belongs to: its module's `NAME` (a subclass's own lesson)."""
    module_name = type(cfg).__module__
    return getattr(sys.modules.get(module_name), "NAME", module_name.rpartition(".")[2])


def _is_number(value) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and math.isfinite(value))


def _is_whole(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _text(x) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _fields(names: Sequence[str], test: Callable[[object], bool], allowed: str,
            whole: bool = False, optional: bool = False) -> Rule:
    """A rule: each field in `names` passes `test` (None too if `optional`)."""
    allowed = f"{allowed}, or None" if optional else allowed
    kind = "a whole number" if whole else "a number"

    def rule_(cfg):
        for name in names:
            value = getattr(cfg, name)
            if value is None and optional:
                continue
            if not (_is_whole(value) if whole else _is_number(value)):
                return f"{name}={value!r} is not {kind}; it must be {allowed}."
            if not test(value):
                return f"{name}={value!r} is out of range; it must be {allowed}."
        return None

    return rule_


def positive(*names: str, whole: bool = False, optional: bool = False) -> Rule:
    """Numbers > 0 (`whole`: whole numbers >= 1), e.g. a learning rate, a batch size."""
    if whole:
        return at_least(1, *names, whole=True, optional=optional)
    return _fields(names, lambda v: v > 0, "> 0", optional=optional)


def at_least(low, *names: str, whole: bool = False, optional: bool = False) -> Rule:
    """Numbers >= `low` (`whole`: whole numbers), e.g. a loss weight (0: off)."""
    allowed = f"a whole number >= {_text(low)}" if whole else f">= {_text(low)}"
    return _fields(names, lambda v: v >= low, allowed, whole=whole, optional=optional)


def between(low, high, *names: str, low_open: bool = False, high_open: bool = False,
            optional: bool = False) -> Rule:
    """Numbers in [low, high]; `low_open`/`high_open` leave that end out, e.g. (0, 1]."""

    def test(v):
        return (low < v if low_open else low <= v) and (v < high if high_open else v <= high)

    allowed = (f"in {'(' if low_open else '['}{_text(low)}, {_text(high)}"
               f"{')' if high_open else ']'}")
    return _fields(names, test, allowed, optional=optional)


def fraction(*names: str, below_one: bool = False, optional: bool = False) -> Rule:
    """Numbers in [0, 1] (a probability, a share), or [0, 1) with `below_one` (a decay)."""
    return between(0, 1, *names, high_open=below_one, optional=optional)


def _choices(choices) -> str:
    shown = [repr(c) for c in choices]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def one_of(name: str, choices, note: str = "") -> Rule:
    """A value among `choices` (e.g. a loss's name); `note` says why, if it helps."""
    choices = tuple(choices)
    why = f" ({note})" if note else ""

    def rule_(cfg):
        value = getattr(cfg, name)
        if isinstance(value, bool) or value not in choices:
            return (f"{name}={value!r} is not one of the choices; it must be "
                    f"{_choices(choices)}{why}.")
        return None

    return rule_


def sizes(*names: str) -> Rule:
    """Tuples (or lists) of whole numbers >= 1, e.g. the widths of hidden layers."""

    def rule_(cfg):
        for name in names:
            value = getattr(cfg, name)
            if not isinstance(value, (tuple, list)) or not all(
                    _is_whole(v) and v >= 1 for v in value):
                return (f"{name}={value!r} is not allowed; it must be a tuple of whole "
                        "numbers >= 1, e.g. (64, 64).")
        return None

    return rule_


def pair(name: str, low, high, optional: bool = False) -> Rule:
    """A (first, second) pair with low < first <= second <= high, e.g. a range of levels."""
    allowed = (f"a pair (first, second) with {_text(low)} < first <= second <= {_text(high)}"
               + (", or None" if optional else ""))

    def rule_(cfg):
        value = getattr(cfg, name)
        if value is None and optional:
            return None
        if (isinstance(value, (tuple, list)) and len(value) == 2
                and all(_is_number(v) for v in value) and low < value[0] <= value[1] <= high):
            return None
        return f"{name}={value!r} is out of range; it must be {allowed}."

    return rule_


def budget() -> Rule:
    """A training budget: `steps` or `minutes` set (each checked by its own rule); when both
    are, `steps` is the one used."""

    def rule_(cfg):
        if cfg.steps is None and cfg.minutes is None:
            return ("steps=None and minutes=None leave no training budget; give steps (a whole "
                    "number >= 1) or minutes (> 0).")
        return None

    return rule_


def training() -> tuple[Rule, ...]:
    """The rules of the fields every lesson has: its budget, batch, Adam's learning rate and
    beta_1, the average of G's weights, the seed and the intervals (sample_every 0: none)."""
    return (positive("minutes", optional=True), positive("steps", whole=True, optional=True),
            budget(), positive("batch_size", "log_every", "checkpoint_every", whole=True),
            at_least(0, "sample_every", "seed", whole=True), positive("lr"),
            fraction("beta_1", below_one=True),
            fraction("ema_decay", below_one=True, optional=True))


def activation(name: str) -> Rule:
    """The name of a Keras activation, or "leaky_relu" (`models.blocks.activate`)."""

    def known(value) -> bool:
        if value == "leaky_relu":
            return True
        if not isinstance(value, str) or not value:
            return False
        import keras

        try:
            keras.activations.get(value)
        except ValueError:
            return False
        return True

    return rule(lambda cfg: known(getattr(cfg, name)),
                lambda cfg: f"{name}={getattr(cfg, name)!r} is not an activation; it must be "
                            "'leaky_relu' or a Keras activation's name, e.g. 'relu', 'tanh'.")


def rule(test: Callable[[object], bool], problem: Callable[[object], str]) -> Rule:
    """A condition over several fields: `test(cfg)` must hold, else `problem(cfg)` says why
    (naming the fields and their values)."""
    return lambda cfg: None if test(cfg) else problem(cfg)
