"""Functional-API model builders."""

from .dcgan import build_dcgan_discriminator, build_dcgan_generator
from .mlp import build_mlp_discriminator, build_mlp_generator

__all__ = [
    "build_dcgan_discriminator", "build_dcgan_generator",
    "build_mlp_discriminator", "build_mlp_generator",
]  # fmt: skip
