"""Traffic signs rendered by ganlib: lesson 03's offline data.

A procedural generator, not a stand-in for GTSRB. It draws four German road signs (speed
limit 30, speed limit 100, stop, no trucks) upright with PIL at 6x the final size, then shows
each as a road camera sees it: placed at 2x on a cluttered street background at a random
distance, tilt and viewing angle, box-filtered down to 32x32 RGB, with faded paint, uneven
light, colour casts, blur, sometimes too few pixels, and sensor noise. Image i of a split
depends only on (seed, i): a split is the same every time (for a given Pillow and matplotlib,
whose DejaVu font draws the lettering), and any part of it can be rendered alone.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .registry import ArrayDataset, register

CLASS_NAMES = ("speed limit 30", "speed limit 100", "stop", "no trucks")
SIZE = 32  # side of the images handed out
CANVAS = 2 * SIZE  # side a sign is placed at, before box-filtering down to SIZE
TEMPLATE = 192  # side an upright sign is drawn at
SPLIT_SIZES = {"train": 5000, "test": 1000}  # images per class

RED = (200, 22, 36)
WHITE = (244, 244, 238)
BLACK = (22, 22, 24)

# Colours of street backgrounds: sky, overcast, foliage, buildings, asphalt, dusk.
SCENE = np.array([
    (120, 160, 210), (175, 195, 215), (200, 205, 210), (60, 95, 45), (95, 125, 60),
    (35, 55, 30), (150, 120, 95), (175, 160, 140), (110, 100, 95), (80, 80, 85),
    (50, 50, 55), (190, 175, 120), (25, 30, 45), (130, 70, 50),
], np.float32)  # fmt: skip


def class_index(label) -> int:
    """The label (0-3) of a class given by index or name, or a clear error."""
    if isinstance(label, str):
        if label not in CLASS_NAMES:
            raise ValueError(f"Unknown traffic sign {label!r}; classes: {', '.join(CLASS_NAMES)}.")
        return CLASS_NAMES.index(label)
    index = int(label)
    if not 0 <= index < len(CLASS_NAMES):
        raise ValueError(f"Traffic-sign label {index} is not one of 0..{len(CLASS_NAMES) - 1} "
                         f"({', '.join(CLASS_NAMES)}).")
    return index


# --- the upright signs ---------------------------------------------------------------------
@functools.lru_cache(maxsize=2)
def _font(bold: bool) -> ImageFont.FreeTypeFont:
    """DejaVu Sans from matplotlib's own files: the same glyphs on every machine."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), 160)


def _text(im: Image.Image, text: str, box, colour, bold: bool = True) -> None:
    """Draw `text` squeezed into `box` (x0, y0, x1, y1): road-sign lettering is narrow."""
    font = _font(bold)
    x0, y0, x1, y1 = font.getbbox(text)
    glyphs = Image.new("L", (x1 - x0, y1 - y0), 0)
    ImageDraw.Draw(glyphs).text((-x0, -y0), text, fill=255, font=font)
    w, h = int(box[2] - box[0]), int(box[3] - box[1])
    mask = glyphs.resize((w, h), Image.LANCZOS)
    im.paste(Image.new("RGBA", (w, h), (*colour, 255)), (int(box[0]), int(box[1])),
                      mask)


def _ring(draw: ImageDraw.ImageDraw, t: int, ring: float) -> None:
    """A prohibitory sign's face: white rim, red ring, white disc."""
    draw.ellipse((0, 0, t - 1, t - 1), fill=WHITE)
    rim = 0.025 * t
    draw.ellipse((rim, rim, t - 1 - rim, t - 1 - rim), fill=RED)
    inner = rim + ring * t
    draw.ellipse((inner, inner, t - 1 - inner, t - 1 - inner), fill=WHITE)


def _octagon(t: int, scale: float):
    r = (t - 1) / 2 / math.cos(math.pi / 8) * scale
    c = (t - 1) / 2
    return [(c + r * math.cos(math.pi / 8 + k * math.pi / 4),
             c + r * math.sin(math.pi / 8 + k * math.pi / 4)) for k in range(8)]


def _truck(draw: ImageDraw.ImageDraw, t: int, stretch: float) -> None:
    """A lorry seen from the side, cab on the left, as on the German 'no trucks' sign."""
    s = lambda x, y: (t * (0.5 + (x - 0.5) * stretch), t * y)
    draw.rectangle((*s(0.37, 0.37), *s(0.77, 0.59)), fill=BLACK)  # cargo box
    draw.polygon([s(0.23, 0.47), s(0.26, 0.42), s(0.35, 0.42), s(0.35, 0.59), s(0.23, 0.59)],
                 fill=BLACK)  # cab
    draw.polygon([s(0.255, 0.465), s(0.275, 0.44), s(0.325, 0.44), s(0.325, 0.485),
                  s(0.255, 0.485)], fill=WHITE)  # window
    draw.rectangle((*s(0.23, 0.585), *s(0.77, 0.615)), fill=BLACK)  # chassis
    for x in (0.30, 0.59, 0.69):
        (x0, y0), (x1, y1) = s(x - 0.045, 0.595), s(x + 0.045, 0.685)
        draw.ellipse((x0, y0, x1, y1), fill=BLACK)


