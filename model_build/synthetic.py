"""Procedural scenes of animals among distractors, with exact boxes: the offline training set.

Labelbox cannot be reached from here, so the default training data is made:
animals (real silhouettes and part-drawn quadrupeds, textured with fur,
stripes, spots) and non-animal distractors composited on varied backgrounds.
Every pixel's owner is tracked while compositing, so each ground-truth box
is the *visible* extent of its animal, clipped to the image; animals mostly
hidden (by an occluder or the frame) are dropped, as a reviewer would.

``difficulty`` (0..1) is the drift knob later stages use: higher means
smaller animals, more clutter and occlusion, blur, noise and lower contrast.
A scene is a pure function of ``(seed, index, difficulty)``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

from . import shapes, textures
from .dataset import Sample

LABEL = "animal"

#: Share of an animal's pixels that must stay visible for it to be labelled.
MIN_VISIBLE_FRACTION = 0.5
#: Smallest visible box side kept, in pixels (below this a reviewer would not draw one).
MIN_BOX_SIDE = 8

_ASPECTS = (4 / 3, 3 / 4, 16 / 9, 9 / 16, 1.0, 3 / 2, 2 / 3)


def _lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


@dataclass(frozen=True)
class SceneParams:
    """What a difficulty value means, in scene terms (one place to read or tune the drift)."""

    size_frac: tuple[float, float]  # animal longer side as a fraction of the image's shorter side
    n_distractors: tuple[int, int]
    occlusion_prob: float  # chance each animal gets an occluder drawn over it
    blur_max: float  # Gaussian blur radius, as a fraction of 1/100 of the shorter side
    noise_max: float  # sensor noise sigma, 0..255 units
    contrast_drop: float  # up to this share of the contrast is removed globally
    camouflage: float  # how far an animal's colour is pulled toward the background behind it
    animal_overlap: float  # how much of an animal's box another animal's box may cover (placement retries)
    outside: float  # how much of an animal may hang out of the frame (photographers frame easy shots)

    @classmethod
    def at(cls, difficulty: float) -> "SceneParams":
        t = float(np.clip(difficulty, 0.0, 1.0))
        return cls(
            size_frac=(_lerp(0.22, 0.07, t), _lerp(0.6, 0.3, t)),
            n_distractors=(int(round(_lerp(0, 3, t))), int(round(_lerp(3, 12, t)))),
            occlusion_prob=_lerp(0.05, 0.55, t),
            blur_max=_lerp(0.15, 0.9, t),
            noise_max=_lerp(3.0, 16.0, t),
            contrast_drop=_lerp(0.0, 0.55, t),
            camouflage=_lerp(0.0, 0.65, t),
            animal_overlap=_lerp(0.15, 0.7, t),
            outside=_lerp(0.1, 0.4, t),
        )


def image_size(rng: np.random.Generator) -> tuple[int, int]:
    """(width, height): 640x480 a third of the time, else 320..800 wide at a common aspect ratio."""
    if rng.random() < 0.35:
        return 640, 480
    w = int(rng.integers(320, 801))
    aspect = _ASPECTS[int(rng.integers(len(_ASPECTS)))]
    h = int(np.clip(round(w / aspect), 240, 800))
    return w, h


@dataclass
class _Layer:
    mask: np.ndarray  # (h, w) alpha
    x0: int  # top-left in image pixels (may be negative: partly outside)
    y0: int
    animal: bool
    kind: str


def _place(rng: np.random.Generator, mask: np.ndarray, width: int, height: int, outside: float = 0.3) -> tuple[int, int]:
    """Top-left so the shape's centre is in the frame and at most about ``outside`` of it hangs out."""
    h, w = mask.shape
    x0 = int(rng.uniform(-w * outside, width - w * (1 - outside)))
    y0 = int(rng.uniform(-h * outside, height - h * (1 - outside)))
    return x0, y0


def _overlap(mask: np.ndarray, x0: int, y0: int, layers: Sequence[_Layer]) -> float:
    """Largest share of the smaller bounding box that a new shape at (x0, y0) shares with a placed animal."""
    h, w = mask.shape
    worst = 0.0
    for other in layers:
        if not other.animal:
            continue
        oh, ow = other.mask.shape
        iw = min(x0 + w, other.x0 + ow) - max(x0, other.x0)
        ih = min(y0 + h, other.y0 + oh) - max(y0, other.y0)
        if iw > 0 and ih > 0:
            worst = max(worst, iw * ih / min(w * h, ow * oh))
    return worst


