"""CPBD (Narvekar and Karam 2011): blur lowers it, monotonically; edge widths are measured right."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.evaluation.cpbd import cpbd, cpbd_score, edge_widths, canny_edges, to_grey

BLUR_SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0)
FLOOR = 0.01


@pytest.fixture(scope="module")
def portrait_256(sample_portrait) -> np.ndarray:
    from PIL import Image

    rgb = np.asarray(Image.open(sample_portrait).convert("RGB"))
    return cv2.resize(rgb, (256, 256), interpolation=cv2.INTER_AREA)


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return img if sigma == 0 else cv2.GaussianBlur(img, (0, 0), sigma)


def _shapes(size: int = 256, seed: int = 0) -> np.ndarray:
    """Crisp random rectangles and discs on grey: many sharp edges of varied contrast."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), 128, np.uint8)
    for _ in range(40):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = (int(v) for v in rng.integers(0, size, 2))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(8, 60)), y + int(rng.integers(8, 60))), colour, -1)
        else:
            cv2.circle(img, (x, y), int(rng.integers(5, 30)), colour, -1)
    return img


@pytest.mark.parametrize("which", ["portrait", "shapes"])
def test_blur_sweep_is_monotonic(which, portrait_256):
    img = portrait_256 if which == "portrait" else _shapes()
    scores = [cpbd_score(_blur(img, s)) for s in BLUR_SIGMAS]
    # Strictly lower with every step of blur, until the score is at its floor (nothing sharp left).
    assert all(b < a or max(a, b) < FLOOR for a, b in zip(scores, scores[1:])), scores
    assert scores[0] > 0.2 and scores[-1] < FLOOR, scores


def test_blurred_video_scores_lower(portrait_256):
    rng = np.random.default_rng(1)
    frames = []
    for k in range(4):   # a few frames with small shifts, like a talking head video
        m = np.float32([[1, 0, rng.uniform(-2, 2)], [0, 1, rng.uniform(-2, 2)]])
        frames.append(cv2.warpAffine(portrait_256, m, (256, 256), borderMode=cv2.BORDER_REFLECT))
    sharp = np.mean([cpbd_score(f) for f in frames])
    blurred = np.mean([cpbd_score(_blur(f, 1.2)) for f in frames])
    assert blurred < 0.6 * sharp, (sharp, blurred)


def test_step_edge_is_sharp_and_ramp_width_is_measured():
    step = np.zeros((128, 128), np.uint8)
    step[:, 64:] = 200
    res = cpbd(step)
    assert res.score == 1.0 and res.edge_pixels > 0
    assert res.mean_width_px == pytest.approx(1.0, abs=0.5)
    ramp = np.zeros((128, 128), np.float64)
    ramp[:, 60:68] = np.linspace(0, 200, 10)[1:-1]
    ramp[:, 68:] = 200
    grey = to_grey(ramp)
    widths = edge_widths(grey, canny_edges(grey))
    assert np.median(widths[widths > 0]) == pytest.approx(9.0, abs=1.0)   # 8 ramp pixels + 1
    assert cpbd_score(ramp) < 0.1          # wider than the 3 px just-noticeable blur


def test_orientation_and_flat_images():
    img = _shapes(seed=3)
    assert cpbd_score(img) == pytest.approx(cpbd_score(np.ascontiguousarray(img.transpose(1, 0, 2))), abs=0.02)
    assert cpbd_score(np.full((64, 64, 3), 90, np.uint8)) == 0.0   # no edges: nothing is sharp
