"""The lessons' configurations and builders, shared by the notebooks and the CLI."""

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


__all__ = ["LESSONS", "Run", "fit", "get", "load_config", "restore", "saved_precision"]
