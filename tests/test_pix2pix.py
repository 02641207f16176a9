"""Lesson 07: paired data (rendered maps, Fashion-MNIST edges, pix2pix's maps files), the U-Net,
the PatchGAN, the pix2pix step, pixel metrics, the lesson and `translate`."""

import contextlib
import dataclasses
import io
import tarfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from cli_output import last_json
from PIL import Image

from ganlib import cli, data, lessons
from ganlib.data import maps as maps_data
from ganlib.data.fashion_edges import edge_map
from ganlib.data.paired import check_pairs, jitter, paired_batches, split_pairs
from ganlib.data.rendered_maps import MAP_COLOURS, render_pairs
from ganlib.lessons import pix2pix
from ganlib.models.patchgan import build_patchgan_discriminator, patch_size
from ganlib.models.translate import translate
from ganlib.models.unet import build_unet_generator
from ganlib.pixel_metrics import pixel_metrics
from ganlib.steps import Pix2PixStep


# --- rendered maps -----------------------------------------------------------------------
def test_rendered_maps_are_seeded_side_by_side_pairs():
    a = render_pairs(6, size=32, seed=3)
    assert a.shape == (6, 32, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, render_pairs(6, size=32, seed=3))
    np.testing.assert_array_equal(a[4:], render_pairs(2, size=32, seed=3, first_index=4))
    assert not np.array_equal(a, render_pairs(6, size=32, seed=4))
    train = data.load("rendered_maps", "train", n=5, size=32)
    test = data.load("rendered_maps", "test", n=5, size=32)
    assert train.y is None and not np.array_equal(train.x, test.x)


def test_rendered_map_half_is_flat_map_colours_and_aerial_half_is_not():
    pairs = render_pairs(8, size=64, seed=0)
    aerial, flat = split_pairs(pairs)
    # away from edges (box filtering blends two colours there) a map pixel is a map colour
    distance = np.abs(flat[..., None, :].astype(np.float32) - MAP_COLOURS).max(-1).min(-1)
    assert np.mean(distance <= 1) > 0.7
    aerial_distance = np.abs(aerial[..., None, :].astype(np.float32) - MAP_COLOURS)
    assert np.mean(aerial_distance.max(-1).min(-1) <= 1) < 0.05
    # the two halves show one layout: map roads (white) are darker than the mean in the photo
    road = (flat == 255).all(-1)
    assert road.mean() > 0.05
    grey = aerial.mean(-1)
    assert grey[road].mean() < grey[~road].mean()


@pytest.mark.parametrize("kwargs, match", [
    ({"size": 30}, "multiple of 8"), ({"n": 0}, "positive"), ({"path": "x"}, "rendered"),
])
def test_rendered_maps_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load("rendered_maps", "train", **kwargs)


# --- Fashion-MNIST edges -----------------------------------------------------------------
def test_edge_map_outlines_a_square_with_thin_lines():
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 8:20, 8:20] = 200
    edges = edge_map(img)[0] == 0
    assert set(np.unique(edge_map(img))) <= {0, 255}
    assert edges[8:20, 7:9].any() and edges[8:20, 19:21].any()  # left and right sides
    assert not edges[11:17, 11:17].any() and not edges[:4].any()  # inside and far away
    assert edges.sum() < 2.5 * 4 * 12  # about one pixel thick, not the 2-3 of raw Sobel
    with pytest.raises(ValueError, match="grey images"):
        edge_map(np.zeros((28, 28), np.uint8))


def test_edge_map_treats_each_image_alone():
    a = np.zeros((3, 28, 28), np.uint8)
    a[1, 5:20, 5:20] = 255
    edges = edge_map(a)
    assert (edges[0] == 255).all() and (edges[2] == 255).all()  # blank neighbours stay blank


