"""Fixtures of the unit tests: tiny GANs, batches, run folders. The environment (smoke budgets,
a throw-away output folder, headless plots) is set by the root conftest.py."""

import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf

from ganlib import config
from ganlib.data import write_idx
from ganlib.models import build_dcgan_discriminator, build_dcgan_generator
from ganlib.steps import GANStep

IMAGE_SHAPE = (28, 28, 1)
LATENT_DIM = 8


def pytest_configure(config):
    """pytest-benchmark (installed, unused here) creates ./.benchmarks at start-up unless told
    otherwise; point its default storage at a temporary folder so the repo stays clean."""
    if getattr(config.option, "benchmark_storage", None) == "file://./.benchmarks":
        config.option.benchmark_storage = "file://" + tempfile.mkdtemp(prefix="ganlib-bench-")


@pytest.fixture
def run_dir(tmp_path):
    """A fresh, not yet existing run directory."""
    return tmp_path / "run"


def make_tiny_gan(seed: int = 0, jit_compile: bool = False, loss=None):
    """(G, D, GANStep) small enough that a step takes milliseconds on a CPU."""
    keras.utils.set_random_seed(seed)
    g = build_dcgan_generator(latent_dim=LATENT_DIM, image_shape=IMAGE_SHAPE, width=8)
    d = build_dcgan_discriminator(image_shape=IMAGE_SHAPE, width=8)
    step = GANStep(g, d, g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                   d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), loss=loss, seed=seed,
                   jit_compile=jit_compile)
    return g, d, step


@pytest.fixture
def tiny_gan():
    return make_tiny_gan


@pytest.fixture
def real_batch():
    """A batch of 8 images in [-1, 1], as a tensor (static shape)."""
    x = np.random.default_rng(1).uniform(-1, 1, (8, *IMAGE_SHAPE)).astype(np.float32)
    return tf.constant(x)


@pytest.fixture
def uint8_images():
    """64 random uint8 28x28x1 images."""
    return np.random.default_rng(2).integers(0, 256, (64, *IMAGE_SHAPE), dtype=np.uint8)


def write_fake_mnist(folder, n_train: int = 12, n_test: int = 6, gz: bool = True, seed: int = 0):
    """An MNIST-like folder: the four IDX files with a few random 28x28 images."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.fixture
def fake_mnist():
    return write_fake_mnist


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """Offline, with the repo's data/ and the user's ~/.keras pointing at empty folders."""
    monkeypatch.setenv("GANLIB_OFFLINE", "1")
    monkeypatch.delenv("GANLIB_DATA_DIR", raising=False)
    monkeypatch.setattr(config, "REPO_ROOT", tmp_path / "repo")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


@pytest.fixture(scope="session")
def fashion_test():
    """The real Fashion-MNIST test split (from the system's copy), loaded once."""
    from ganlib import data

    return data.load("fashion_mnist", "test")
