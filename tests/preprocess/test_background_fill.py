"""Background layer: the person's hole is filled smoothly, the rest of the photo is kept."""
from __future__ import annotations

import numpy as np
import torch

from core.geometry.pinhole import Intrinsics
from core.preprocess.relief import _inpaint_background, extend_beyond_frame, push_pull_fill
from core.render.relief_renderer import NO_SURFACE_CM, surface_gap, wall_transparency


def _gradient(h: int = 120, w: int = 160) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.dstack([xs, ys, 0.5 * (xs + ys)]).astype(np.float32)


def test_push_pull_fills_a_hole_in_a_gradient_close_to_the_gradient():
    img = _gradient()
    hole = np.zeros(img.shape[:2], bool)
    hole[40:80, 50:110] = True
    out = push_pull_fill(np.where(hole[..., None], 255.0, img), (~hole).astype(np.float32))
    assert out.shape == img.shape and out.dtype == np.float32
    err = np.abs(out - img)[hole]
    assert err.mean() < 6.0 and err.max() < 15.0  # range of the gradient: 0..160
    assert np.array_equal(out[~hole], img[~hole])  # known pixels untouched
    # Smooth: no step larger than a few levels between neighbours inside the hole.
    assert np.abs(np.diff(out[40:80, 50:110], axis=1)).max() < 4.0
    again = push_pull_fill(np.where(hole[..., None], 255.0, img), (~hole).astype(np.float32))
    assert np.array_equal(out, again)  # deterministic


def test_push_pull_edge_cases():
    img = _gradient(9, 13)
    assert np.array_equal(push_pull_fill(img, np.ones((9, 13), np.float32)), img)
    flat = push_pull_fill(img, np.zeros((9, 13), np.float32))
    assert np.allclose(flat, img.reshape(-1, 3).mean(axis=0))
    one = np.zeros((9, 13), np.float32)
    one[4, 6] = 1.0
    assert np.allclose(push_pull_fill(img, one), img[4, 6], atol=1e-3)  # a single known colour
    grey = push_pull_fill(img[..., 0], one)
    assert grey.shape == (9, 13)


def test_background_layer_keeps_the_photo_away_from_the_person_and_fills_the_person():
    rng = np.random.default_rng(0)
    bg = np.clip(_gradient(200, 240) + rng.normal(0, 2, (200, 240, 3)), 0, 255).astype(np.uint8)
    photo = bg.copy()
    alpha = np.zeros((200, 240), np.float32)
    alpha[60:200, 80:160] = 1.0
    photo[alpha > 0] = (200, 30, 30)  # a red person
    out = _inpaint_background(photo, alpha)
    assert out.shape == photo.shape and out.dtype == np.uint8
    far = np.ones_like(alpha, bool)
    far[40:, 60:180] = False
    assert np.array_equal(out[far], photo[far])
    inside = out[80:, 100:140].astype(float)
    assert np.abs(inside - bg[80:, 100:140].astype(float)).mean() < 12.0  # no red left, close to the gradient
    assert np.array_equal(out, _inpaint_background(photo, alpha))


def test_hits_on_the_silhouette_wall_are_transparent():
    """A flat person square at 50 cm: a point on it has no gap; a point behind its edge, on the
    wall down to NO_SURFACE, has the wall's height and is see-through."""
    h = w = 32
    depth = np.full((h, w), NO_SURFACE_CM, np.float32)
    depth[8:24, 8:24] = 50.0
    geo = Intrinsics(40.0, (w - 1) / 2, (h - 1) / 2, w, h)
    d = torch.from_numpy(depth)[None, None]

    def at(u: float, v: float, z: float) -> torch.Tensor:
        return torch.from_numpy(geo.unproject(np.array([[u, v]]), np.array([z]))).float()

    on = surface_gap(d, geo, at(16.0, 16.0, 50.0))
    edge_top = surface_gap(d, geo, at(23.5, 16.0, 50.0))
    wall = surface_gap(d, geo, at(23.5, 16.0, 55.0))
    assert float(on) <= 1e-3 and abs(float(edge_top)) < 1e-3
    assert float(wall) > 4.0
    assert float(wall_transparency(on)) == 1.0 and float(wall_transparency(edge_top)) == 1.0
    assert float(wall_transparency(wall)) == 0.0


def test_background_continues_past_the_frame_as_a_soft_wash_not_a_mirror_copy():
    """Side views see the background plane beyond the photo: no mirrored text or logos there."""
    img = np.full((80, 120, 3), 100, np.uint8)
    img[10:20, 100:118] = 250  # a bright sign near the right edge
    out, px, py = extend_beyond_frame(img, margin=0.25)
    assert out.shape == (80 + 2 * py, 120 + 2 * px, 3) and (px, py) == (30, 20)
    assert np.array_equal(out[py:py + 80, px:px + 120], img)  # the photo itself is kept
    beyond = out[:, px + 120:]
    # A mirror copy would put the bright sign just past the edge; the wash only tints it.
    assert beyond.max() < 180
    assert np.abs(np.diff(beyond, axis=1)).max() < 10 and np.abs(np.diff(beyond, axis=0)).max() < 10
