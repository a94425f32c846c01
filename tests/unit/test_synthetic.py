"""The synthetic generator: deterministic, boxes valid, difficulty actually makes scenes harder."""

from __future__ import annotations

import numpy as np
import pytest
from modelobs.postprocess import decode
from modelobs.preprocess import INPUT_SIZE, scale_boxes_to_input

from model_build import synthetic
from model_build.dataset import Sample, read_dataset, write_dataset
from model_build.targets import encode

N = 40


@pytest.fixture(scope="module")
def easy() -> list[Sample]:
    return list(synthetic.generate(N, seed=11, difficulty=0.0))


@pytest.fixture(scope="module")
def hard() -> list[Sample]:
    return list(synthetic.generate(N, seed=11, difficulty=1.0))


def test_same_seed_same_images_and_boxes() -> None:
    a = synthetic.make_sample(5, 3, 0.4)
    b = synthetic.make_sample(5, 3, 0.4)
    assert a.id == b.id
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    c = synthetic.make_sample(6, 3, 0.4)
    assert c.image.shape != a.image.shape or not np.array_equal(c.image, a.image)


def test_images_are_rgb_uint8_of_varied_sizes(easy: list[Sample]) -> None:
    sizes = {(s.width, s.height) for s in easy}
    assert len(sizes) > 5, "image sizes should vary"
    assert (640, 480) in sizes
    for s in easy:
        assert s.image.dtype == np.uint8 and s.image.ndim == 3 and s.image.shape[2] == 3
        assert 320 <= s.width <= 800 and 240 <= s.height <= 800


def test_boxes_are_inside_the_image_and_well_formed(easy: list[Sample], hard: list[Sample]) -> None:
    for s in easy + hard:
        assert s.boxes.dtype == np.float32 and s.boxes.shape[1] == 4
        assert len(s.labels) == len(s.boxes) and set(s.labels) <= {"animal"}
        if len(s.boxes):
            x1, y1, x2, y2 = s.boxes.T
            assert (x1 >= 0).all() and (y1 >= 0).all()
            assert (x2 <= s.width).all() and (y2 <= s.height).all()
            assert (x2 - x1 >= synthetic.MIN_BOX_SIDE).all() and (y2 - y1 >= synthetic.MIN_BOX_SIDE).all()


def test_box_is_the_tight_extent_of_something_drawn() -> None:
    """Each box edge row/column must differ from the background just outside it somewhere (tight box)."""
    s = synthetic.make_sample(2, 0, 0.0)
    assert len(s.boxes)
    for x1, y1, x2, y2 in s.boxes.astype(int):
        patch = s.image[y1:y2, x1:x2].astype(int)
        assert patch.size and patch.std() > 1.0


def test_some_images_have_no_animals(easy: list[Sample]) -> None:
    counts = [len(s.boxes) for s in easy]
    assert 0 in counts, "the model must see images where the answer is 'nothing'"
    assert max(counts) >= 3, "and crowded ones"


def test_difficulty_makes_animals_smaller_lower_contrast_and_cluttered(easy: list[Sample], hard: list[Sample]) -> None:
    def rel_area(samples: list[Sample]) -> float:
        areas = [
            float(np.prod(b[2:] - b[:2])) / (s.width * s.height) for s in samples for b in s.boxes
        ]
        return float(np.median(areas))

    def box_contrast(samples: list[Sample]) -> float:
        """How far an animal's mean colour is from the picture's: camouflage and contrast loss shrink it."""
        out = []
        for s in samples:
            img = s.image.astype(np.float32)
            mean = img.reshape(-1, 3).mean(axis=0)
            for x1, y1, x2, y2 in s.boxes.astype(int):
                out.append(np.abs(img[y1:y2, x1:x2].reshape(-1, 3).mean(axis=0) - mean).mean())
        return float(np.median(out))

    def contrast(samples: list[Sample]) -> float:
        return float(np.mean([s.image.astype(np.float32).std() for s in samples]))

    assert rel_area(hard) < 0.5 * rel_area(easy)
    assert box_contrast(hard) < 0.85 * box_contrast(easy)
    assert contrast(hard) < 0.9 * contrast(easy)
    assert np.mean([s.meta["distractors"] for s in hard]) > 2 * np.mean([s.meta["distractors"] for s in easy])
    assert all(s.meta["difficulty"] == 1.0 for s in hard)


def test_difficulty_range_is_drawn_per_image() -> None:
    ds = [s.meta["difficulty"] for s in synthetic.generate(20, seed=3, difficulty=(0.2, 0.4))]
    assert all(0.2 <= d <= 0.4 for d in ds) and len(set(ds)) > 10


def test_silhouettes_come_from_the_installed_package() -> None:
    from model_build.shapes import load_silhouettes

    images, labels = load_silhouettes()
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert set(np.unique(labels)) == set(range(10))


def test_dataset_round_trip(tmp_path, easy: list[Sample]) -> None:
    write_dataset(easy[:5], tmp_path)
    back = list(read_dataset(tmp_path))
    assert [s.id for s in back] == [s.id for s in easy[:5]]
    for a, b in zip(easy[:5], back):
        np.testing.assert_array_equal(a.image, b.image)  # PNG is lossless
        np.testing.assert_allclose(a.boxes, b.boxes, atol=0.01)
        assert a.labels == b.labels


def test_targets_decode_back_to_the_boxes(easy: list[Sample]) -> None:
    """encode() and the serving decode() agree: a perfect model output gives the boxes back."""
    for s in easy[:10]:
        boxes = scale_boxes_to_input(s.boxes, s.width, s.height)
        t = encode(boxes, np.zeros(len(boxes), dtype=np.int64), 1)
        raw = decode(t[..., :5], num_classes=1, score_floor=0.99)
        found = raw.boxes * INPUT_SIZE
        # every box whose centre cell is not shared with another box comes back exactly
        assert len(found) <= len(boxes)
        for f in found:
            assert np.abs(boxes - f).max(axis=1).min() < 0.05
