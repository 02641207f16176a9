"""The lessons' configurations and builders, shared by the notebooks and the CLI."""

import dataclasses

from . import acgan, cgan, cyclegan, dcgan, infogan, loss_zoo, pix2pix, sgan, sine, srgan, stylegan
from .base import Run, fit, load_config, restore, saved_precision

LESSONS = {"sine": sine, "dcgan": dcgan, "cgan": cgan, "infogan": infogan, "acgan": acgan,
           "sgan": sgan, "pix2pix": pix2pix, "cyclegan": cyclegan, "losses": loss_zoo,
           "srgan": srgan, "stylegan": stylegan}


def get(name: str):
    """The lesson module for `name` (e.g. "dcgan"), or a clear error."""
    if name not in LESSONS:
        raise KeyError(f"Unknown lesson {name!r}. Lessons: {', '.join(LESSONS)}.")
    return LESSONS[name]


def saved_config(run_dir):
    """(lesson name, its Config) of the run in `run_dir`, as the run was trained
    (`load_config`): a field it lacks takes the default; fields the Config no longer has are
    dropped."""
    name, saved = load_config(run_dir)
    module = get(name)
    fields = {f.name for f in dataclasses.fields(module.Config)}
    return name, module.Config(**{k: v for k, v in saved.items() if k in fields})


__all__ = ["LESSONS", "Run", "fit", "get", "load_config", "restore", "saved_config",
           "saved_precision"]
