"""Shape masks: animals (real silhouettes and drawn from parts) and non-animal distractors.

A mask is float32 (h, w) alpha in 0..1, cropped to the shape. Two animal
sources complement each other: the 10,000 silhouettes of ``animal-shape-mnist``
(bear, bird, cat, cow, dog, elephant, giraffe, horse, sheep, zebra) give real
outlines; the part-drawn quadrupeds (body, head, ears, legs, tail) give pose
variety the 28x28 silhouettes lack. Distractors are shapes that are *not*
animals (blobs, rectangles, lines, rings, polygons), so the detector must
learn the outline and not just "a textured thing on a background".
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import pickle
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

Rng = np.random.Generator

SILHOUETTE_CLASSES = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """The package stores its arrays as pickles; allow numpy's array reconstruction and nothing else.

    Unpickling runs whatever callables the file names, so a file from a
    package we do not control is read with an allow-list. ``numpy.core`` (how
    numpy 1.x pickled) is mapped to ``numpy._core`` to avoid numpy 2's
    deprecation warning.
    """

    _ALLOWED = {
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if module.startswith("numpy.core"):
            module = "numpy._core" + module[len("numpy.core") :]
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the silhouette data")
        return super().find_class(module, name)


@functools.lru_cache(maxsize=1)
def load_silhouettes() -> tuple[np.ndarray, np.ndarray]:
    """The silhouettes as (N, 28, 28) uint8 and their class ids (N,), read straight from the installed wheel.

    The package's own loader imports TensorFlow and downloads MNIST; the
    data we need is already inside the wheel.
    """
    try:
        root = importlib.resources.files("animal_shape_mnist") / "data" / "Animal Shape"
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "animal-shape-mnist is not installed; it is a test extra: pip install -e '.[test]'"
        ) from None
    with importlib.resources.as_file(root / "animal_data_version_3.gz") as path, gzip.open(path, "rb") as fh:
        images = np.asarray(_NumpyOnlyUnpickler(fh).load(), dtype=np.uint8)
    with importlib.resources.as_file(root / "animal_label_version_3.gz") as path, gzip.open(path, "rb") as fh:
        labels = np.asarray(_NumpyOnlyUnpickler(fh).load(), dtype=np.int64)
    if images.ndim != 3 or images.shape[0] != labels.shape[0]:
        raise ValueError(f"unexpected silhouette data shapes {images.shape} / {labels.shape}")
    return images, labels


def crop_to_content(mask: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Crop a mask to the bounding box of its pixels above ``threshold`` (unchanged if empty)."""
    ys, xs = np.nonzero(mask > threshold)
    if ys.size == 0:
        return mask
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _upsample_soft(small: Image.Image, w: int, h: int, edge: float = 1.5) -> np.ndarray:
    """Upsample a grey mask and re-threshold it with a soft edge: smooth outlines, no blocky pixels.

    Smoothing happens at an intermediate size (at most 112 px) so its cost
    does not grow with the object; a bilinear upsample of a smooth field
    keeps the contour smooth.
    """
    k = min(1.0, 112.0 / max(w, h))
    mid = small.resize((max(2, int(w * k)), max(2, int(h * k))), Image.Resampling.BICUBIC)
    mid = mid.filter(ImageFilter.GaussianBlur(max(mid.size) / 90.0))
    big = mid.resize((w, h), Image.Resampling.BILINEAR)
    arr = np.asarray(big, dtype=np.float32)
    return np.clip((arr - 110.0) / (edge * 40.0) + 0.5, 0.0, 1.0)


