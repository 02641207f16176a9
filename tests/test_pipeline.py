import numpy as np
import pytest

from ganlib.data import batches, to_model_range, to_uint8


def test_to_model_range_endpoints_and_dtype():
    out = to_model_range(np.array([0, 127, 128, 255], np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [-1.0, -0.5 / 127.5, 0.5 / 127.5, 1.0], atol=1e-7)


def test_round_trip_is_exact_for_every_pixel_value():
    values = np.arange(256, dtype=np.uint8)
    back = to_uint8(to_model_range(values))
    assert back.dtype == np.uint8
    np.testing.assert_array_equal(back, values)


def test_to_uint8_clips_overshoot():
    np.testing.assert_array_equal(to_uint8(np.array([-3.0, -1.0, 0.0, 1.0, 2.5])),
                                  [0, 0, 128, 255, 255])


def test_batches_of_images(uint8_images):
    ds = batches(uint8_images, 16, seed=0)
    assert ds.element_spec.shape.as_list() == [16, 28, 28, 1]  # static batch dim
    first = next(iter(ds)).numpy()
    assert first.dtype == np.float32
    assert first.min() >= -1.0 and first.max() <= 1.0
    # every batch is a permutation of dataset rows, in model range
    rows = {r.tobytes() for r in to_model_range(uint8_images)}
    assert all(r.tobytes() in rows for r in first)


def test_batches_repeat_and_drop_remainder(uint8_images):
    one_pass = list(batches(uint8_images[:50], 16, repeat=False))
    assert len(one_pass) == 3  # 50 // 16, the remainder dropped
    assert all(b.shape[0] == 16 for b in one_pass)
    it = iter(batches(uint8_images[:50], 16))
    assert len([next(it) for _ in range(10)]) == 10  # repeats forever


def test_seed_gives_the_same_first_batch(uint8_images):
    a = next(iter(batches(uint8_images, 8, seed=5))).numpy()
    b = next(iter(batches(uint8_images, 8, seed=5))).numpy()
    c = next(iter(batches(uint8_images, 8, seed=6))).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_points_pass_through_and_labels():
    points = np.random.default_rng(0).normal(size=(40, 2)) * 5  # outside [-1, 1]
    first = next(iter(batches(points, 10, seed=0))).numpy()
    assert first.dtype == np.float32 and np.abs(first).max() > 1.0
    x = np.arange(20, dtype=np.uint8).reshape(20, 1, 1, 1)
    images, labels = next(iter(batches(x, 5, y=np.arange(20), seed=0)))
    np.testing.assert_array_equal(to_uint8(images.numpy()).ravel(), labels.numpy())


def test_batch_larger_than_data():
    with pytest.raises(ValueError, match="larger than the dataset"):
        batches(np.zeros((5, 2), np.float32), 6)
