"""The one list of lessons: it imports every lesson module, checks what each declares
(`interface.Lesson`) and looks lessons up by name.

A lesson of one's own, outside the package, registers with `register(module)`, or by naming
its module in GANLIB_LESSONS (comma-separated), which the CLI and `bench all`'s workers read.
"""

from __future__ import annotations

import dataclasses
import importlib
from types import ModuleType

from .. import config
from . import (
    acgan,
    cgan,
    cyclegan,
    dcgan,
    gan_losses,
    infogan,
    pix2pix,
    sgan,
    sine,
    srgan,
    stylegan,
)
from .base import load_config as _load_config
from .interface import Lesson

LESSONS: dict[str, ModuleType] = {}


def register(module) -> None:
    """Add a lesson module (or any object with the same names) to the registry, after
    checking that it declares what a lesson must."""
    lesson = getattr(module, "LESSON", None)
    if not isinstance(lesson, Lesson):
        raise TypeError(f"{module!r} declares no `LESSON = Lesson(...)` "
                        "(see ganlib/lessons/interface.py).")
    missing = [n for n in ("NAME", "Config", "build") if not hasattr(module, n)]
    if missing:
        raise TypeError(f"lesson {lesson.name} lacks {', '.join(missing)} "
                        "(see ganlib/lessons/interface.py).")
    if module.NAME != lesson.name:
        raise TypeError(f"lesson module NAME {module.NAME!r} differs from its LESSON's name "
                        f"{lesson.name!r}.")
    LESSONS[lesson.name] = module


for _module in (sine, dcgan, cgan, infogan, acgan, sgan, pix2pix, cyclegan, gan_losses, srgan,
                stylegan):
    register(_module)


def register_from_environment() -> None:
    """Import and register the lesson modules GANLIB_LESSONS names."""
    for name in config.settings().lessons:
        if name not in {getattr(m, "__name__", None) for m in LESSONS.values()}:
            register(importlib.import_module(name))


def names() -> list[str]:
    return list(LESSONS)


def _former_names() -> dict[str, str]:
    return {old: name for name, m in LESSONS.items() for old in m.LESSON.former_names}


def get(name: str):
    """The lesson module for `name` (e.g. "dcgan"), or a clear error listing the lessons."""
    name = _former_names().get(name, name)
    if name not in LESSONS:
        raise KeyError(f"Unknown lesson {name!r}. Lessons: {', '.join(LESSONS)}.")
    return LESSONS[name]


def load_config(run_dir) -> tuple[str, dict]:
    """(lesson, the Config's fields) of the run in `run_dir`, as it trained: a field its
    config.json lacks takes the lesson's `older_runs` value; a former name, today's."""
    name, _ = _load_config(run_dir)
    lesson = get(name).LESSON
    return lesson.name, _load_config(run_dir, lesson.older_runs)[1]


def saved_config(run_dir):
    """(lesson name, its Config) of the run in `run_dir`, as the run was trained
    (`load_config`): a field it lacks takes the default; fields the Config no longer has are
    dropped."""
    name, saved = load_config(run_dir)
    module = get(name)
    fields = {f.name for f in dataclasses.fields(module.Config)}
    return name, module.Config(**{k: v for k, v in saved.items() if k in fields})
