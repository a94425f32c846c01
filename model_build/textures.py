"""Procedural colour fields: scene backgrounds and the fills of animals and distractors.

Animals and distractors draw their fills from the same families (plain,
stripes, spots, fur) so the detector has to learn shape, not "striped means
animal". Everything is numpy plus Pillow resizes, seeded by the caller's
``numpy.random.Generator``, so a scene is a pure function of its seed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

Rng = np.random.Generator

#: Colours real animals come in (RGB): browns, tans, greys, black, white, orange, rust.
ANIMAL_PALETTE = np.array(
    [
        [120, 80, 45], [160, 110, 60], [200, 160, 110], [90, 60, 40], [60, 45, 35],
        [130, 130, 130], [80, 80, 85], [30, 30, 30], [235, 230, 220], [220, 140, 50],
        [170, 70, 30], [190, 180, 150], [110, 100, 80],
    ],
    dtype=np.float32,
)


def smooth_noise(rng: Rng, h: int, w: int, cell: float, aniso: float = 1.0) -> np.ndarray:
    """Value noise in [0, 1] of shape (h, w) with features about ``cell`` px (``aniso`` > 1 stretches along x).

    A small random grid upsampled bicubically: cheap, smooth, and seedable.
    """
    gh = max(2, int(h / cell) + 2)
    gw = max(2, int(w / (cell * aniso)) + 2)
    grid = rng.random((gh, gw), dtype=np.float32)
    img = Image.fromarray(grid, "F").resize((w, h), Image.Resampling.BICUBIC)
    out = np.asarray(img, dtype=np.float32)
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / (hi - lo + 1e-6)


def random_colour(rng: Rng, animal: bool = False) -> np.ndarray:
    """An RGB colour: from the animal palette (jittered) for animals, anything for the rest."""
    if animal and rng.random() < 0.8:
        base = ANIMAL_PALETTE[rng.integers(len(ANIMAL_PALETTE))]
        return np.clip(base + rng.normal(0, 14, 3), 0, 255).astype(np.float32)
    return rng.uniform(0, 255, 3).astype(np.float32)


def _mix(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per-pixel blend of colours ``a`` and ``b`` by weights ``t`` (h, w) in 0..1 -> (h, w, 3)."""
    t = t[..., None]
    return a * (1.0 - t) + b * t


def linear_gradient(rng: Rng, h: int, w: int, c1: np.ndarray, c2: np.ndarray) -> np.ndarray:
    """Two-colour gradient at a random angle (sky, walls, studio backdrops)."""
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xs * np.cos(angle) + ys * np.sin(angle)
    t = (t - t.min()) / (t.max() - t.min() + 1e-6)
    return _mix(c1, c2, t)


def stripes(rng: Rng, h: int, w: int, period: float, warp: float = 0.0) -> np.ndarray:
    """Soft stripes in [0, 1] at a random angle, optionally warped by noise (zebra/tiger-like)."""
    angle = rng.uniform(0, np.pi)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xs * np.cos(angle) + ys * np.sin(angle)
    if warp > 0:
        t = t + warp * period * (smooth_noise(rng, h, w, cell=max(4.0, period * 2)) - 0.5)
    wave = np.sin(2 * np.pi * t / period + rng.uniform(0, 2 * np.pi))
    return np.clip(wave * 2.0, -1, 1) * 0.5 + 0.5


def spots(rng: Rng, h: int, w: int, radius: float, density: float) -> np.ndarray:
    """Random filled ellipses in [0, 1] (leopard/cow/dalmatian-like spots, or confetti on a blob)."""
    img = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(img)
    n = int(density * h * w / max(radius * radius, 1.0))
    n = min(n, 400)
    for _ in range(n):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx = radius * rng.uniform(0.5, 1.4)
        ry = rx * rng.uniform(0.6, 1.4)
        draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=255)
    return np.asarray(img, dtype=np.float32) / 255.0


def fur(rng: Rng, h: int, w: int) -> np.ndarray:
    """Fine directional streaks in [-1, 1]: multiplied into a fill it reads as fur or grass."""
    aniso = rng.uniform(2.0, 5.0)
    cell = rng.uniform(1.2, 2.5)
    if rng.random() < 0.5:
        n = smooth_noise(rng, h, w, cell=cell, aniso=aniso)  # streaks along x
    else:
        n = np.ascontiguousarray(smooth_noise(rng, w, h, cell=cell, aniso=aniso).T)  # along y
    return n * 2.0 - 1.0