@functools.lru_cache(maxsize=32)
def sign_template(label: int, variant: int = 0) -> Image.Image:
    """The upright sign of class `label` on a transparent TEMPLATE x TEMPLATE square.

    Variants differ a little in ring width, lettering weight and proportions, as real signs
    from different makers do.
    """
    t = TEMPLATE
    rng = np.random.default_rng([label, variant, 7])
    im = Image.new("RGBA", (t, t), (0, 0, 0, 0))
    draw = ImageDraw.Draw(im)
    bold = variant % 2 == 0
    if label in (0, 1):
        _ring(draw, t, rng.uniform(0.09, 0.12))
        width = rng.uniform(0.44, 0.50) if label == 0 else rng.uniform(0.56, 0.62)
        height = rng.uniform(0.38, 0.44)
        top = 0.5 - height / 2
        _text(im, "30" if label == 0 else "100",
              ((0.5 - width / 2) * t, top * t, (0.5 + width / 2) * t, (top + height) * t),
              BLACK, bold)
    elif label == 2:
        draw.polygon(_octagon(t, 1.0), fill=WHITE)
        draw.polygon(_octagon(t, 0.93), fill=RED)
        width, height = rng.uniform(0.70, 0.76), rng.uniform(0.24, 0.29)
        _text(im, "STOP", ((0.5 - width / 2) * t, (0.5 - height / 2) * t,
                             (0.5 + width / 2) * t, (0.5 + height / 2) * t), WHITE, bold)
    elif label == 3:
        _ring(draw, t, rng.uniform(0.09, 0.12))
        _truck(draw, t, rng.uniform(0.92, 1.05))
    else:
        class_index(label)  # raises the clear error
    return im


