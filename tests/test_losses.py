import math

import numpy as np
import pytest
import tensorflow as tf

from ganlib.losses import KINDS, SCORE_KINDS, AdversarialLoss, l1_per_example, mse_per_example

LN2 = math.log(2.0)


def softplus(x: float) -> float:
    return math.log1p(math.exp(x))


def bce(target: float, logit: float) -> float:
    """Binary cross-entropy of sigmoid(logit) against `target`, by hand."""
    return softplus(logit) - target * logit


def col(*values):
    return tf.constant(values, tf.float32)[:, None]


def test_non_saturating_at_zero():
    loss = AdversarialLoss()
    np.testing.assert_allclose(loss.discriminator(col(0.0), col(0.0)).numpy(), [2 * LN2], 1e-6)
    np.testing.assert_allclose(loss.generator(col(0.0)).numpy(), [LN2], 1e-6)


def test_minimax_generator_at_zero():
    np.testing.assert_allclose(AdversarialLoss("minimax").generator(col(0.0)).numpy(), [-LN2],
                               1e-6)


def test_non_saturating_values():
    loss = AdversarialLoss()
    d = loss.discriminator(col(2.0, -1.0), col(-1.0, 3.0)).numpy()
    np.testing.assert_allclose(d, [bce(1, 2) + bce(0, -1), bce(1, -1) + bce(0, 3)], 1e-6)
    np.testing.assert_allclose(loss.generator(col(2.0, -3.0)).numpy(), [bce(1, 2), bce(1, -3)],
                               1e-6)
    # minimax G: minimise log(1 - D(G(z))) = -softplus(logit)
    np.testing.assert_allclose(AdversarialLoss("minimax").generator(col(2.0)).numpy(),
                               [-softplus(2.0)], 1e-6)


def test_least_squares_values():
    loss = AdversarialLoss("least_squares")
    d = loss.discriminator(col(2.0, 1.0), col(-1.0, 0.5)).numpy()
    np.testing.assert_allclose(d, [0.5 * (1.0 + 1.0), 0.5 * (0.0 + 0.25)], 1e-6)
    np.testing.assert_allclose(loss.generator(col(3.0, 1.0, -1.0)).numpy(), [2.0, 0.0, 2.0],
                               1e-6)


def test_one_sided_label_smoothing():
    smooth = AdversarialLoss(real_label=0.9)
    hard = AdversarialLoss()
    real, fake = col(2.0), col(-1.0)
    got = smooth.discriminator(real, fake).numpy()[0]
    np.testing.assert_allclose(got, bce(0.9, 2.0) + bce(0.0, -1.0), 1e-6)
    # with target 0.9 instead of 1, the real term grows by 0.1 * logit
    np.testing.assert_allclose(got - hard.discriminator(real, fake).numpy()[0], 0.1 * 2.0, 1e-6)
    # the generator's loss does not change
    np.testing.assert_allclose(smooth.generator(fake).numpy(), hard.generator(fake).numpy())
    # smoothing is one-sided: the fake target stays 0 (least squares shows it directly)
    ls = AdversarialLoss("least_squares", real_label=0.9)
    np.testing.assert_allclose(ls.discriminator(col(0.9), col(0.0)).numpy(), [0.0], atol=1e-7)


def test_per_example_output_shape():
    loss = AdversarialLoss()
    assert loss.discriminator(tf.zeros([7, 1]), tf.zeros([7, 1])).shape == (7,)
    assert loss.generator(tf.zeros([7, 1])).shape == (7,)
    assert loss.discriminator(tf.zeros([3, 4, 4, 1]), tf.zeros([3, 4, 4, 1])).shape == (3,)


def test_flip_prob_needs_a_seed():
    with pytest.raises(ValueError, match="seed"):
        AdversarialLoss(flip_prob=0.1).discriminator(col(0.0), col(0.0))


@pytest.mark.parametrize("p", [0.05, 0.2])
def test_flips_about_flip_prob_of_labels(p):
    n = 100_000
    loss = AdversarialLoss("least_squares", flip_prob=p)
    seed = tf.constant([3, 4], tf.int64)
    # real logits at 1 and fake logits at 0: a kept label costs 0, a flipped one 0.5
    per = loss.discriminator(tf.ones([n, 1]), tf.zeros([n, 1]), seed=seed).numpy()
    assert set(np.unique(per)) <= {0.0, 0.5, 1.0}
    rate = per.mean()  # = (real flips + fake flips) / 2n labels
    assert abs(rate - p) < 0.01, rate
    again = loss.discriminator(tf.ones([n, 1]), tf.zeros([n, 1]), seed=seed).numpy()
    np.testing.assert_array_equal(per, again)  # stateless: same seed, same flips
    other = loss.discriminator(tf.ones([n, 1]), tf.zeros([n, 1]),
                               seed=tf.constant([3, 5], tf.int64)).numpy()
    assert not np.array_equal(per, other)


def test_no_flips_without_flip_prob():
    per = AdversarialLoss("least_squares").discriminator(
        tf.ones([1000, 1]), tf.zeros([1000, 1]), seed=tf.constant([1, 2], tf.int64)).numpy()
    np.testing.assert_array_equal(per, np.zeros(1000))


@pytest.mark.parametrize("kind", ["wgan", "NonSaturating", ""])
def test_unknown_kind(kind):
    with pytest.raises(ValueError, match="Unknown loss") as info:
        AdversarialLoss(kind)
    for known in KINDS:
        assert known in str(info.value)


@pytest.mark.parametrize("p", [-0.1, 0.5, 1.0])
def test_bad_flip_prob(p):
    with pytest.raises(ValueError, match="flip_prob"):
        AdversarialLoss(flip_prob=p)


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in SCORE_KINDS])
def test_discriminator_loss_is_its_real_and_fake_terms(kind):
    loss = AdversarialLoss(kind, real_label=0.9)
    real, fake = tf.constant([[0.5], [-2.0]]), tf.constant([[1.0], [3.0]])
    np.testing.assert_allclose(loss.discriminator(real, fake),
                               loss.on_real(real) + loss.on_fake(fake), rtol=1e-6)
    at_zero = (0.0, 0.5 * 0.9**2) if kind == "least_squares" else (LN2, LN2)
    assert float(loss.on_fake(col(0.0))[0]) == pytest.approx(at_zero[0], abs=1e-6)
    assert float(loss.on_real(col(0.0))[0]) == pytest.approx(at_zero[1], abs=1e-6)


def test_reconstruction_terms_are_per_example_means():
    target = np.zeros((2, 3, 3, 1), np.float32)
    output = np.stack([np.full((3, 3, 1), 0.5), np.full((3, 3, 1), -2.0)]).astype(np.float32)
    output[0, 0, 0, 0] = 2.0  # one pixel off by 2: the mean square sees it more than L1
    np.testing.assert_allclose(l1_per_example(target, output), [(8 * 0.5 + 2) / 9, 2.0], rtol=1e-6)
    np.testing.assert_allclose(mse_per_example(target, output), [(8 * 0.25 + 4) / 9, 4.0],
                               rtol=1e-6)
    features = np.ones((2, 4), np.float32)  # feature vectors too (the SRGAN content loss)
    np.testing.assert_allclose(mse_per_example(features, 0 * features), [1.0, 1.0])