def _composite(img: np.ndarray, owner: np.ndarray, layer: _Layer, fill: np.ndarray, index: int) -> None:
    """Alpha-blend ``fill`` through ``layer.mask`` into ``img`` and mark the pixels it covers in ``owner``."""
    H, W = owner.shape
    h, w = layer.mask.shape
    x0, y0 = layer.x0, layer.y0
    ix0, iy0, ix1, iy1 = max(0, x0), max(0, y0), min(W, x0 + w), min(H, y0 + h)
    if ix0 >= ix1 or iy0 >= iy1:
        return
    m = layer.mask[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
    f = fill[iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
    region = img[iy0:iy1, ix0:ix1]
    region += (f - region) * m[..., None]
    owner[iy0:iy1, ix0:ix1][m > 0.5] = index


def _animal_colour(rng: np.random.Generator, img: np.ndarray, layer: _Layer, camouflage: float) -> np.ndarray:
    """A palette colour pulled toward the background behind the animal by up to ``camouflage``."""
    base = textures.random_colour(rng, animal=True)
    if camouflage <= 0:
        return base
    H, W = img.shape[:2]
    h, w = layer.mask.shape
    ys = slice(max(0, layer.y0), min(H, layer.y0 + h))
    xs = slice(max(0, layer.x0), min(W, layer.x0 + w))
    patch = img[ys, xs]
    if patch.size == 0:
        return base
    behind = patch.reshape(-1, 3).mean(axis=0)
    k = camouflage * rng.uniform(0.3, 1.0)
    return (base * (1 - k) + behind * k).astype(np.float32)


def _n_animals(rng: np.random.Generator) -> int:
    """0 in about one image in eight (so the model learns to say nothing), else 1..5, mostly 1-2."""
    return int(rng.choice([0, 1, 2, 3, 4, 5], p=[0.12, 0.4, 0.27, 0.13, 0.06, 0.02]))


def generate_sample(rng: np.random.Generator, difficulty: float = 0.0, sample_id: str = "synthetic") -> Sample:
    """One scene at ``difficulty`` (0 easy .. 1 hard) drawn from ``rng``."""
    p = SceneParams.at(difficulty)
    width, height = image_size(rng)
    short = min(width, height)
    img = textures.background(rng, height, width)
    owner = np.full((height, width), -1, dtype=np.int16)

    layers: list[_Layer] = []
    for _ in range(_n_animals(rng)):
        size = short * rng.uniform(*p.size_frac)
        mask, kind = shapes.animal_mask(rng, size)
        for _try in range(8):  # herds overlap more as difficulty rises; easy scenes keep animals apart
            x0, y0 = _place(rng, mask, width, height, p.outside)
            if _overlap(mask, x0, y0, layers) <= p.animal_overlap:
                break
        layers.append(_Layer(mask, x0, y0, True, kind))
    for _ in range(int(rng.integers(p.n_distractors[0], p.n_distractors[1] + 1))):
        size = short * rng.uniform(0.05, 0.45)
        mask, kind = shapes.distractor_mask(rng, size)
        x0, y0 = _place(rng, mask, width, height)
        layers.append(_Layer(mask, x0, y0, False, kind))
    order = rng.permutation(len(layers))  # distractors behind and in front of animals
    layers = [layers[i] for i in order]
    occluders: list[_Layer] = []
    for layer in layers:
        if layer.animal and rng.random() < p.occlusion_prob:
            h, w = layer.mask.shape
            mask, kind = shapes.distractor_mask(rng, max(h, w) * rng.uniform(0.3, 0.8))
            mh, mw = mask.shape
            cx = layer.x0 + rng.uniform(0, w)
            cy = layer.y0 + rng.uniform(0, h)
            occluders.append(_Layer(mask, int(cx - mw / 2), int(cy - mh / 2), False, "occluder-" + kind))
    layers += occluders

    for index, layer in enumerate(layers):
        h, w = layer.mask.shape
        if layer.animal:
            colour = _animal_colour(rng, img, layer, p.camouflage)
        else:
            colour = textures.random_colour(rng)
        fill = textures.object_fill(rng, h, w, colour, animal=layer.animal)
        _composite(img, owner, layer, fill, index)

    boxes, kinds = _visible_boxes(layers, owner)

    # Camera: contrast, blur, noise. Applied after the boxes: they soften the
    # edges a pixel or two but do not move the objects. Pillow does the
    # whole-image passes in C; numpy only adds the noise.
    out = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    if p.contrast_drop > 0:
        out = ImageEnhance.Contrast(out).enhance(1.0 - rng.uniform(0, p.contrast_drop))
    blur = rng.uniform(0, p.blur_max) * short / 100.0
    if blur > 2.0:  # a wide blur at half resolution costs a quarter and looks the same
        full = out.size
        out = out.reduce(2).filter(ImageFilter.GaussianBlur(blur / 2)).resize(full, Image.Resampling.BILINEAR)
    elif blur > 0.3:
        out = out.filter(ImageFilter.GaussianBlur(blur))
    image = np.asarray(out)
    sigma = rng.uniform(0, p.noise_max)
    if sigma > 0.5:
        noise = rng.standard_normal(image.shape[:2] + (1,), dtype=np.float32) * sigma
        image = np.clip(image + noise, 0, 255).astype(np.uint8)
    return Sample(
        id=sample_id,
        image=image,
        boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4),
        labels=[LABEL] * len(boxes),
        meta={"difficulty": round(float(difficulty), 4), "kinds": kinds,
              "distractors": sum(not layer.animal for layer in layers)},
    )


def _visible_boxes(layers: Sequence[_Layer], owner: np.ndarray) -> tuple[list[list[float]], list[str]]:
    """Boxes of the animals' visible pixels; drop those mostly hidden or too small to label."""
    H, W = owner.shape
    boxes: list[list[float]] = []
    kinds: list[str] = []
    for index, layer in enumerate(layers):
        if not layer.animal:
            continue
        h, w = layer.mask.shape
        full = int((layer.mask > 0.5).sum())
        ix0, iy0 = max(0, layer.x0), max(0, layer.y0)
        ix1, iy1 = min(W, layer.x0 + w), min(H, layer.y0 + h)
        if full == 0 or ix0 >= ix1 or iy0 >= iy1:
            continue
        visible = owner[iy0:iy1, ix0:ix1] == index
        n_visible = int(visible.sum())
        if n_visible < MIN_VISIBLE_FRACTION * full:
            continue
        rows = np.flatnonzero(visible.any(axis=1))
        cols = np.flatnonzero(visible.any(axis=0))
        x1, x2 = ix0 + cols[0], ix0 + cols[-1] + 1
        y1, y2 = iy0 + rows[0], iy0 + rows[-1] + 1
        if min(x2 - x1, y2 - y1) < MIN_BOX_SIDE:
            continue
        boxes.append([float(x1), float(y1), float(x2), float(y2)])
        kinds.append(layer.kind)
    return boxes, kinds


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """The generator for image ``index`` of a set seeded ``seed``: images are independent and parallelisable."""
    return np.random.default_rng([int(seed), int(index)])


def difficulty_for(seed: int, index: int, difficulty: float | tuple[float, float]) -> float:
    """A fixed difficulty, or one drawn uniformly from a ``(lo, hi)`` range for this image."""
    if isinstance(difficulty, (int, float)):
        return float(difficulty)
    lo, hi = difficulty
    return float(np.random.default_rng([int(seed), int(index), 7]).uniform(lo, hi))


def make_sample(seed: int, index: int, difficulty: float | tuple[float, float] = 0.0) -> Sample:
    """Image ``index`` of the set ``seed``; its id says where it came from so it can be regenerated."""
    d = difficulty_for(seed, index, difficulty)
    return generate_sample(sample_rng(seed, index), d, sample_id=f"syn-s{seed}-{index:06d}")


def generate(n: int, seed: int = 0, difficulty: float | tuple[float, float] = 0.0, start: int = 0) -> Iterator[Sample]:
    """``n`` samples of the set ``seed`` (images ``start`` .. ``start + n - 1``)."""
    for i in range(start, start + n):
        yield make_sample(seed, i, difficulty)


def parse_difficulty(text: str) -> float | tuple[float, float]:
    """``"0.3"`` -> 0.3, ``"0:0.5"`` -> (0.0, 0.5)."""
    if ":" in text:
        lo, hi = (float(v) for v in text.split(":", 1))
        if not 0 <= lo <= hi <= 1:
            raise argparse.ArgumentTypeError(f"difficulty range must satisfy 0 <= lo <= hi <= 1, got {text}")
        return lo, hi
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"difficulty must be in 0..1, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: write a synthetic dataset folder (images + annotations.jsonl)."""
    from .dataset import summarize, write_dataset

    ap = argparse.ArgumentParser(prog="python -m model_build.synthetic", description=main.__doc__)
    ap.add_argument("--out", required=True, help="dataset folder to write")
    ap.add_argument("-n", "--count", type=int, default=200, help="number of images (default 200)")
    ap.add_argument("--seed", type=int, default=0, help="set seed: same seed, same images (default 0)")
    ap.add_argument("--difficulty", type=parse_difficulty, default=0.0,
                    help="0..1, or a range lo:hi drawn per image (default 0)")
    ap.add_argument("--format", choices=["png", "jpg"], default="png", help="image format (default png)")
    args = ap.parse_args(argv)
    samples = list(generate(args.count, args.seed, args.difficulty))
    write_dataset(samples, args.out, image_format=args.format)
    print(f"wrote {args.out}: {summarize(samples)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
