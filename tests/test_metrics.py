import math

import numpy as np
import pytest

from ganlib import metrics


def _gauss(n, d, seed, shift=0.0):
    return np.random.default_rng(seed).standard_normal((n, d)) + shift


def test_fid_of_a_set_with_itself_is_zero():
    a = _gauss(3000, 6, 0)
    assert abs(metrics.frechet_distance(a, a)) < 1e-6


def test_fid_of_a_mean_shift_is_its_squared_length():
    v = np.array([1.0, 2.0, 0.0, -1.0])
    a, b = _gauss(40_000, 4, 0), _gauss(40_000, 4, 1, shift=v)
    assert metrics.frechet_distance(a, b) == pytest.approx(v @ v, abs=0.15)  # |v|^2 = 6
    assert metrics.frechet_distance(a, _gauss(40_000, 4, 2)) < 0.05


def test_fid_grows_with_the_shift():
    a = _gauss(5000, 3, 0)
    fids = [metrics.frechet_distance(a, _gauss(5000, 3, 1, shift=s)) for s in (0.0, 0.5, 1, 2)]
    assert fids == sorted(fids) and fids[-1] > 10 * max(fids[0], 1e-3)


def test_fid_sees_a_covariance_change():
    a, b = _gauss(20_000, 2, 0), 2.0 * _gauss(20_000, 2, 1)
    # covariances I and 4I: Tr(I + 4I - 2 (4I)^1/2) = d (1 - 2)^2 = 2
    assert metrics.frechet_distance(a, b) == pytest.approx(2.0, abs=0.1)


def test_fid_with_rank_deficient_covariance_is_finite():
    a, b = _gauss(20, 64, 0), _gauss(20, 64, 1)  # fewer samples than dimensions
    assert math.isfinite(metrics.frechet_distance(a, b))


def test_kid_same_and_shifted():
    a, b = _gauss(1000, 8, 0), _gauss(1000, 8, 1)
    same = metrics.kernel_inception_distance(a, b, subsets=5, subset_size=500)
    shifted = metrics.kernel_inception_distance(a, _gauss(1000, 8, 1, shift=1.0), subsets=5,
                                                subset_size=500)
    assert abs(same) < 0.02
    assert shifted > 0.5 and shifted > 20 * abs(same)


def test_kid_is_seeded():
    a, b = _gauss(300, 4, 0), _gauss(300, 4, 1, shift=0.3)
    kid = metrics.kernel_inception_distance
    assert kid(a, b, subsets=3, subset_size=100, seed=1) == kid(a, b, subsets=3,
                                                                 subset_size=100, seed=1)


def test_class_shares_and_entropy():
    uniform = np.eye(10)[np.arange(1000) % 10]
    shares = metrics.class_shares(uniform)
    np.testing.assert_allclose(shares, np.full(10, 0.1))
    assert metrics.entropy_bits(shares) == pytest.approx(math.log2(10))
    one = metrics.class_shares(np.eye(10)[np.zeros(50, int)])
    assert one[0] == 1.0 and one.sum() == 1.0
    assert metrics.entropy_bits(one) == 0.0
    assert metrics.entropy_bits(np.array([0.5, 0.5, 0.0])) == pytest.approx(1.0)
    assert metrics.entropy_bits(np.array([0.25] * 4)) == pytest.approx(2.0)
    probs = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.1, 0.8, 0.1]])
    np.testing.assert_allclose(metrics.class_shares(probs, num_classes=4), [0.25, 0.5, 0.25, 0])


def _sine(n, seed=0):
    x = np.random.default_rng(seed).uniform(-np.pi, np.pi, n)
    return np.stack([x, np.sin(x)], 1)


def test_point_metrics_of_exact_sine_points():
    m = metrics.point_metrics(_sine(20_000))
    assert m["n"] == 20_000
    assert m["mean_abs_error"] < 1e-9
    assert m["coverage"] == 1.0
    assert m["outside_range"] == 0.0
    assert m["x_w1"] < 0.05


def test_point_metrics_of_a_collapsed_generator():
    points = np.zeros((1000, 2))
    m = metrics.point_metrics(points)
    assert m["mean_abs_error"] == 0.0  # (0, sin 0) lies on the curve...
    assert m["coverage"] == pytest.approx(1 / 20)  # ...but covers one bin in 20
    assert m["x_w1"] == pytest.approx(math.pi / 2, abs=0.01)


def test_point_metrics_of_points_off_the_curve():
    points = _sine(5000)
    points[:, 1] += 0.3
    points[:100, 0] = 5.0
    m = metrics.point_metrics(points)
    assert m["mean_abs_error"] > 0.25
    assert m["outside_range"] == pytest.approx(0.02)


@pytest.mark.parametrize("shape", [(10,), (10, 3), (10, 2, 1)])
def test_point_metrics_bad_shape(shape):
    with pytest.raises(ValueError, match="N x 2"):
        metrics.point_metrics(np.zeros(shape))


# --- the judge ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def judge():
    return metrics.judge("fashion_mnist")


def test_judge_is_shipped_and_accurate(judge, fashion_test):
    assert (metrics.JUDGE_DIR / "fashion_mnist.keras").exists()
    assert metrics.judge("fashion_mnist") is judge  # cached
    x, y = fashion_test.x[:1000], fashion_test.y[:1000]
    _, probs = metrics.judge_outputs(x, "fashion_mnist")
    assert probs.shape == (1000, 10)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    accuracy = float(np.mean(probs.argmax(1) == y))
    assert accuracy >= 0.85, accuracy
    assert metrics.judge_info("fashion_mnist")["test_accuracy"] > 0.85


def test_judge_outputs_accepts_uint8_or_model_range(judge, fashion_test):
    from ganlib.data import to_model_range

    x = fashion_test.x[:20]
    f1, p1 = metrics.judge_outputs(x, "fashion_mnist")
    f2, p2 = metrics.judge_outputs(to_model_range(x), "fashion_mnist", batch_size=7)
    assert f1.shape == (20, 128)
    np.testing.assert_allclose(f1, f2, atol=1e-4)
    np.testing.assert_allclose(p1, p2, atol=1e-5)
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        metrics.judge_outputs(x.astype(np.float32), "fashion_mnist")


def test_image_metrics_real_vs_noise(judge, fashion_test):
    real = metrics.image_metrics(fashion_test.x[:1000], "fashion_mnist")
    noise_images = np.random.default_rng(0).integers(0, 256, (1000, 28, 28, 1), dtype=np.uint8)
    noise = metrics.image_metrics(noise_images, "fashion_mnist")
    assert set(real) == {"n", "fid", "kid", "class_entropy_bits", "max_class_share"}
    assert real["n"] == 1000
    assert noise["fid"] > 10 * real["fid"]
    assert noise["kid"] > real["kid"]
    assert real["class_entropy_bits"] == pytest.approx(math.log2(10), abs=0.1)
    assert real["max_class_share"] < 0.15
    assert noise["class_entropy_bits"] < real["class_entropy_bits"]


@pytest.mark.parametrize("shape", [(5, 32, 32, 1), (5, 28, 28, 3), (5, 28, 28)])
def test_image_metrics_wrong_shape(judge, shape):
    with pytest.raises(ValueError, match="shape"):
        metrics.image_metrics(np.zeros(shape, np.uint8), "fashion_mnist")
