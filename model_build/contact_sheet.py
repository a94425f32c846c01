"""A PNG grid of samples with their boxes drawn: the quickest check that data and labels agree.

Look at it before training on a new source: boxes off by a transpose, a
Labelbox export in the wrong coordinate order, or a generator that draws
unrecognisable animals all show at a glance.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .dataset import Sample, read_dataset

BOX_COLOUR = (255, 40, 40)
PRED_COLOUR = (40, 220, 255)


def render_tile(sample: Sample, tile: int, predictions: np.ndarray | None = None) -> Image.Image:
    """``sample`` fitted into a ``tile`` x ``tile`` square (aspect kept) with boxes and a caption."""
    img = Image.fromarray(sample.image, "RGB")
    k = tile / max(img.width, img.height)
    img = img.resize((max(1, round(img.width * k)), max(1, round(img.height * k))), Image.Resampling.BILINEAR)
    canvas = Image.new("RGB", (tile, tile), (24, 24, 24))
    canvas.paste(img, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for box in sample.boxes:
        draw.rectangle([float(v) * k for v in box], outline=BOX_COLOUR, width=2)
    if predictions is not None:
        for box in np.asarray(predictions).reshape(-1, 4):
            draw.rectangle([float(v) * k for v in box], outline=PRED_COLOUR, width=1)
    caption = f"{sample.id[-14:]} n={len(sample.boxes)}"
    if "difficulty" in sample.meta:
        caption += f" d={sample.meta['difficulty']:.2f}"
    draw.rectangle([0, tile - 12, tile, tile], fill=(0, 0, 0))
    draw.text((2, tile - 12), caption, fill=(255, 255, 255))
    return canvas


def contact_sheet(samples: Sequence[Sample], columns: int = 6, tile: int = 220) -> Image.Image:
    """All ``samples`` as a grid of tiles, row-major."""
    rows = max(1, -(-len(samples) // columns))
    sheet = Image.new("RGB", (columns * tile + (columns - 1) * 4, rows * tile + (rows - 1) * 4), (255, 255, 255))
    for i, sample in enumerate(samples):
        r, c = divmod(i, columns)
        sheet.paste(render_tile(sample, tile), (c * (tile + 4), r * (tile + 4)))
    return sheet


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: contact sheet of a dataset folder, or of synthetic samples at one or more difficulties."""
    from .synthetic import generate

    ap = argparse.ArgumentParser(prog="python -m model_build.contact_sheet", description=main.__doc__)
    ap.add_argument("--out", required=True, help="PNG file to write")
    ap.add_argument("--dataset", help="dataset folder (default: synthetic samples)")
    ap.add_argument("--difficulty", type=float, nargs="+", default=[0.0, 1.0],
                    help="synthetic difficulties, one block of rows each (default 0 1)")
    ap.add_argument("-n", "--count", type=int, default=12, help="samples per block (default 12)")
    ap.add_argument("--seed", type=int, default=1, help="synthetic set seed (default 1)")
    ap.add_argument("--columns", type=int, default=6)
    ap.add_argument("--tile", type=int, default=220, help="tile side in pixels (default 220)")
    args = ap.parse_args(argv)
    if args.dataset:
        samples = [s for _, s in zip(range(args.count), read_dataset(args.dataset))]
    else:
        samples = []
        for d in args.difficulty:
            block = list(generate(args.count, seed=args.seed, difficulty=d))
            samples += block + [] if len(block) % args.columns == 0 else block
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    contact_sheet(samples, columns=args.columns, tile=args.tile).save(args.out)
    print(f"wrote {args.out} ({len(samples)} samples)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
