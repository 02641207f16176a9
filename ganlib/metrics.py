"""How good is a generator? Numbers computed by ganlib, always beside the real-data reference.

Images are judged by a small classifier trained on the dataset's training split (the "judge",
one per dataset): its penultimate features give FID and KID against the test images, and its
predictions give class shares, whose entropy measures mode coverage (log2 K bits is every one of
K classes equally), and for a conditional generator the share of images of the intended class.
A generator is only as good as these numbers next to the same numbers for real images.
"""

from __future__ import annotations

import functools
import json
import math
import os
from pathlib import Path

import keras
import numpy as np
from keras import layers
from scipy import linalg

from . import data
from .models.blocks import layer_seeds

JUDGE_DIR = Path(__file__).resolve().parent / "judges"


# --- the judge classifier -----------------------------------------------------------------
def build_judge(image_shape=(28, 28, 1), num_classes: int = 10, seed: int = 0) -> keras.Model:
    """A small CNN; its 128-d `features` layer is the space FID and KID are measured in."""
    seeds = layer_seeds(seed, "judge")
    image = keras.Input(image_shape, name="image")
    x = image
    for filters, stride in ((32, 1), (64, 2), (128, 2)):
        x = layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False,
                          kernel_initializer=keras.initializers.HeNormal(next(seeds)))(x)
        x = layers.BatchNormalization()(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2, seed=next(seeds))(x)
    features = layers.Dense(128, activation="relu", name="features",
                            kernel_initializer=keras.initializers.HeNormal(next(seeds)))(x)
    x = layers.Dropout(0.2, seed=next(seeds))(features)
    logits = layers.Dense(num_classes, name="logits",
                          kernel_initializer=keras.initializers.GlorotUniform(next(seeds)))(x)
    return keras.Model(image, logits, name="judge")


