"""The averaged inner-lip mask (Eq. 13): n = 1 is the current mask; the mean follows an opening
mouth at once and lags a closing one."""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from core.face import topology as topo
from core.geometry.pinhole import Intrinsics
from core.render import mouth as mm
from core.render.camera import ViewCamera
from core.render.config import MouthMaskConfig


def lips(gap_cm: float) -> np.ndarray:
    """An inner-lip polygon (``topo.inner_lip_polygon`` order, world cm, 60 cm in front of the
    camera): an ellipse 4 cm wide whose height is ``gap_cm``."""
    n = len(topo.inner_lip_polygon())
    angle = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.stack([2.0 * np.cos(angle), 0.5 * gap_cm * np.sin(angle), np.full(n, 60.0)], axis=1)


CAMERA = ViewCamera(np.eye(3), np.zeros(3), Intrinsics(1200.0, 64.0, 64.0, 128, 128))


def test_one_frame_is_the_current_mask():
    for config in (MouthMaskConfig(), MouthMaskConfig(follow_opening=False)):
        mean, current, _ = mm.averaged_mask([lips(1.0)], CAMERA, config)
        np.testing.assert_array_equal(mean, current)
        assert current.max() == 1.0


def test_the_mean_follows_an_opening_and_lags_a_closing():
    opening = [lips(0.1 * k) for k in range(1, 8)]
    mean, current, _ = mm.averaged_mask(opening, CAMERA)
    np.testing.assert_array_equal(mean, current)  # every older mask lies inside the current one
    plain, _, _ = mm.averaged_mask(opening, CAMERA, replace(MouthMaskConfig(), follow_opening=False))
    inside = current > 0.5
    assert (current - plain)[inside].mean() > 0.2  # the paper's plain mean: a band inside the opening
    closing = opening[::-1]
    mean, current, _ = mm.averaged_mask(closing, CAMERA)
    assert np.all(mean >= current) and mean.sum() > current.sum() + 1.0


def test_polygons_smoothed_together_equal_one_at_a_time():
    rng = np.random.default_rng(2)
    polygons = rng.normal(100.0, 20.0, (7, 20, 2))
    together = mm.smooth_closed_polygons(polygons, 2)
    for p, t in zip(polygons, together):
        np.testing.assert_array_equal(mm.smooth_closed_polygon(p, 2), t)

