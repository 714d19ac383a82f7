"""Orbit camera maths."""
from __future__ import annotations

import numpy as np
import pytest

from core.geometry.pinhole import Intrinsics
from core.render.camera import (PITCH_LIMIT_DEG, YAW_LIMIT_DEG, OrbitPose, orbit_rotation, output_intrinsics,
                                Framing, FramingConfig, head_framing, photo_framing,
                                turntable_path, view_camera)

PHOTO = Intrinsics.from_fov(512, 512, 18.0)
PIVOT = np.array([3.0, -10.0, 250.0])


def test_default_view_is_the_photo_camera():
    cam = view_camera(OrbitPose(), PIVOT, PHOTO, 512, photo_framing(PHOTO, (256.0, 256.0)))
    np.testing.assert_allclose(cam.rotation, np.eye(3), atol=1e-7)
    np.testing.assert_allclose(cam.position, 0.0, atol=1e-6)
    pts = np.array([[1.0, 2.0, 240.0], [-5.0, 3.0, 260.0]])
    np.testing.assert_allclose(cam.project(pts), PHOTO.project(pts), atol=1e-6)


def test_half_size_view_maps_pixel_centres():
    k = output_intrinsics(PHOTO, 256, photo_framing(PHOTO, (256.0, 256.0)))
    pts = np.array([[0.0, 0.0, 100.0], [10.0, -4.0, 250.0]])
    np.testing.assert_allclose((PHOTO.project(pts) + 0.5) * 0.5 - 0.5, k.project(pts), atol=1e-9)


def test_orbit_keeps_the_pivot_in_view_and_distance():
    for yaw, pitch in [(30, 0), (-30, 15), (10, -20)]:
        cam = view_camera(OrbitPose(yaw, pitch), PIVOT, PHOTO, 512, photo_framing(PHOTO, (256.0, 256.0)))
        assert np.linalg.norm(cam.position - PIVOT) == pytest.approx(np.linalg.norm(PIVOT))
        before = PHOTO.project(PIVOT[None])[0]
        after = cam.project(PIVOT[None])[0]
        np.testing.assert_allclose(after, before, atol=1e-6)  # the head centre stays put on screen
        np.testing.assert_allclose(cam.rotation @ cam.rotation.T, np.eye(3), atol=1e-7)


def test_orbit_directions():
    right = view_camera(OrbitPose(yaw_deg=30), PIVOT, PHOTO, 512, photo_framing(PHOTO, (256.0, 256.0)))
    assert right.position[0] > PIVOT[0] + 50  # toward the subject's left (+x)
    up = view_camera(OrbitPose(pitch_deg=20), PIVOT, PHOTO, 512, photo_framing(PHOTO, (256.0, 256.0)))
    assert up.position[1] < PIVOT[1] - 50  # y is down: the camera rises
    near = view_camera(OrbitPose(zoom=2.0), PIVOT, PHOTO, 512, photo_framing(PHOTO, (256.0, 256.0)))
    assert np.linalg.norm(near.position - PIVOT) == pytest.approx(np.linalg.norm(PIVOT) / 2)


def test_turntable_yaw_is_about_world_vertical():
    r = orbit_rotation(40.0, 0.0)
    np.testing.assert_allclose(r[:, 1], [0, 1, 0], atol=1e-7)  # camera down axis stays world down


def test_limits_drag_and_zoom():
    pose = OrbitPose(500, -500, 100).clamped()
    assert pose.yaw_deg == YAW_LIMIT_DEG and pose.pitch_deg == -PITCH_LIMIT_DEG and pose.zoom == 3.0
    dragged = OrbitPose().dragged(-100, 50)
    assert dragged.yaw_deg > 0 and dragged.pitch_deg > 0
    assert OrbitPose().zoomed(2).zoom > 1.0 > OrbitPose().zoomed(-2).zoom


def test_turntable_path_is_smooth():
    path = turntable_path(300)
    yaws = np.array([p.yaw_deg for p in path])
    assert yaws.max() > 25 and yaws.min() < -25
    assert np.abs(np.diff(yaws)).max() < 1.5


def test_head_framing_fills_the_frame_with_the_face_and_centres_it():
    photo = Intrinsics.from_fov(1000, 800, 18.0)
    face = (600.0, 300.0, 700.0, 420.0)  # a small face right of centre
    f = head_framing(photo, face)
    assert f.side == pytest.approx(120.0 / FramingConfig().face_share)
    k = output_intrinsics(photo, 256, f)
    # The face's box, seen at zoom 1 through the framing's crop.
    top, bottom = (np.array([face[1], face[3]]) - f.y0 + 0.5) * 256 / f.side - 0.5
    left, right = (np.array([face[0], face[2]]) - f.x0 + 0.5) * 256 / f.side - 0.5
    assert (bottom - top) / 256 == pytest.approx(FramingConfig().face_share)
    assert 0.5 * (left + right) == pytest.approx(128.0, abs=0.5)  # centred across
    assert 0.5 * (top + bottom) / 256 == pytest.approx(FramingConfig().face_centre_height, abs=0.01)
    assert k.width == k.height == 256


def test_head_framing_of_a_tight_crop_stays_inside_the_photo():
    photo = Intrinsics.from_fov(300, 360, 18.0)
    f = head_framing(photo, (20.0, 30.0, 280.0, 340.0))  # the face fills the photo
    assert f.side == 300 and 0 <= f.x0 <= 0 and 0 <= f.y0 <= 360 - 300
    assert photo_framing(photo, (150.0, 180.0)) == Framing(0.0, 30.0, 300)


def test_photo_framing_of_a_wide_photo_lands_on_whole_pixels():
    """A 1024 x 683 photo's largest square, centred on a head at a fractional pixel, starts on a
    whole pixel: at the square's own size the view shows the photo's pixels unresampled."""
    photo = Intrinsics(900.0, 511.5, 341.0, 1024, 683)
    square = photo_framing(photo, (519.3, 300.2))
    assert square.side == 683 and square.y0 == 0.0
    assert square.x0 == round(square.x0) == 178.0
    k = output_intrinsics(photo, 683, square)
    assert k.cx == pytest.approx(photo.cx - 178.0) and k.focal_px == pytest.approx(photo.focal_px)