@functools.lru_cache(maxsize=32)
def _scaled_template(label: int, variant: int) -> Image.Image:
    """The template at about twice the size it is placed at, so bilinear sampling is smooth."""
    return sign_template(label, variant).resize((CANVAS + CANVAS // 2,) * 2, Image.LANCZOS)


# --- the scene ---------------------------------------------------------------------------
def _homography(src: np.ndarray, dst: np.ndarray) -> tuple:
    """PIL PERSPECTIVE coefficients mapping output points `dst` back to input points `src`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src):
        rows += [[x, y, 1, 0, 0, 0, -u * x, -u * y], [0, 0, 0, x, y, 1, -v * x, -v * y]]
        rhs += [u, v]
    return tuple(np.linalg.solve(np.array(rows, np.float64), np.array(rhs, np.float64)))


def _background(rng: np.random.Generator) -> Image.Image:
    """A street scene out of focus: a gradient, blotches, buildings, branches, wires, a pole."""
    c = 2 * SIZE
    top, bottom = SCENE[rng.integers(len(SCENE), size=2)] + rng.normal(0, 12, (2, 3))
    t = np.linspace(0, 1, 6)[:, None, None]  # a 6x6 sky-to-ground gradient with blotches,
    coarse = top * (1 - t) + bottom * t + rng.normal(0, 1, (6, 6, 1)) * rng.normal(0, 18, 3)
    im = Image.fromarray(np.clip(coarse, 0, 255).astype(np.uint8)).resize((c, c), Image.BICUBIC)
    draw = ImageDraw.Draw(im)
    n = int(rng.integers(2, 10))
    colours = np.clip(SCENE[rng.integers(len(SCENE), size=n)] + rng.normal(0, 15, (n, 3)), 0,
                      255).astype(int)
    boxes = np.concatenate([rng.uniform(-0.2, 1.0, (n, 2)), rng.uniform(0.1, 0.7, (n, 2)),
                            rng.uniform(-1, 1, (n, 2))], 1) * c
    for kind, colour, (x0, y0, w, h, dx, dy) in zip(rng.integers(4, size=n), colours, boxes):
        colour = tuple(colour.tolist())
        if kind == 0:  # buildings, windows
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
        elif kind == 1:  # foliage, cars
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        else:  # branches, wires, edges
            draw.line((x0, y0, x0 + dx, y0 + dy), fill=colour, width=1 if kind == 2 else 3)
    if rng.random() < 0.7:  # the sign's post
        grey = int(rng.integers(90, 180))
        half = c * rng.uniform(0.02, 0.04)
        draw.rectangle((c / 2 - half, c / 2, c / 2 + half, c), fill=(grey, grey, grey + 5))
    im = im.resize((SIZE, SIZE), Image.BOX)
    return im.filter(ImageFilter.GaussianBlur(rng.uniform(0.1, 0.8)))  # out of focus


def _place(label: int, rng: np.random.Generator) -> Image.Image:
    """A sign at a random size, position, rotation and viewing angle on a transparent square,
    drawn at 2x and box-filtered down to SIZE (RGBA)."""
    c = CANVAS
    sign = _scaled_template(label, int(rng.integers(4)))
    corners = np.array([(-1, -1), (1, -1), (1, 1), (-1, 1)], np.float64)
    yaw, pitch = rng.uniform(-0.22, 0.22), rng.uniform(-0.12, 0.12)
    x, y = corners[:, 0], corners[:, 1]
    # turned about its vertical (yaw) or horizontal (pitch) axis: the far side looks smaller
    quad = np.stack([x * (1 - abs(yaw) / 2) * (1 + pitch * y), y * (1 + yaw * x)], 1)
    angle = math.radians(rng.uniform(-10, 10))
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    radius = c * rng.uniform(0.31, 0.46)
    centre = c / 2 + rng.uniform(-0.07, 0.07, 2) * c
    dst = quad @ rot.T * radius + centre
    src = (corners + 1) / 2 * sign.width
    placed = sign.transform((c, c), Image.PERSPECTIVE, _homography(src, dst), Image.BILINEAR)
    return placed.resize((SIZE, SIZE), Image.BOX)


def render_sign(label: int, rng: np.random.Generator) -> np.ndarray:
    """One SIZE x SIZE x 3 uint8 photo-like image of a sign of class `label`.

    The order follows a camera: the scene (sign on its background), the lens (blur, and for a
    far-away sign too few pixels), then the sensor (exposure, colour cast, noise).
    """
    label = class_index(label)
    sign = _place(label, rng)
    scene = _background(rng)
    scene.paste(sign, (0, 0), sign)
    scene = scene.filter(ImageFilter.GaussianBlur(rng.uniform(0.05, 0.8)))
    if rng.random() < 0.4:  # a far-away sign: few pixels, scaled up by the camera pipeline
        low = int(rng.integers(14, 28))
        scene = scene.resize((low, low), Image.BOX).resize((SIZE, SIZE), Image.BILINEAR)
    img = np.asarray(scene, np.float32) / 255.0
    alpha = np.asarray(sign.getchannel("A"), np.float32)[..., None] / 255.0
    fade = rng.uniform(0.0, 0.35) * alpha  # sun-bleached paint drifts towards pale grey-pink
    img = img * (1 - fade) + fade * np.array([0.85, 0.78, 0.78], np.float32)
    # light: a shadow gradient across the frame, contrast, a colour cast, exposure
    direction = rng.normal(size=2)
    ramp = np.linspace(-1, 1, SIZE, dtype=np.float32)
    shade = 1 + rng.uniform(0, 0.35) * (direction[0] * ramp[None, :] + direction[1] * ramp[:, None]
                                        ) / np.linalg.norm(direction)
    img = img * shade[..., None]
    img = (img - img.mean()) * rng.uniform(0.55, 1.1) + img.mean()
    img = img * np.exp(rng.normal(0, 0.12, 3)).astype(np.float32)
    img = np.clip(img, 0, 1) ** rng.uniform(0.75, 1.6) * rng.uniform(0.45, 1.15)
    img = img * 255 + rng.normal(0, rng.uniform(1, 7), img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def render_signs(labels, seed: int = 0, first_index: int = 0) -> np.ndarray:
    """Images N x 32 x 32 x 3 (uint8) for `labels`; image i comes from the RNG (seed, i)."""
    labels = np.asarray(labels)
    out = np.empty((len(labels), SIZE, SIZE, 3), np.uint8)
    for i, label in enumerate(labels):
        out[i] = render_sign(label, np.random.default_rng([seed, first_index + i]))
    return out


@functools.lru_cache(maxsize=8)
def _split(split: str, n_per_class: int, seed: int) -> ArrayDataset:
    labels = np.arange(n_per_class * len(CLASS_NAMES), dtype=np.int64) % len(CLASS_NAMES)
    # train and test are different streams of the same generator
    x = render_signs(labels, seed=2 * seed + (split == "test"))
    x.flags.writeable = False  # cached and shared: nobody may change it in place
    labels.flags.writeable = False
    return ArrayDataset("traffic_signs", split, x, labels, source=(
        f"rendered by ganlib.data.traffic_signs (seed {seed}, {n_per_class} per class)"),
        num_classes=len(CLASS_NAMES), class_names=CLASS_NAMES)


@register("traffic_signs")
def load_traffic_signs(split: str, path=None, n_per_class: int | None = None,
                       seed: int = 0) -> ArrayDataset:
    """Rendered signs: 5000 per class for train, 1000 for test (classes interleaved)."""
    if path is not None:
        raise ValueError("traffic_signs is rendered by ganlib; it is not read from a path.")
    n = SPLIT_SIZES[split] if n_per_class is None else int(n_per_class)
    if n < 1:
        raise ValueError(f"n_per_class must be positive, got {n}.")
    return _split(split, n, int(seed))
