import numpy as np
import pytest
import tensorflow as tf

from ganlib.data.augment import (
    consistency_move,
    cutout,
    jitter_intensity,
    rescale,
    shift_and_mirror,
    zoom,
)
from ganlib.losses import category_consistency


def _which_move(original, moved, max_shift):
    """(mirrored, dy, dx) that turn `original` into `moved` exactly, or None."""
    for mirrored in (False, True):
        image = original[:, ::-1] if mirrored else original
        padded = np.pad(image, [[max_shift] * 2, [max_shift] * 2, [0, 0]], constant_values=-1)
        for dy in range(2 * max_shift + 1):
            for dx in range(2 * max_shift + 1):
                if np.array_equal(padded[dy:dy + image.shape[0], dx:dx + image.shape[1]], moved):
                    return mirrored, dy, dx
    return None


def test_shift_and_mirror_moves_each_image_by_whole_pixels_with_and_without_xla():
    images = np.random.default_rng(0).uniform(-1, 1, (64, 12, 10, 1)).astype(np.float32)
    seed = tf.constant([3, 4], tf.int64)
    eager = shift_and_mirror(tf.constant(images), seed, max_shift=2).numpy()
    compiled = tf.function(shift_and_mirror, jit_compile=True)(
        tf.constant(images), seed, max_shift=2).numpy()
    for moved in (eager, compiled):  # XLA draws other random numbers: the same kind of moves
        moves = [_which_move(a, b, 2) for a, b in zip(images, moved)]
        assert None not in moves, "an output is not a shifted or mirrored copy of its input"
        assert {m[0] for m in moves} == {False, True}  # some mirrored, some not
        assert len({m[1:] for m in moves}) > 10  # many different shifts
    again = shift_and_mirror(tf.constant(images), seed, max_shift=2).numpy()
    np.testing.assert_array_equal(eager, again)  # seeded
    still = shift_and_mirror(tf.constant(images), seed, max_shift=0, mirror=False).numpy()
    np.testing.assert_array_equal(still, images)


def test_category_consistency_is_smallest_when_the_reading_does_not_change():
    target = tf.constant([[2.0, 0.0, -1.0]])
    same = float(category_consistency(target, target)[0])
    p = tf.nn.softmax(target).numpy()[0]
    assert same == pytest.approx(-(p * np.log(p)).sum(), rel=1e-5)  # the entropy
    assert float(category_consistency(target, tf.constant([[-1.0, 0.0, 2.0]]))[0]) > same + 1
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(target)
        moved = tf.constant([[0.0, 1.0, 0.0]])
        tape.watch(moved)
        loss = category_consistency(target, moved)
    assert tape.gradient(loss, target) is None  # the original's reading is held fixed
    assert np.abs(tape.gradient(loss, moved).numpy()).sum() > 0


def test_jitter_intensity_levels_dark_and_light_garments_keeping_black_and_order():
    """Levels (low, high): each garment's mean intensity on [0, 1] becomes a level drawn in
    [low, high], whether it was dark or light; black stays black, a brighter pixel stays
    brighter, eager and under XLA (each with its own random draws); no levels and no gamma
    leave the images as they were."""
    rng = np.random.default_rng(1)
    x01 = np.zeros((64, 8, 8, 1), np.float32)  # black around a 4 x 4 garment
    x01[:32, 2:6, 2:6] = rng.uniform(0.05, 0.15, (32, 4, 4, 1))  # dark garments
    x01[32:, 2:6, 2:6] = rng.uniform(0.5, 0.7, (32, 4, 4, 1))  # light ones
    images = 2 * x01 - 1
    seeds = tf.constant([5, 6], tf.int64), tf.constant([7, 8], tf.int64)
    levels = (0.35, 0.75)
    eager = jitter_intensity(tf.constant(images), *seeds, levels=levels, gamma=0.0).numpy()
    compiled = tf.function(jitter_intensity, jit_compile=True)(
        tf.constant(images), *seeds, levels=levels, gamma=0.0).numpy()
    for out in (eager, compiled):  # (XLA draws other random numbers)
        garment = (out[:, 2:6, 2:6] + 1) / 2
        means = garment.reshape(64, -1).mean(1)
        assert means.min() >= 0.35 - 1e-4 and means.max() <= 0.75 + 1e-4
        for half in (means[:32], means[32:]):  # dark and light garments alike fill the range
            assert half.min() < 0.45 and half.max() > 0.65
        np.testing.assert_allclose(out[:, 0], -1, atol=1e-3)  # black stays black
        for before, after in zip(images.reshape(64, -1), out.reshape(64, -1)):
            order = np.argsort(before, kind="stable")
            assert np.all(np.diff(after[order]) >= -1e-6)  # a brighter pixel stays brighter
    np.testing.assert_array_equal(  # seeded
        eager, jitter_intensity(tf.constant(images), *seeds, levels=levels, gamma=0.0).numpy())
    contrast = jitter_intensity(tf.constant(images), *seeds, levels=None, gamma=0.5).numpy()
    assert not np.allclose(contrast, images, atol=1e-3)  # gamma alone changes contrast
    np.testing.assert_allclose(contrast[:, 0], -1, atol=1e-3)
    same = jitter_intensity(tf.constant(images), *seeds, levels=None, gamma=0.0).numpy()
    np.testing.assert_allclose(same, images, atol=1e-5)


