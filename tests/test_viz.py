import io

import numpy as np
import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from PIL import Image

from ganlib import viz


@pytest.mark.parametrize("n, cols, pad, expected", [
    (10, None, 1, (3 * 6 + 1, 4 * 7 + 1)),  # 4 columns (ceil sqrt 10), 3 rows
    (10, 5, 0, (2 * 5, 5 * 6)),
    (1, None, 2, (5 + 4, 6 + 4)),
    (16, None, 1, (4 * 6 + 1, 4 * 7 + 1)),
])  # fmt: skip
def test_image_grid_shape(n, cols, pad, expected):
    images = np.zeros((n, 5, 6, 1), np.uint8)
    grid = viz.image_grid(images, cols=cols, pad=pad)
    assert grid.shape == (*expected, 1) and grid.dtype == np.uint8


def test_image_grid_places_images_and_pads_white():
    images = np.stack([np.full((3, 3, 3), v, np.uint8) for v in (10, 20, 30)])
    grid = viz.image_grid(images, cols=2, pad=1)
    assert grid.shape == (9, 9, 3)
    assert (grid[1:4, 1:4] == 10).all() and (grid[1:4, 5:8] == 20).all()
    assert (grid[5:8, 1:4] == 30).all()
    assert (grid[5:8, 5:8] == 255).all()  # the empty cell
    assert (grid[0] == 255).all() and (grid[:, 4] == 255).all()


def test_image_grid_of_float_and_channelless_images():
    images = np.array([np.full((2, 2), -1.0), np.full((2, 2), 1.0)], np.float32)
    grid = viz.image_grid(images, cols=2, pad=0)
    assert grid.shape == (2, 4, 1)
    np.testing.assert_array_equal(grid[..., 0], [[0, 0, 255, 255], [0, 0, 255, 255]])


@pytest.mark.parametrize("channels", [1, 3])
def test_save_grid_writes_a_png(tmp_path, channels):
    images = np.random.default_rng(0).uniform(-1, 1, (4, 8, 8, channels)).astype("f4")
    path = viz.save_grid(images, tmp_path / "g.png", scale=3)
    assert path == tmp_path / "g.png"
    grid = viz.image_grid(images)
    with Image.open(path) as im:
        im.load()
        assert im.format == "PNG"
        assert im.size == (grid.shape[1] * 3, grid.shape[0] * 3)
        assert im.mode == ("L" if channels == 1 else "RGB")
        pixels = np.asarray(im)
    np.testing.assert_array_equal(pixels[::3, ::3].reshape(grid.shape), grid)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.png"]


def test_training_gif():
    frames = [(s, np.full((4, 6, 6, 1), v, np.float32)) for s, v in ((0, -1.0), (5, 0.0),
                                                                     (9, 1.0))]
    gif = viz.training_gif(frames, scale=2)
    assert isinstance(gif, bytes) and gif.startswith(b"GIF8")
    with Image.open(io.BytesIO(gif)) as im:
        assert im.n_frames == 3
        grid = viz.image_grid(frames[0][1])
        assert im.size == (grid.shape[1] * 2, grid.shape[0] * 2)


def test_training_gif_without_frames():
    with pytest.raises(ValueError, match="no frames"):
        viz.training_gif([])


def test_show_grid_returns_a_figure():
    fig = viz.show_grid(np.zeros((4, 5, 5, 1), np.uint8), title="t")
    assert isinstance(fig, Figure)
    assert fig.axes[0].get_title() == "t"


def test_plot_history():
    history = [{"step": s, "generator_loss": 1.0 / s, "discriminator_loss": 0.5, "d_real_acc": 1}
               for s in range(1, 11)]
    fig = viz.plot_history(history)
    assert isinstance(fig, Figure)
    lines = fig.axes[0].get_lines()
    assert sorted(line.get_label() for line in lines) == ["discriminator_loss", "generator_loss"]
    smooth = viz.plot_history(history, keys=["generator_loss"], smooth=3)
    (line,) = smooth.axes[0].get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(3, 11))


def test_plot_points():
    fake = np.random.default_rng(0).normal(size=(50, 2))
    real = np.random.default_rng(1).normal(size=(40, 2))
    ax = viz.plot_points(fake, real, title="pts")
    assert isinstance(ax, Axes)
    assert ax.get_title() == "pts"
    assert len(ax.collections) == 2 and len(ax.get_lines()) == 1
    assert len(viz.plot_points(fake, curve=False).get_lines()) == 0
