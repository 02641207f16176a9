import keras
import numpy as np
import pytest

from ganlib.models import (
    build_dcgan_discriminator,
    build_dcgan_generator,
    build_mlp_discriminator,
    build_mlp_generator,
)
from ganlib.models.classifier import build_mlp_classifier_discriminator
from ganlib.models.dcgan import num_resamplings
from ganlib.models.infogan import build_infogan_discriminator
from ganlib.models.resnet_generator import build_resnet_generator

SHAPES = [(28, 28, 1), (32, 32, 3), (64, 64, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_generator_shape_and_range(shape):
    g = build_dcgan_generator(latent_dim=8, image_shape=shape, width=4, seed=0)
    z = np.random.default_rng(0).normal(size=(3, 8)).astype("f4")
    out = np.asarray(g(z, training=False))
    assert out.shape == (3, *shape)
    assert g.output_shape == (None, *shape)
    assert np.all(np.abs(out) <= 1.0)
    # blow up the last convolution: a bounded output must then saturate at +-1, not exceed it
    last = [layer for layer in g.layers if isinstance(layer, keras.layers.Conv2D)][-1]
    last.set_weights([w * 1e5 for w in last.get_weights()])
    out = np.asarray(g(z, training=True))
    assert np.all(np.abs(out) <= 1.0)
    assert out.max() > 0.99 and out.min() < -0.99


@pytest.mark.parametrize("shape", SHAPES)
def test_discriminator_one_logit_per_image(shape):
    d = build_dcgan_discriminator(image_shape=shape, width=4, seed=0)
    x = np.random.default_rng(0).uniform(-1, 1, (5, *shape)).astype("f4")
    out = np.asarray(d(x, training=False))
    assert out.shape == (5, 1)
    assert d.output_shape == (None, 1)
    assert len(np.unique(out)) == 5  # logits, one per image, not a shared constant


def test_discriminator_ends_in_a_logit_not_a_probability():
    d = build_dcgan_discriminator(width=4, seed=0)
    assert d.layers[-1].name == "logit"
    assert d.layers[-1].activation is keras.activations.linear


@pytest.mark.parametrize("shape", [(28, 32, 1), (32, 32, 2), (32, 32), (32, 32, 3, 1),
                                   (27, 27, 1)])
def test_bad_image_shape(shape):
    with pytest.raises(ValueError):
        build_dcgan_generator(latent_dim=8, image_shape=shape, width=4)
    with pytest.raises(ValueError):
        build_dcgan_discriminator(image_shape=shape, width=4)


@pytest.mark.parametrize("side, n", [(28, 2), (32, 3), (64, 4), (8, 1)])
def test_num_resamplings(side, n):
    assert num_resamplings(side) == n
    assert 4 <= side // 2**n <= 7


def test_mlp_shapes():
    g = build_mlp_generator(latent_dim=5, hidden=(7, 3), output_dim=2)
    d = build_mlp_discriminator(input_dim=2, hidden=(4,))
    points = g(np.zeros((6, 5), "f4"))
    assert tuple(points.shape) == (6, 2)
    assert tuple(d(points).shape) == (6, 1)
    dense = [layer for layer in g.layers if isinstance(layer, keras.layers.Dense)]
    assert [layer.units for layer in dense] == [7, 3, 2]


@pytest.mark.parametrize("build", [
    lambda: build_dcgan_generator(latent_dim=8, width=4),
    lambda: build_dcgan_discriminator(width=4),
    lambda: build_mlp_generator(latent_dim=4),
    lambda: build_mlp_discriminator(),
])  # fmt: skip
def test_functional_models(build):
    model = build()
    assert isinstance(model, keras.Model)
    assert not isinstance(model, keras.Sequential)
    assert len(model.inputs) == 1 and len(model.outputs) == 1
    lines = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line))
    assert model.name in "\n".join(lines)
    assert model.count_params() > 0


def test_seeded_builders_are_repeatable():
    a = build_dcgan_generator(latent_dim=8, width=4, seed=3)
    b = build_dcgan_generator(latent_dim=8, width=4, seed=3)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    kernel = a.layers[1].get_weights()[0]
    assert abs(kernel.std() - 0.02) < 0.005  # DCGAN init N(0, 0.02)


def _kernels(model):
    return [w.numpy().ravel() for w in model.weights
            if ("kernel" in w.path or "embeddings" in w.path) and w.numpy().size >= 16]


@pytest.mark.parametrize("build", [
    lambda seed: build_dcgan_generator(latent_dim=8, width=4, seed=seed),
    lambda seed: build_dcgan_discriminator(width=4, seed=seed),
    lambda seed: build_infogan_discriminator(width=4, q_units=16, num_continuous=2, seed=seed),
    lambda seed: build_resnet_generator((16, 16, 3), width=4, n_blocks=3, seed=seed),
    lambda seed: build_mlp_classifier_discriminator(hidden=(32, 32, 32), seed=seed),
])  # fmt: skip
def test_seeded_layers_start_from_their_own_numbers(build):
    """One integer seed draws one stream whatever the shape: layers seeded alike would start
    as copies (prefixes of each other). Each seeded layer gets its own seed, repeatably."""
    a, b = build(5), build(5)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    heads = [k[:16] for k in _kernels(a)]
    assert len(heads) >= 3
    for i in range(len(heads)):
        for j in range(i):
            assert not np.allclose(heads[i] / heads[i].std(), heads[j] / heads[j].std()), (i, j)
    other = build(6)
    assert not np.array_equal(a.get_weights()[0], other.get_weights()[0])