def test_consistency_move_is_shift_and_mirror_without_jitter_and_jitters_after_it():
    images = np.random.default_rng(2).uniform(-1, 1, (32, 12, 10, 1)).astype(np.float32)
    seed = tf.constant([3, 4], tf.int64)
    plain = consistency_move(tf.constant(images), seed, max_shift=2).numpy()
    np.testing.assert_array_equal(plain, shift_and_mirror(tf.constant(images), seed, 2).numpy())
    grey = np.zeros((32, 12, 10, 1), np.float32)  # mid-grey: the shift's black edge shows
    moved = consistency_move(tf.constant(grey), seed, max_shift=2, levels=(0.35, 0.75),
                             gamma=0.5).numpy()
    black = np.isclose(moved, -1, atol=1e-3).reshape(32, -1).sum(1)
    possible = {120 - (12 - dy) * (10 - dx) for dy in range(3) for dx in range(3)}
    assert set(black) <= possible and len(set(black)) > 3  # shifted, edges still black
    levels = [np.unique(image[~np.isclose(image, -1, atol=1e-3)].round(5)) for image in moved]
    assert all(len(level) == 1 for level in levels)  # one brightness per image
    assert np.ptp(np.concatenate(levels)) > 0.2  # and a different one for each


def test_rescale_is_a_centred_crop_and_resize_with_and_without_xla():
    images = np.random.default_rng(3).uniform(-1, 1, (6, 12, 10, 1)).astype(np.float32)
    scale = np.array([[0.8], [0.93], [1.0], [1.07], [1.2], [1.5]], np.float32)
    half = 0.5 * scale
    boxes = np.concatenate([0.5 - half, 0.5 - half, 0.5 + half, 0.5 + half], 1)
    expected = tf.image.crop_and_resize(images, boxes, tf.range(6), (12, 10),
                                        extrapolation_value=-1.0).numpy()
    eager = rescale(tf.constant(images), tf.constant(scale)).numpy()
    compiled = tf.function(rescale, jit_compile=True)(tf.constant(images), tf.constant(scale))
    np.testing.assert_allclose(eager, expected, atol=1e-5)
    np.testing.assert_allclose(compiled.numpy(), expected, atol=1e-5)
    np.testing.assert_array_equal(eager[2], images[2])  # s = 1: unchanged, exactly
    assert np.all(eager[4:, 0] == -1) and np.all(eager[4:, :, 0] == -1)  # drawn smaller
    assert not np.any(eager[:2] == -1)  # drawn larger: nothing from outside


def test_rescale_takes_a_factor_for_rows_and_one_for_columns():
    images = np.random.default_rng(5).uniform(-1, 1, (3, 12, 10, 1)).astype(np.float32)
    scale = np.array([[0.8, 1.2], [1.0, 1.0], [1.25, 0.9]], np.float32)
    # a centred box s_rows high and s_columns wide
    boxes = np.stack([0.5 - scale[:, 0] / 2, 0.5 - scale[:, 1] / 2,
                      0.5 + scale[:, 0] / 2, 0.5 + scale[:, 1] / 2], 1)
    expected = tf.image.crop_and_resize(images, boxes, tf.range(3), (12, 10),
                                        extrapolation_value=-1.0).numpy()
    np.testing.assert_allclose(rescale(tf.constant(images), tf.constant(scale)).numpy(),
                               expected, atol=1e-5)
    same = np.array([[0.9], [1.1], [1.3]], np.float32)
    np.testing.assert_array_equal(rescale(tf.constant(images), same).numpy(),
                                  rescale(tf.constant(images), np.repeat(same, 2, 1)).numpy())


def test_zoom_with_an_aspect_draws_garments_taller_or_wider():
    grey = np.zeros((64, 28, 28, 1), np.float32)
    seed = tf.constant([7, 8], tf.int64)
    stretched = zoom(tf.constant(grey), seed, 0.0, max_aspect=0.25).numpy()
    black_rows = (stretched == -1).all(axis=(2, 3)).sum(1)
    black_cols = (stretched == -1).all(axis=(1, 3)).sum(1)
    # the rows' factor is e^u, the columns' e^-u: never both drawn smaller
    assert not np.any((black_rows > 0) & (black_cols > 0))
    assert (black_rows > 0).sum() > 15 and (black_cols > 0).sum() > 15
    assert max(black_rows.max(), black_cols.max()) <= 2 * 4  # e^0.25 = 1.28: 3-4 a side
    images = tf.constant(np.random.default_rng(6).uniform(-1, 1, (8, 12, 10, 1)), tf.float32)
    # without an aspect, the draws of before; with one, consistency_move passes it on
    np.testing.assert_array_equal(zoom(images, seed, 0.2, max_aspect=0.0).numpy(),
                                  zoom(images, seed, 0.2).numpy())
    shift_seed, zoom_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    np.testing.assert_array_equal(
        consistency_move(images, seed, max_shift=2, max_zoom=0.1, max_aspect=0.2).numpy(),
        zoom(shift_and_mirror(images, shift_seed, 2), zoom_seed, 0.1, 0.2).numpy())