def test_fashion_edges_pairs_edges_with_the_real_images(fashion_test):
    pairs = data.load("fashion_edges", "test")
    assert pairs.x.shape == (10_000, 28, 56, 1) and pairs.num_classes == 10
    edges, images = split_pairs(pairs.x)
    np.testing.assert_array_equal(images, fashion_test.x)
    np.testing.assert_array_equal(pairs.y, fashion_test.y)
    share = (edges == 0).mean()
    assert 0.03 < share < 0.3  # outlines, not blank and not filled


# --- pix2pix's maps files ----------------------------------------------------------------
def _write_maps_pair(path, left=(200, 0, 0), right=(0, 0, 200), side=40):
    im = Image.new("RGB", (2 * side, side), left)
    im.paste(Image.new("RGB", (side, side), right), (side, 0))
    im.save(path, "JPEG", quality=95)


def _write_maps_folder(root, n=3):
    for split in ("train", "val"):
        (root / "maps" / split).mkdir(parents=True)
        for i in range(1, n + 1):
            _write_maps_pair(root / "maps" / split / f"{i}.jpg")
    return root


def test_maps_reads_the_official_layout_and_resizes_both_halves(tmp_path):
    root = _write_maps_folder(tmp_path / "mapsdata", n=3)
    (root / "maps" / "train" / "10.jpg").write_bytes((root / "maps/train/1.jpg").read_bytes())
    train = data.load("maps", "train", path=root, size=16)
    test = data.load("maps", "test", path=root, size=16)
    assert train.x.shape == (4, 16, 32, 3) and test.x.shape == (3, 16, 32, 3)
    aerial, flat = split_pairs(train.x)
    assert aerial[..., 0].mean() > 150 and aerial[..., 2].mean() < 50
    assert flat[..., 2].mean() > 150 and flat[..., 0].mean() < 50


def test_maps_reads_the_archive_itself(tmp_path):
    src = _write_maps_folder(tmp_path / "src", n=2)
    folder = tmp_path / "archive"
    folder.mkdir()
    with tarfile.open(folder / "maps.tar.gz", "w:gz") as tar:
        tar.add(src / "maps", arcname="maps")
    assert data.load("maps", "test", path=folder, size=8).x.shape == (2, 8, 16, 3)