def shading(rng: Rng, h: int, w: int, strength: float) -> np.ndarray:
    """Low-frequency brightness factor around 1 (light falling unevenly on a body)."""
    return 1.0 + strength * (smooth_noise(rng, h, w, cell=max(h, w) / 2.0) - 0.5) * 2.0


def object_fill(rng: Rng, h: int, w: int, base: np.ndarray, animal: bool) -> np.ndarray:
    """Fill for an (h, w) object patch in float32 RGB 0..255, from ``base`` colour plus a pattern.

    Patterns: plain, stripes, spots, fur; combined with shading. Animals get
    fur more often and palette colours; distractors get the same patterns so
    neither side owns a texture.
    """
    second = random_colour(rng, animal=animal)
    if rng.random() < 0.5:  # a darker/lighter variant of the base reads as natural markings
        second = np.clip(base * rng.uniform(0.25, 0.6) if base.mean() > 90 else base + rng.uniform(80, 160), 0, 255)
    kind = rng.choice(["plain", "stripes", "spots", "fur"], p=[0.25, 0.2, 0.2, 0.35] if animal else [0.4, 0.2, 0.2, 0.2])
    size = max(h, w)
    if kind == "stripes":
        fill = _mix(base, second, stripes(rng, h, w, period=size * rng.uniform(0.06, 0.18), warp=rng.uniform(0, 1.5)))
    elif kind == "spots":
        fill = _mix(base, second, spots(rng, h, w, radius=size * rng.uniform(0.025, 0.07), density=rng.uniform(0.1, 0.35)))
    else:
        fill = np.broadcast_to(base, (h, w, 3)).astype(np.float32)
    if kind == "fur" or (animal and rng.random() < 0.5):
        fill = fill * (1.0 + rng.uniform(0.08, 0.25) * fur(rng, h, w))[..., None]
    fill = fill * shading(rng, h, w, rng.uniform(0.05, 0.25))[..., None]
    return np.clip(fill, 0, 255).astype(np.float32)


def background(rng: Rng, h: int, w: int) -> np.ndarray:
    """A scene backdrop, float32 RGB (h, w, 3): gradient, blotchy noise, grass/fur texture, tiles or planks.

    Made at half resolution and upsampled: backdrops are low-frequency, and
    this is the largest array a scene computes.
    """
    small = _background(rng, max(2, h // 2), max(2, w // 2))
    img = Image.fromarray(np.clip(small + 0.5, 0, 255).astype(np.uint8), "RGB").resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32)


def _background(rng: Rng, h: int, w: int) -> np.ndarray:
    c1, c2 = random_colour(rng), random_colour(rng)
    kind = rng.choice(["gradient", "noise", "grass", "tiles", "planks"], p=[0.25, 0.3, 0.2, 0.1, 0.15])
    if kind == "gradient":
        bg = linear_gradient(rng, h, w, c1, c2)
    elif kind == "noise":
        bg = _mix(c1, c2, smooth_noise(rng, h, w, cell=rng.uniform(10, 60)))
        if rng.random() < 0.5:
            c3 = random_colour(rng)
            bg = _mix_arr(bg, c3, 0.5 * smooth_noise(rng, h, w, cell=rng.uniform(4, 20)))
    elif kind == "grass":
        base = _mix(c1, c2, smooth_noise(rng, h, w, cell=rng.uniform(20, 75)))
        bg = base * (1.0 + rng.uniform(0.1, 0.3) * fur(rng, h, w))[..., None]
    elif kind == "tiles":
        tile = int(rng.integers(8, 40))
        ys, xs = np.mgrid[0:h, 0:w]
        checker = (((ys // tile) + (xs // tile)) % 2).astype(np.float32)
        bg = _mix(c1, c1 * 0.5 + c2 * 0.5, checker)
    else:  # planks / wallpaper stripes
        bg = _mix(c1, c2, stripes(rng, h, w, period=rng.uniform(10, 45), warp=rng.uniform(0, 0.6)) * 0.7)
    bg = bg + rng.standard_normal((h, w, 1), dtype=np.float32) * rng.uniform(1, 6)
    return np.clip(bg, 0, 255).astype(np.float32)


def _mix_arr(img: np.ndarray, colour: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Blend a colour into an existing image with weights ``t``."""
    t = t[..., None]
    return img * (1.0 - t) + colour * t