def test_zoom_draws_a_factor_per_image_and_consistency_move_zooms_after_the_shift():
    grey = np.zeros((64, 28, 28, 1), np.float32)  # mid-grey: black edges tell the factor
    seed = tf.constant([5, 6], tf.int64)
    zoomed = zoom(tf.constant(grey), seed, 0.2).numpy()
    np.testing.assert_array_equal(zoomed, zoom(tf.constant(grey), seed, 0.2).numpy())  # seeded
    black_rows = (zoomed == -1).all(axis=(2, 3)).sum(1)
    assert black_rows.max() <= 2 * 3  # s <= 1.2 leaves at most 3 rows black on each side
    assert (black_rows == 0).sum() > 20 and (black_rows > 0).sum() > 20  # larger and smaller
    np.testing.assert_array_equal(zoom(tf.constant(grey), seed, 0.0).numpy(), grey)
    images = tf.constant(np.random.default_rng(4).uniform(-1, 1, (8, 12, 10, 1)), tf.float32)
    plain = consistency_move(images, seed, max_shift=2)
    same = consistency_move(images, seed, max_shift=2, max_zoom=0.0)
    np.testing.assert_array_equal(plain.numpy(), same.numpy())
    shift_seed, zoom_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    both = consistency_move(images, seed, max_shift=2, max_zoom=0.2).numpy()
    expected = zoom(shift_and_mirror(images, shift_seed, 2), zoom_seed, 0.2).numpy()
    np.testing.assert_array_equal(both, expected)


def test_cutout_blacks_out_one_square_of_its_side_on_each_image():
    grey = np.zeros((64, 28, 28, 1), np.float32)
    seed = tf.constant([9, 10], tf.int64)
    for size in (1, 4, 9):
        cut = cutout(tf.constant(grey), seed, size).numpy()
        np.testing.assert_array_equal(cut, cutout(tf.constant(grey), seed, size).numpy())
        black = cut[..., 0] == -1
        assert set(np.unique(cut)) <= {-1.0, 0.0}
        rows, cols = black.any(2).sum(1), black.any(1).sum(1)
        # one rectangle each (rows x columns), size x size unless clipped at an edge
        np.testing.assert_array_equal(black.sum((1, 2)), rows * cols)
        assert rows.min() >= 1 and rows.max() == size and cols.max() == size
        assert (rows * cols == size * size).sum() > 32
        if size > 1:
            assert (rows < size).sum() > 0  # clipped: centres near an edge are drawn too
    # the squares lie all over the image
    centres = [np.argwhere(b).mean(0) for b in cutout(tf.constant(grey), seed, 1).numpy()[..., 0]
               == -1]
    assert np.ptp(centres, axis=0).min() > 20
    np.testing.assert_array_equal(cutout(tf.constant(grey), seed, 0).numpy(), grey)
    # XLA compiles it (its squares lie elsewhere: the folded seed here has a negative entry,
    # and TF's stateless draws from such a seed differ between eager and XLA)
    compiled = tf.function(lambda x: cutout(x, seed, 9), jit_compile=True)
    black = compiled(tf.constant(grey)).numpy()[..., 0] == -1
    np.testing.assert_array_equal(black.sum((1, 2)), black.any(2).sum(1) * black.any(1).sum(1))
    assert black.any(2).sum(1).max() == 9 and black.any(1).sum(1).max() == 9


def test_consistency_move_cuts_out_after_the_zoom_and_only_when_asked():
    images = tf.constant(np.random.default_rng(7).uniform(-1, 1, (8, 12, 10, 1)), tf.float32)
    seed = tf.constant([11, 12], tf.int64)
    np.testing.assert_array_equal(
        consistency_move(images, seed, max_shift=2, max_zoom=0.1, cutout_size=0).numpy(),
        consistency_move(images, seed, max_shift=2, max_zoom=0.1).numpy())
    shift_seed, zoom_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    zoomed = zoom(shift_and_mirror(images, shift_seed, 2), zoom_seed, 0.1)
    cut_seed = tf.random.experimental.stateless_fold_in(zoom_seed, 11)
    np.testing.assert_array_equal(
        consistency_move(images, seed, max_shift=2, max_zoom=0.1, cutout_size=5).numpy(),
        cutout(zoomed, cut_seed, 5).numpy())
    # without a zoom, the shift and mirror of the same split seed
    np.testing.assert_array_equal(
        consistency_move(images, seed, max_shift=2, cutout_size=5).numpy(),
        cutout(shift_and_mirror(images, shift_seed, 2), cut_seed, 5).numpy())
