"""The lessons: one module each (see `interface`), listed in `registry`; shared by the
notebooks and the CLI."""

from .base import Run, fit, restore, saved_precision
from .interface import Lesson, QualityBench, Target
from .registry import LESSONS, get, load_config, names, register, saved_config

__all__ = ["LESSONS", "Lesson", "QualityBench", "Run", "Target", "fit", "get", "load_config",
           "names", "register", "restore", "saved_config", "saved_precision"]