def train_judge(dataset: str, epochs: int = 8, batch_size: int = 128, seed: int = 0,
                out_dir: Path | None = None) -> tuple[keras.Model, dict]:
    """Train the judge on the training split, report test accuracy, save `<dataset>.keras`."""
    keras.utils.set_random_seed(seed)
    train, test = data.load(dataset, "train"), data.load(dataset, "test")
    model = build_judge(train.x.shape[1:], train.num_classes, seed)
    steps = epochs * (len(train) // batch_size)
    model.compile(
        optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(data.to_model_range(train.x), train.y, batch_size=batch_size, epochs=epochs,
              verbose=2)
    _, acc = model.evaluate(data.to_model_range(test.x), test.y, verbose=0)
    info = {"dataset": dataset, "test_accuracy": round(float(acc), 4), "epochs": epochs,
            "train_source": train.source}
    out_dir = Path(out_dir or JUDGE_DIR)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = out_dir / f"{dataset}.tmp{os.getpid()}.keras"  # two processes may train one at once
    model.save(tmp)
    tmp.replace(out_dir / f"{dataset}.keras")
    tmp = out_dir / f"{dataset}.tmp{os.getpid()}.json"
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    tmp.replace(out_dir / f"{dataset}.json")
    return model, info


def _cache_dir() -> Path:
    return Path.home() / ".cache" / "ganlib" / "judges"


@functools.lru_cache(maxsize=4)
def judge(dataset: str) -> keras.Model:
    """The judge for a dataset: shipped with ganlib, cached, or trained now (and cached)."""
    for folder in (JUDGE_DIR, _cache_dir()):
        path = folder / f"{dataset}.keras"
        if path.exists():
            return keras.models.load_model(path, compile=False)  # predicts only
    print(f"No judge for {dataset} yet: training one (a few minutes, once).")
    return train_judge(dataset, out_dir=_cache_dir())[0]


def judge_info(dataset: str) -> dict:
    for folder in (JUDGE_DIR, _cache_dir()):
        path = folder / f"{dataset}.json"
        if path.exists():
            return json.loads(path.read_text())
    return {}


@functools.lru_cache(maxsize=8)
def _feature_model(dataset: str) -> keras.Model:
    j = judge(dataset)
    return keras.Model(j.input, [j.get_layer("features").output, j.output])


def _as_model_range(images) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype == np.uint8:
        return data.to_model_range(images)
    if images.min() < -1.001 or images.max() > 1.001:
        raise ValueError("float images must be in [-1, 1]; pass uint8 for [0, 255] images.")
    return images.astype(np.float32)


def judge_outputs(images, dataset: str, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """(features N x 128, class probabilities N x K) of the judge for uint8 or [-1, 1] images."""
    model = _feature_model(dataset)
    images = _as_model_range(images)
    expected = tuple(model.inputs[0].shape[1:])
    if images.shape[1:] != expected:
        raise ValueError(f"the {dataset} judge takes images of shape {expected}, got "
                         f"{images.shape[1:]}: pass the dataset these images imitate, or "
                         "images from a run trained on this one.")
    feats, probs = [], []
    for i in range(0, len(images), batch_size):
        f, logits = model(images[i:i + batch_size], training=False)
        feats.append(np.asarray(f, np.float64))
        probs.append(np.asarray(keras.ops.softmax(logits), np.float64))
    return np.concatenate(feats), np.concatenate(probs)


@functools.lru_cache(maxsize=4)
def _test_features(dataset: str) -> np.ndarray:
    return judge_outputs(data.load(dataset, "test").x, dataset)[0]


# --- the statistics -----------------------------------------------------------------------
def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """FID between two feature sets: |mu_a - mu_b|^2 + Tr(Sa + Sb - 2 (Sa Sb)^1/2)."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    sa, sb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(sa @ sb)
    if not np.isfinite(covmean).all():
        eps = np.eye(len(sa)) * 1e-6
        covmean = linalg.sqrtm((sa + eps) @ (sb + eps))
    covmean = covmean.real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(sa + sb - 2 * covmean))


def kernel_inception_distance(a: np.ndarray, b: np.ndarray, subsets: int = 20,
                              subset_size: int = 1000, seed: int = 0) -> float:
    """KID: unbiased MMD^2 with the cubic polynomial kernel, averaged over random subsets."""
    rng = np.random.default_rng(seed)
    d = a.shape[1]
    m = min(subset_size, len(a), len(b))
    kernel = lambda x, y: (x @ y.T / d + 1.0) ** 3
    total = 0.0
    for _ in range(subsets):
        x = a[rng.choice(len(a), m, replace=False)]
        y = b[rng.choice(len(b), m, replace=False)]
        kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
        total += ((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                  + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean())
    return float(total / subsets)


def class_shares(probs: np.ndarray, num_classes: int | None = None) -> np.ndarray:
    """Share of images the judge assigns to each class (by argmax)."""
    k = num_classes or probs.shape[1]
    return np.bincount(probs.argmax(1), minlength=k) / len(probs)


def entropy_bits(shares: np.ndarray) -> float:
    p = shares[shares > 0]
    return max(0.0, float(-(p * np.log2(p)).sum()))


def image_metrics(images, dataset: str, seed: int = 0) -> dict:
    """Judge FID, KID, class-share entropy and largest class share of `images` vs the test set."""
    return _image_metrics(*judge_outputs(images, dataset), dataset, seed)


def _image_metrics(feats, probs, dataset: str, seed: int = 0) -> dict:
    test = _test_features(dataset)
    shares = class_shares(probs)
    return {
        "n": len(feats),
        "fid": round(frechet_distance(feats, test), 4),
        "kid": round(kernel_inception_distance(feats, test, seed=seed), 5),
        "class_entropy_bits": round(entropy_bits(shares), 4),
        "max_class_share": round(float(shares.max()), 4),
    }


def real_reference(dataset: str, n: int, seed: int = 0) -> dict:
    """The same metrics for `n` real training images: the floor a generator can reach at n."""
    train = data.load(dataset, "train")
    idx = np.random.default_rng(seed).choice(len(train), n, replace=False)
    ref = image_metrics(train.x[idx], dataset, seed)
    ref["judge_test_accuracy"] = judge_info(dataset).get("test_accuracy")
    return ref


def judge_available(dataset: str) -> bool:
    """Whether a judge for `dataset` is shipped or cached (else `judge()` would train one)."""
    return any((folder / f"{dataset}.keras").exists() for folder in (JUDGE_DIR, _cache_dir()))


def fid_to_test(images, dataset: str) -> float:
    """Judge FID of `images` against the test split (the score a run's best checkpoint keeps)."""
    return frechet_distance(judge_outputs(images, dataset)[0], _test_features(dataset))


# --- class-conditional generators (lessons 03 and 05) -------------------------------------
def _judged_by_class(images, labels, dataset: str):
    """Judge features and probabilities of `images`, their checked labels, and the test split
    with its judge features: what the per-class metrics compare."""
    labels = np.asarray(labels)
    feats, probs = judge_outputs(images, dataset)
    if labels.shape != (len(feats),):
        raise ValueError(f"labels must be one per image ({len(feats)}), got {labels.shape}.")
    test = data.load(dataset, "test")
    if labels.min() < 0 or labels.max() >= test.num_classes:
        raise ValueError(f"labels must be in 0..{test.num_classes - 1} for {dataset}.")
    return labels, feats, probs, test, _test_features(dataset)


def conditional_metrics(images, labels, dataset: str, seed: int = 0,
                        coverage: bool = False) -> dict:
    """How often `images` show their intended class `labels`, and how real each class looks.

    intended_share: share of images the judge assigns to the intended class, overall and per
    class. Per class, FID and KID compare the judge features of that class's images with those
    of the test images of the same class. coverage=True adds `class_coverage` from the same
    judge features.
    """
    labels, feats, probs, test, test_feats = _judged_by_class(images, labels, dataset)
    hit = probs.argmax(1) == labels
    per_class = {}
    for c, name in enumerate(test.class_names):
        mine, ref = labels == c, test_feats[test.y == c]
        if mine.sum() >= 2:
            per_class[name] = {
                "n": int(mine.sum()),
                "intended_share": round(float(hit[mine].mean()), 4),
                "fid": round(frechet_distance(feats[mine], ref), 4),
                "kid": round(kernel_inception_distance(feats[mine], ref, seed=seed), 5),
            }
    result = {"n": len(labels), "intended_share": round(float(hit.mean()), 4),
              "per_class": per_class}
    if coverage:
        result["coverage"] = _coverage(feats, labels, test, test_feats)
    return result


def conditional_reference(dataset: str, n_per_class: int, seed: int = 0, real=None) -> dict:
    """`conditional_metrics` of `n_per_class` real training images per class (from `real`, an
    ArrayDataset, or the training split): the floor a generator can reach at that N."""
    real = real if real is not None else data.load(dataset, "train")
    rng = np.random.default_rng(seed)
    idx = np.concatenate([rng.choice(np.flatnonzero(real.y == c), n_per_class, replace=False)
                          for c in range(real.num_classes)])
    ref = conditional_metrics(real.x[idx], real.y[idx], dataset, seed)
    ref["judge_test_accuracy"] = judge_info(dataset).get("test_accuracy")
    return ref


# --- points (lesson 01) ---------------------------------------------------------------------
def point_metrics(points: np.ndarray, bins: int = 20) -> dict:
    """How close 2-D points lie to y = sin x, and how evenly x covers [-pi, pi].

    coverage: share of the `bins` equal x-intervals holding at least half their expected count.
    x_w1:     1-Wasserstein distance between the x values and Uniform(-pi, pi).
    """
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be N x 2, got {points.shape}.")
    x, y = points[:, 0], points[:, 1]
    inside = np.clip(x, -math.pi, math.pi)
    counts, _ = np.histogram(inside, bins=bins, range=(-math.pi, math.pi))
    expected = len(x) / bins
    quantiles = -math.pi + 2 * math.pi * (np.arange(len(x)) + 0.5) / len(x)
    return {
        "n": len(x),
        "mean_abs_error": round(float(np.mean(np.abs(y - np.sin(x)))), 5),
        "coverage": round(float(np.mean(counts >= 0.5 * expected)), 4),
        "outside_range": round(float(np.mean(np.abs(x) > math.pi + 0.05)), 4),
        "x_w1": round(float(np.mean(np.abs(np.sort(x) - quantiles))), 5),
    }


# --- diversity inside a class (lesson 05) -------------------------------------------------
def class_coverage(images, labels, dataset: str, k: int = 5, n_max: int = 1000) -> dict:
    """Per class, the share of its test images that have one of `images` of that class nearby.

    Coverage (Naeem et al., 2020) in the judge's feature space: a test image is covered when a
    generated image of its class lies within the distance to its k-th nearest test neighbour
    of the same class. A class that collapsed to a few images covers little of the real class,
    however good those few look; compare with `class_coverage` of real images at the same N.
    Uses the first `n_max` images of each class. Returns {class name: coverage}.
    """
    labels, feats, _, test, test_feats = _judged_by_class(images, labels, dataset)
    return _coverage(feats, labels, test, test_feats, k, n_max)


def collapsed_coverage(images, labels, dataset: str, distinct: int) -> dict:
    """`class_coverage` of real `images` with each class cut down to its first `distinct`
    images, repeated to the class's count: what a class collapsed to that many scores."""
    labels = np.asarray(labels)
    keep = np.concatenate([np.flatnonzero(labels == c)[np.arange(np.sum(labels == c)) % distinct]
                           for c in np.unique(labels)])
    return class_coverage(np.asarray(images)[keep], labels[keep], dataset)


def narrow_classes(coverage: dict, real: dict, collapsed: dict, min_ratio: float = 0.15) -> list:
    """Classes whose generated images cover no more of the class than a collapse to a few
    images (`collapsed`, from `collapsed_coverage`) or under `min_ratio` of what real images
    at the same N cover (`real`): collapse inside a class."""
    return [name for name in coverage
            if coverage[name] <= collapsed[name] or coverage[name] < min_ratio * real[name]]


def _coverage(feats, labels, test, test_feats, k: int = 5, n_max: int = 1000) -> dict:
    from scipy.spatial.distance import cdist

    coverage = {}
    for c, name in enumerate(test.class_names):
        mine = feats[labels == c][:n_max]
        real = test_feats[test.y == c][:n_max]
        if len(mine) == 0 or len(real) <= k:
            continue
        radius = np.partition(cdist(real, real), k, axis=1)[:, k]  # column 0 is the image itself
        nearest = cdist(real, mine).min(axis=1)
        coverage[name] = round(float(np.mean(nearest <= radius)), 4)
    return coverage


# --- unsupervised categories (lesson 04) ----------------------------------------------------
def cluster_accuracy(clusters, labels) -> dict:
    """Accuracy of cluster ids as class predictions under the best one-to-one matching.

    Cluster ids carry no names (InfoGAN's category 3 may be trousers), so each cluster is
    matched to one class by the Hungarian method on the cluster x class counts, maximising
    the images matched; a cluster left without a class counts as wrong. Returns the accuracy,
    the matching {cluster: class} and the counts (rows clusters, columns classes).
    """
    from scipy.optimize import linear_sum_assignment

    clusters, labels = np.asarray(clusters), np.asarray(labels)
    if clusters.shape != labels.shape or clusters.ndim != 1 or not len(labels):
        raise ValueError(f"clusters and labels must be 1-D of the same length, got "
                         f"{clusters.shape} and {labels.shape}.")
    for name, a in (("clusters", clusters), ("labels", labels)):
        if not np.issubdtype(a.dtype, np.integer) or a.min() < 0:
            raise ValueError(f"{name} must be non-negative integers.")
    counts = np.zeros((clusters.max() + 1, labels.max() + 1), np.int64)
    np.add.at(counts, (clusters, labels), 1)
    rows, cols = linear_sum_assignment(counts, maximize=True)
    return {
        "accuracy": round(float(counts[rows, cols].sum() / len(labels)), 4),
        "matching": {int(r): int(c) for r, c in zip(rows, cols)},
        "counts": counts.tolist(),
    }


def kmeans_pixel_accuracy(images, labels, seed: int = 0) -> float:
    """`cluster_accuracy` of k-means (k = number of classes) on raw pixels: the reference an
    unsupervised classifier should beat."""
    from scipy.cluster.vq import kmeans2

    x = np.asarray(images, np.float32).reshape(len(images), -1) / 255.0
    labels = np.asarray(labels)
    _, clusters = kmeans2(x, int(labels.max()) + 1, minit="++", seed=seed)
    return cluster_accuracy(clusters, labels)["accuracy"]


def category_metrics(images, categories, dataset: str, seed: int = 0) -> dict:
    """`image_metrics` of an InfoGAN's samples, plus how well their categories name classes:
    `category_accuracy`, the judge's classes of the images matched to the categories G was
    given (`cluster_accuracy`), 1.0 when every category draws one class of its own."""
    feats, probs = judge_outputs(images, dataset)
    categories = np.asarray(categories)
    if categories.shape != (len(feats),):
        raise ValueError(f"categories must be one per image ({len(feats)}), got "
                         f"{categories.shape}.")
    result = _image_metrics(feats, probs, dataset, seed)
    matched = cluster_accuracy(categories, probs.argmax(1))
    result["category_accuracy"] = matched["accuracy"]
    result["category_to_class"] = matched["matching"]
    return result