def test_maps_damaged_files_are_clear_errors(tmp_path):
    root = _write_maps_folder(tmp_path / "bad", n=1)
    (root / "maps" / "train" / "1.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(data.DataFileError, match="not a readable JPEG"):
        data.load("maps", "train", path=root, size=8)
    Image.new("RGB", (30, 30)).save(root / "maps" / "val" / "1.jpg")
    with pytest.raises(data.DataFileError, match="twice as wide"):
        data.load("maps", "test", path=root, size=8)
    archive = tmp_path / "torn"
    archive.mkdir()
    (archive / "maps.tar.gz").write_bytes(b"\x1f\x8b truncated")
    with pytest.raises(data.DataFileError, match="damaged"):
        data.load("maps", "train", path=archive, size=8)


def test_maps_offline_and_missing_says_where_it_looked(nowhere):
    with pytest.raises(data.DatasetUnavailable) as e:
        data.load("maps", "train", size=8)
    message = str(e.value)
    assert "Looked in" in message and "GANLIB_OFFLINE" in message
    assert "maps.tar.gz" in message and "rendered_maps" in message


def test_maps_download_is_checked_by_content(nowhere, monkeypatch):
    """The archive has no published checksum: a download with too few pairs is refused
    and deleted; one in the official layout is read."""
    monkeypatch.delenv("GANLIB_OFFLINE")
    src = _write_maps_folder(nowhere / "src", n=2)

    def fake_fetch(url, dest, sha256):
        assert url == maps_data.URL and sha256 is None
        dest.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(dest, "w:gz") as tar:
            tar.add(src / "maps", arcname="maps")
        return dest

    monkeypatch.setattr(maps_data, "fetch", fake_fetch)
    with pytest.raises(data.DataFileError, match="official"):
        data.load("maps", "train", size=8)
    assert not list((nowhere / "repo" / "data" / "maps").glob("*.tar.gz"))
    monkeypatch.setattr(maps_data, "MIN_DOWNLOADED", 2)
    assert data.load("maps", "train", size=8).x.shape == (2, 8, 16, 3)


# --- paired batches ----------------------------------------------------------------------
def test_split_pairs_by_direction_and_bad_pairs():
    pairs = np.concatenate([np.zeros((2, 4, 4, 1)), np.ones((2, 4, 4, 1))], axis=2)
    a, b = split_pairs(pairs, "AtoB")
    assert a.max() == 0 and b.min() == 1
    b2, a2 = split_pairs(pairs, "BtoA")
    assert b2.min() == 1 and a2.max() == 0
    with pytest.raises(ValueError, match="direction"):
        split_pairs(pairs, "sideways")
    with pytest.raises(ValueError, match="side-by-side"):
        check_pairs(np.zeros((2, 4, 4, 3)))


def test_jitter_moves_both_images_of_a_pair_alike():
    rng = np.random.default_rng(0)
    a = tf.constant(rng.uniform(-1, 1, (16, 32, 32, 3)).astype("f4"))
    out_a, out_b = jitter(a, a[..., :1] * 0.5, tf.constant([0, 1], tf.int64))
    np.testing.assert_allclose(out_a[..., :1].numpy() * 0.5, out_b.numpy(), atol=1e-6)
    assert not np.allclose(out_a.numpy(), a.numpy())  # it did crop/mirror
    again, _ = jitter(a, a[..., :1], tf.constant([0, 1], tf.int64))
    np.testing.assert_array_equal(again.numpy(), out_a.numpy())


def test_paired_batches_are_seeded_and_resume_where_they_left_off():
    pairs = render_pairs(12, size=16, seed=0)
    ds = paired_batches(pairs, 4, seed=1)
    (s0, t0), (s1, t1) = list(ds.take(2))
    assert s0.shape == t0.shape == (4, 16, 16, 3)
    assert -1 <= float(tf.reduce_min(s0)) and float(tf.reduce_max(t0)) <= 1
    resumed = next(iter(paired_batches(pairs, 4, seed=1, start_step=1)))
    np.testing.assert_array_equal(resumed[0].numpy(), s1.numpy())
    plain = next(iter(paired_batches(pairs, 4, seed=1, random_jitter=False, direction="BtoA")))
    assert plain[0].shape == (4, 16, 16, 3)


# --- U-Net and PatchGAN ------------------------------------------------------------------
def test_unet_shapes_and_dropout_stays_on_when_sampling():
    g = build_unet_generator((32, 32, 3), 3, width=8, max_width=32, seed=0)
    assert g.output_shape == (None, 32, 32, 3)
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("f4")
    a, b = g(x, training=False).numpy(), g(x, training=False).numpy()
    assert not np.allclose(a, b)  # dropout is G's noise, on at inference too
    quiet = build_unet_generator((28, 28, 1), 1, width=8, dropout=0.0, norm="instance")
    y = np.zeros((2, 28, 28, 1), "f4")
    np.testing.assert_array_equal(quiet(y, training=False), quiet(y, training=False))
    assert quiet.output_shape == (None, 28, 28, 1)
    # 28 is worked on padded to 32, down to a 1x1 bottleneck, and cropped back
    assert min(layer.output.shape[1] for layer in quiet.layers[1:]) == 1
    assert build_unet_generator((27, 27, 1), 1, width=4).output_shape == (None, 27, 27, 1)
    with pytest.raises(ValueError, match="does not fit"):
        build_unet_generator((32, 32, 1), 1, depth=6)
    with pytest.raises(ValueError, match="normalisation"):
        build_unet_generator((32, 32, 3), norm="group")


def test_unet_skips_carry_detail_the_bottleneck_cannot():
    """Each decoder level concatenates the encoder level of its size."""
    g = build_unet_generator((64, 64, 3), 3, width=8, max_width=64)
    concats = [layer for layer in g.layers if isinstance(layer, keras.layers.Concatenate)]
    assert len(concats) == 5  # 6 halvings, 5 skips (the bottleneck has none)
    assert [c.output.shape[1] for c in concats] == [2, 4, 8, 16, 32]


def test_unet_saves_and_loads_with_its_dropout(tmp_path):
    g = build_unet_generator((16, 16, 1), 1, width=4, max_width=8)
    g.save(tmp_path / "g.keras")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    x = np.zeros((1, 16, 16, 1), "f4")
    assert loaded(x).shape == (1, 16, 16, 1)
    assert type(loaded.layers[-1]).__name__ == type(g.layers[-1]).__name__


@pytest.mark.parametrize("strided", [1, 2])
def test_patchgan_logit_sees_exactly_its_patch(strided):
    d = build_patchgan_discriminator((64, 64, 1), width=4, strided_layers=strided, norm="none")
    x = tf.Variable(tf.random.normal([1, 64, 64, 1]))
    with tf.GradientTape() as tape:
        out = d(x)
        centre = out[0, out.shape[1] // 2, out.shape[2] // 2, 0]
    grad = np.abs(tape.gradient(centre, x).numpy()[0, ..., 0]) > 0
    rows, cols = np.flatnonzero(grad.any(1)), np.flatnonzero(grad.any(0))
    assert rows[-1] - rows[0] + 1 <= patch_size(strided)
    assert cols[-1] - cols[0] + 1 > patch_size(strided) // 2


def test_patchgan_shapes_and_errors():
    assert patch_size(3) == 70 and patch_size(2) == 34 and patch_size(1) == 16
    d = build_patchgan_discriminator((64, 64, 3), (64, 64, 1), width=4)
    assert [tuple(i.shape[1:]) for i in d.inputs] == [(64, 64, 1), (64, 64, 3)]
    assert d.output_shape == (None, 8, 8, 1)
    with pytest.raises(ValueError, match="divisible"):
        build_patchgan_discriminator((28, 28, 1), strided_layers=3)


# --- the step ----------------------------------------------------------------------------
def _tiny_pix2pix(baseline=True):
    keras.utils.set_random_seed(0)
    g = build_unet_generator((16, 16, 3), 3, width=4, max_width=16, seed=0)
    d = build_patchgan_discriminator((16, 16, 3), (16, 16, 3), width=4, strided_layers=2)
    b = build_unet_generator((16, 16, 3), 3, width=4, max_width=16, name="l1_generator")
    b.set_weights(g.get_weights())
    opt = lambda: keras.optimizers.Adam(1e-3, beta_1=0.5)
    return Pix2PixStep(g, d, g_optimizer=opt(), d_optimizer=opt(),
                       baseline=b if baseline else None,
                       baseline_optimizer=opt() if baseline else None)


def _pair_batch():
    rng = np.random.default_rng(0)
    s = rng.uniform(-1, 1, (4, 16, 16, 3)).astype("f4")
    return tf.constant(s), tf.constant(np.flip(s, axis=2).copy())


def test_pix2pix_step_trains_g_d_and_the_l1_baseline():
    step = _tiny_pix2pix()
    before = {k: [w.numpy().copy() for w in n.trainable_weights]
              for k, n in step.networks.items()}
    logs = {k: float(v) for k, v in step(_pair_batch()).items()}
    for name in ("discriminator_loss", "generator_loss", "baseline_loss", "l1", "baseline_l1",
                 "d_real_acc", "d_adversarial_loss", "g_adversarial_loss"):
        assert np.isfinite(logs[name]), name
    assert logs["generator_loss"] == pytest.approx(logs["g_adversarial_loss"] + 100 * logs["l1"],
                                                   rel=1e-4)
    assert logs["discriminator_loss"] == pytest.approx(0.5 * logs["d_adversarial_loss"],
                                                       rel=1e-4)
    for name, net in step.networks.items():
        after = [w.numpy() for w in net.trainable_weights]
        assert any(not np.allclose(a, b) for a, b in zip(before[name], after)), name
    # same start, same batch: G and the baseline differ only by the adversarial gradient
    g, b = step.networks["generator"], step.networks["baseline"]
    assert any(not np.allclose(x, y) for x, y in zip(g.get_weights(), b.get_weights()))


def test_pix2pix_step_learns_the_mapping():
    step = _tiny_pix2pix(baseline=False)
    coarse = np.random.default_rng(1).uniform(-1, 1, (4, 4, 4, 3)).astype("f4")
    source = tf.image.resize(coarse, [16, 16])  # smooth images, as photos are
    batch = (source, -source)  # a per-pixel mapping: negative images
    first = float(step(batch)["l1"])
    for _ in range(60):
        last = float(step(batch)["l1"])
    assert last < 0.6 * first


def test_pix2pix_step_checks_its_networks():
    g = build_unet_generator((16, 16, 3), 3, width=4, max_width=8)
    d = build_patchgan_discriminator((16, 16, 3), width=4, strided_layers=2)
    opt = keras.optimizers.Adam
    with pytest.raises(ValueError, match="two inputs"):
        Pix2PixStep(g, d, g_optimizer=opt(), d_optimizer=opt())
    d2 = build_patchgan_discriminator((16, 16, 3), (16, 16, 3), width=4, strided_layers=2)
    with pytest.raises(ValueError, match="together"):
        Pix2PixStep(g, d2, g_optimizer=opt(), d_optimizer=opt(), baseline=g)


# --- pixel metrics -----------------------------------------------------------------------
def test_pixel_metrics_values():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (4, 16, 16, 3)).astype(np.uint8)
    same = pixel_metrics(a, a)
    assert same["l1"] == 0 and same["ssim"] == pytest.approx(1) and same["pixel_accuracy"] == 1
    off = np.clip(a.astype(int) + 10, 0, 255).astype(np.uint8)
    near = pixel_metrics(off, a)
    assert near["pixel_accuracy"] == 1 and 0 < near["l1"] < 0.08 and near["psnr"] > 25
    far = pixel_metrics(255 - a, a)
    assert far["pixel_accuracy"] < 0.2 and far["l1"] > near["l1"] and far["ssim"] < 0
    as_float = pixel_metrics(data.to_model_range(off), a)
    assert as_float["l1"] == pytest.approx(near["l1"], abs=1e-4)
    with pytest.raises(ValueError, match="same shape"):
        pixel_metrics(a, a[:, :8])


# --- the lesson, translate, the CLI ------------------------------------------------------
def test_config_checks_dataset_direction_and_size():
    with pytest.raises(ValueError, match="paired datasets"):
        pix2pix.Config(dataset="fashion_mnist")
    with pytest.raises(ValueError, match="direction"):
        pix2pix.Config(direction="up")
    with pytest.raises(ValueError, match="28x28"):
        pix2pix.Config(dataset="fashion_edges", image_size=64)
    assert pix2pix.Config().side == 64 and pix2pix.Config(dataset="maps").side == 256


def test_lesson_smoke_run_evaluates_and_translates(tmp_path):
    cfg = dataclasses.replace(pix2pix.Config().smoke(), steps=6, sample_every=3,
                              checkpoint_every=3)
    assert cfg.side == 32
    run = pix2pix.build(cfg, tmp_path / "p2p")
    assert lessons.get("pix2pix") is pix2pix
    lessons.fit(run)
    assert run.trainer.global_step == 6
    frames = run.snapshots.frames
    assert frames[-1][1].shape == (16, 32, 32, 3)
    assert sorted(p.name for p in (run.run_dir / "samples").glob("*.png"))[-1] == \
        "step_0000006.png"
    result = pix2pix.evaluate(run, n=8)
    for which in ("pix2pix", "l1_only"):
        assert set(result[which]) >= {"l1", "psnr", "ssim", "pixel_accuracy"}
    test = pix2pix.load_pairs(cfg, "test")
    source, _ = split_pairs(test.x[:3])
    assert pix2pix.translate(run, source).shape == (3, 32, 32, 3)
    with pytest.raises(ValueError, match="translates AtoB"):
        pix2pix.translate(run, source, direction="BtoA")
    with pytest.raises(ValueError, match="shape"):
        translate(run.models["generator"], source[:, :16])

    again = pix2pix.build(cfg, tmp_path / "p2p")
    assert lessons.restore(again) == 6
    for a, b in zip(again.models["generator"].get_weights(), run.models["generator"].get_weights()):
        np.testing.assert_array_equal(a, b)


def test_fashion_edges_lesson_is_scored_by_the_judge(tmp_path):
    cfg = dataclasses.replace(pix2pix.Config(dataset="fashion_edges").smoke(), steps=2,
                              baseline=False)
    run = lessons.fit(pix2pix.build(cfg, tmp_path / "edges"))
    result = pix2pix.evaluate(run, n=200)
    assert "l1_only" not in result
    assert result["pix2pix"]["fid"] > result["real_fid"] >= 0



def test_cli_train_and_translate(tmp_path, capsys):
    run_dir = tmp_path / "p2p"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli.main(["train", "pix2pix", "--out", str(run_dir), "--steps", "2", "--smoke"])
    assert code == 0 and last_json(buf.getvalue())["step"] == 2
    source, _ = split_pairs(render_pairs(3, size=32, seed=9))  # smoke runs are 32x32
    np.savez(tmp_path / "in.npz", images=source)
    out = tmp_path / "out.npz"
    capsys.readouterr()
    assert cli.main(["translate", str(run_dir), "--input", str(tmp_path / "in.npz"),
                     "--out", str(out)]) == 0
    with np.load(out) as f:
        assert f["images"].shape == (3, 32, 32, 3) and f["images"].dtype == np.uint8
    np.savez(tmp_path / "small.npz", images=source[:, :16, :16])
    assert cli.main(["translate", str(run_dir), "--input", str(tmp_path / "small.npz"),
                     "--out", str(out)]) == 2
    assert "32 x 32 x 3" in capsys.readouterr().err
    (tmp_path / "torn.npz").write_bytes(b"PK\x03\x04 torn")
    assert cli.main(["translate", str(run_dir), "--input", str(tmp_path / "torn.npz"),
                     "--out", str(out)]) == 2
    assert "not a readable .npz" in capsys.readouterr().err
    assert cli.main(["translate", str(run_dir), "--input", str(tmp_path / "in.npz"),
                     "--out", str(out), "--direction", "BtoA"]) == 2
    assert "translates AtoB" in capsys.readouterr().err
    assert cli.main(["sample", str(run_dir), "--out", str(out)]) == 2
    assert "use `python -m ganlib translate" in capsys.readouterr().err


def test_cli_translate_refuses_a_lesson_that_does_not_translate(tmp_path, capsys):
    run_dir = tmp_path / "sine"
    with contextlib.redirect_stdout(io.StringIO()):
        assert cli.main(["train", "sine", "--out", str(run_dir), "--steps", "2", "--smoke"]) == 0
    np.savez(tmp_path / "in.npz", images=np.zeros((1, 8, 8, 3), np.uint8))
    capsys.readouterr()
    assert cli.main(["translate", str(run_dir), "--input", str(tmp_path / "in.npz"),
                     "--out", str(tmp_path / "o.npz")]) == 2
    assert "does not translate" in capsys.readouterr().err


def test_quality_bench_compares_pix2pix_with_its_l1_baseline(monkeypatch):

    tiny = pix2pix.Config().smoke()
    monkeypatch.setattr(pix2pix, "Config", lambda: tiny)
    result = pix2pix.quality_bench(minutes=0.01, datasets=("rendered_maps",))
    maps = result["datasets"]["rendered_maps"]
    assert maps["n"] == 200 and maps["step"] > 0
    for who in ("pix2pix", "l1_only", "untrained"):
        assert 0 <= maps[who]["pixel_accuracy"] <= 1 and maps[who]["l1"] > 0
    assert maps["l1_ratio"] == pytest.approx(maps["pix2pix"]["l1"] / maps["l1_only"]["l1"],
                                             rel=1e-3)