def silhouette_mask(rng: Rng, size: float) -> tuple[np.ndarray, str]:
    """A real animal outline about ``size`` px on its longer side, randomly flipped and stretched."""
    images, labels = load_silhouettes()
    idx = int(rng.integers(len(images)))
    grey = images[idx].astype(np.float32)
    # Zebras carry grey stripes inside; close small gaps so the body is solid (the fill adds texture later).
    img = Image.fromarray(np.clip(grey * 1.6, 0, 255).astype(np.uint8), "L")
    img = img.filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.MinFilter(3))
    arr = np.maximum(np.asarray(img, dtype=np.float32), grey)
    ys, xs = np.nonzero(arr > 60)
    if ys.size == 0:  # defensive: an empty silhouette would give an empty box
        return drawn_animal_mask(rng, size), "drawn"
    arr = arr[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    ch, cw = arr.shape
    stretch = rng.uniform(0.85, 1.18)
    aspect = (cw / ch) * stretch
    if aspect >= 1:
        w, h = size, size / aspect
    else:
        w, h = size * aspect, size
    w, h = max(4, int(round(w))), max(4, int(round(h)))
    small = Image.fromarray(np.pad(arr, 1).astype(np.uint8), "L")
    mask = _upsample_soft(small, w + 2 * max(1, w // cw), h + 2 * max(1, h // ch))
    if rng.random() < 0.5:
        mask = mask[:, ::-1]
    return crop_to_content(np.ascontiguousarray(mask)), SILHOUETTE_CLASSES[int(labels[idx]) % 10]


def _thick_line(draw: ImageDraw.ImageDraw, p0: tuple[float, float], p1: tuple[float, float], width: float) -> None:
    """A line with round caps, so joints (hips, knees, neck) look organic."""
    draw.line([p0, p1], fill=255, width=max(1, int(round(width))))
    r = width / 2.0
    for x, y in (p0, p1):
        draw.ellipse([x - r, y - r, x + r, y + r], fill=255)


def drawn_animal_mask(rng: Rng, size: float) -> np.ndarray:
    """A quadruped drawn from parts (body, neck, head, ears, legs, tail) in a random pose.

    Drawn at 2x then downsampled for anti-aliased edges. Proportions vary from
    dachshund to giraffe; legs swing as in a walk; the head may look up, down
    or back.
    """
    s = 2.0 * 100.0  # draw in a fixed 200-unit frame, scale afterwards
    canvas = int(s * 3)
    img = Image.new("L", (canvas, canvas), 0)
    d = ImageDraw.Draw(img)
    cx, cy = canvas / 2, canvas / 2
    body_l = s * rng.uniform(0.55, 0.9)
    body_h = body_l * rng.uniform(0.32, 0.6)
    d.ellipse([cx - body_l / 2, cy - body_h / 2, cx + body_l / 2, cy + body_h / 2], fill=255)
    # belly/chest bulge keeps the body from being a perfect ellipse
    bx = cx + body_l * rng.uniform(0.1, 0.3)
    d.ellipse([bx - body_h * 0.55, cy - body_h * 0.55, bx + body_h * 0.55, cy + body_h * 0.5], fill=255)
    # legs
    leg_l = body_h * rng.uniform(0.8, 2.2)
    leg_w = body_h * rng.uniform(0.14, 0.26)
    hips = [cx - body_l * 0.36, cx - body_l * 0.24, cx + body_l * 0.24, cx + body_l * 0.36]
    phase = rng.uniform(0, 2 * np.pi)
    swing = rng.uniform(0.0, 0.5)
    for i, hx in enumerate(hips):
        angle = swing * np.sin(phase + i * np.pi / 2)
        top = (hx, cy + body_h * 0.2)
        knee = (hx + np.sin(angle) * leg_l * 0.5, top[1] + np.cos(angle) * leg_l * 0.5)
        bend = angle * rng.uniform(-1.0, 0.3)
        foot = (knee[0] + np.sin(bend) * leg_l * 0.5, knee[1] + np.cos(bend) * leg_l * 0.5)
        _thick_line(d, top, knee, leg_w * 1.2)
        _thick_line(d, knee, foot, leg_w)
    # neck and head at the front (+x)
    neck_l = body_h * rng.uniform(0.4, 2.5)
    neck_angle = rng.uniform(-1.3, 0.2)  # radians from horizontal; negative looks up
    shoulder = (cx + body_l * 0.38, cy - body_h * 0.1)
    head_c = (shoulder[0] + np.cos(neck_angle) * neck_l, shoulder[1] + np.sin(neck_angle) * neck_l)
    _thick_line(d, shoulder, head_c, body_h * rng.uniform(0.3, 0.55))
    head_r = body_h * rng.uniform(0.28, 0.45)
    d.ellipse([head_c[0] - head_r, head_c[1] - head_r * 0.85, head_c[0] + head_r, head_c[1] + head_r * 0.85], fill=255)
    snout = rng.uniform(0.6, 1.6)
    sx = head_c[0] + head_r * snout
    d.ellipse([head_c[0], head_c[1] - head_r * 0.45, sx, head_c[1] + head_r * 0.5], fill=255)
    ear = head_r * rng.uniform(0.4, 1.0)
    for off in (-0.45, 0.15):
        ex = head_c[0] + off * head_r
        d.polygon([(ex - ear * 0.35, head_c[1] - head_r * 0.5), (ex + ear * 0.35, head_c[1] - head_r * 0.5),
                   (ex + rng.uniform(-0.3, 0.3) * ear, head_c[1] - head_r * 0.5 - ear)], fill=255)
    # tail at the back (-x): a chain of segments that curls
    tail_l = body_l * rng.uniform(0.15, 0.7)
    tail_w = body_h * rng.uniform(0.06, 0.22)
    ang = rng.uniform(np.pi * 0.7, np.pi * 1.3)
    curl = rng.uniform(-0.6, 0.6)
    p = (cx - body_l * 0.46, cy - body_h * 0.15)
    for _ in range(4):
        q = (p[0] + np.cos(ang) * tail_l / 4, p[1] + np.sin(ang) * tail_l / 4)
        _thick_line(d, p, q, tail_w)
        p, ang, tail_w = q, ang + curl, tail_w * 0.9
    if rng.random() < 0.15:  # sitting / crouching: squash vertically
        img = img.resize((canvas, int(canvas * rng.uniform(0.6, 0.85))), Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    bbox = img.getbbox()
    if bbox:
        img = img.crop(bbox)
    img = img.rotate(rng.normal(0, 8), resample=Image.Resampling.BILINEAR, expand=True)
    arr = crop_to_content(np.asarray(img, dtype=np.float32) / 255.0)
    return _resize_mask(arr, size)


def _resize_mask(mask: np.ndarray, size: float) -> np.ndarray:
    """Scale a mask so its longer side is ``size`` px (area-averaging keeps edges soft)."""
    h, w = mask.shape
    k = size / max(h, w)
    nw, nh = max(2, int(round(w * k))), max(2, int(round(h * k)))
    img = Image.fromarray((mask * 255).astype(np.uint8), "L").resize((nw, nh), Image.Resampling.BOX if k < 1 else Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0


def animal_mask(rng: Rng, size: float) -> tuple[np.ndarray, str]:
    """An animal mask about ``size`` px on its longer side and where it came from (species or ``drawn``)."""
    if rng.random() < 0.65:
        return silhouette_mask(rng, size)
    return drawn_animal_mask(rng, size), "drawn"


def distractor_mask(rng: Rng, size: float) -> tuple[np.ndarray, str]:
    """A non-animal shape about ``size`` px: blob, rectangle, line/polyline, ring, polygon or star."""
    kind = str(rng.choice(["blob", "rect", "line", "ring", "polygon", "star"], p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1]))
    n = 256
    img = Image.new("L", (n, n), 0)
    d = ImageDraw.Draw(img)
    c = n / 2
    if kind == "blob":  # radius as a low-order Fourier series: lumpy potato, never limbs
        theta = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        r = np.ones_like(theta)
        for k in range(1, 4):
            r += rng.uniform(0, 0.25 / k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
        sx, sy = rng.uniform(0.5, 1.0), rng.uniform(0.3, 1.0)
        pts = [(c + 0.45 * n * ri * sx * np.cos(t), c + 0.45 * n * ri * sy * np.sin(t)) for ri, t in zip(r, theta)]
        d.polygon(pts, fill=255)
    elif kind == "rect":
        w, h = n * rng.uniform(0.2, 0.9), n * rng.uniform(0.2, 0.9)
        d.rectangle([c - w / 2, c - h / 2, c + w / 2, c + h / 2], fill=255)
    elif kind == "line":
        pts = [(rng.uniform(0, n), rng.uniform(0, n)) for _ in range(int(rng.integers(2, 5)))]
        d.line(pts, fill=255, width=int(rng.integers(4, 20)), joint="curve")
    elif kind == "ring":
        r0 = n * 0.45
        d.ellipse([c - r0, c - r0 * rng.uniform(0.5, 1), c + r0, c + r0], fill=255)
        r1 = r0 * rng.uniform(0.4, 0.8)
        d.ellipse([c - r1, c - r1, c + r1, c + r1], fill=0)
    elif kind == "polygon":
        k = int(rng.integers(3, 7))
        theta = np.sort(rng.uniform(0, 2 * np.pi, k))
        d.polygon([(c + 0.45 * n * np.cos(t), c + 0.45 * n * np.sin(t)) for t in theta], fill=255)
    else:  # star
        k = int(rng.integers(4, 8))
        inner = rng.uniform(0.3, 0.6)
        pts = []
        for i in range(2 * k):
            rad = 0.45 * n * (1 if i % 2 == 0 else inner)
            t = np.pi * i / k
            pts.append((c + rad * np.cos(t), c + rad * np.sin(t)))
        d.polygon(pts, fill=255)
    img = img.rotate(rng.uniform(0, 360), resample=Image.Resampling.BILINEAR)
    arr = crop_to_content(np.asarray(img, dtype=np.float32) / 255.0)
    if arr.max() <= 0.5:  # a degenerate polygon: fall back to a rectangle-ish block
        arr = np.ones((8, 12), dtype=np.float32)
    return _resize_mask(arr, size), kind
