"""The pure maths of tools/measure_head_turn.py on synthetic landmarks (no video, no rendering)."""
from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("measure_head_turn", ROOT / "tools" / "measure_head_turn.py")
mht = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = mht  # dataclasses look their module up there
_spec.loader.exec_module(mht)


def _face(seed: int = 0) -> np.ndarray:
    """Synthetic [478, 2] landmarks: random points with eyes 60 px apart (outer corners)."""
    rng = np.random.default_rng(seed)
    pts = rng.uniform(100, 200, size=(478, 2))
    pts[mht.OUTER_EYE_CORNERS[0]] = (120, 130)
    pts[mht.OUTER_EYE_CORNERS[1]] = (180, 130)
    return pts


def _similar(pts: np.ndarray, scale: float, angle_deg: float, shift) -> np.ndarray:
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    return scale * pts @ np.array([[c, -s], [s, c]]).T + np.asarray(shift)


def test_similarity_recovers_a_similarity_and_matches_cv2():
    import cv2

    src = _face()[list(mht.ALIGN_POINTS)]
    dst = _similar(src, 1.7, 23.0, (5.0, -12.0))
    m = mht.similarity_2d(src, dst)
    assert np.allclose(mht.apply_affine(m, src), dst, atol=1e-9)
    noisy = dst + np.random.default_rng(1).normal(0, 2.0, dst.shape)
    ref, _ = cv2.estimateAffinePartial2D(src, noisy, method=cv2.LMEDS)
    # least squares is never worse than cv2's robust fit on all points
    lsq = np.linalg.norm(mht.apply_affine(mht.similarity_2d(src, noisy), src) - noisy, axis=1)
    cv = np.linalg.norm(mht.apply_affine(ref, src) - noisy, axis=1)
    assert (lsq**2).sum() <= (cv**2).sum() + 1e-9


def test_aligned_error_is_zero_under_a_similarity_and_scales_with_the_eyes():
    target = _face()
    moving = _similar(target, 0.5, -40.0, (30.0, 7.0))
    assert mht.aligned_error(moving, target) == pytest.approx(0.0, abs=1e-9)
    # Shift every error point (not the alignment points) by 3 px: error = 3 / 60 inter-ocular.
    bumped = target.copy()
    free = np.setdiff1d(mht.FACE_POINTS, mht.ALIGN_POINTS)
    bumped[free] += (3.0, 0.0)
    expected = 3.0 * free.size / mht.FACE_POINTS.size / 60.0
    assert mht.aligned_error(_similar(bumped, 2.0, 10.0, (0, 0)), target) == pytest.approx(expected, rel=1e-9)
    assert not set(mht.FACE_POINTS) & mht.LIP_POINTS


def test_turn_gain_slope_r2_and_ratio():
    asked = np.linspace(-25, 25, 41)
    fit = mht.turn_gain(asked, 0.85 * asked)
    assert fit["slope"] == pytest.approx(0.85) and fit["r2"] == pytest.approx(1.0)
    assert fit["median_ratio"] == pytest.approx(0.85)
    noisy = 0.85 * asked + np.random.default_rng(2).normal(0, 2.0, asked.size)
    fit = mht.turn_gain(np.append(asked, np.nan), np.append(noisy, 1.0))
    assert fit["n"] == asked.size and abs(fit["slope"] - 0.85) < 0.05 and 0.8 < fit["r2"] < 1.0


def test_orbit_offset_inverts_the_orbit_camera():
    from core.render.camera import orbit_rotation

    rng = np.random.default_rng(3)
    for _ in range(20):
        start = np.array([rng.uniform(-8, 8), rng.uniform(-8, 8), -rng.uniform(60, 120)])  # -pivot
        yaw, pitch = rng.uniform(-45, 45), rng.uniform(-30, 30)
        got = mht.orbit_offset(start, orbit_rotation(yaw, pitch) @ start)
        assert got == pytest.approx((yaw, pitch), abs=1e-6)


def test_view_signs_follow_the_orbit_convention():
    # A head turned to its right (rotation about its vertical axis): the camera, seen from the
    # head, sits toward the subject's left (+x): a positive orbit yaw. Raised camera: +pitch.
    turn = math.radians(15.0)
    rot = np.array([[math.cos(turn), 0, math.sin(turn)], [0, 1, 0], [-math.sin(turn), 0, math.cos(turn)]])
    assert (rot @ [0, 0, -1])[0] < 0  # the face (-z in the head frame) points to the image left
    t = np.array([0.0, 0.0, 80.0])
    cam = mht.camera_in_head(rot, t)
    yaw, pitch = mht.view_angles(cam)
    assert yaw == pytest.approx(15.0) and pitch == pytest.approx(0.0, abs=1e-9)
    assert mht.view_angles(np.array([0.0, -1.0, -1.0]))[1] == pytest.approx(45.0)
    ref = mht.HeadPose(np.eye(3), t, 0.0)
    assert mht.orbit_offset(-t, mht.world_view(ref, mht.HeadPose(rot, t, 0.0))) == pytest.approx((15.0, 0.0), abs=1e-9)


def test_binned_errors_groups_by_abs_yaw():
    abs_yaw = np.array([1.0, 7.0, 15.0, 30.0, 12.0])
    out = mht.binned_errors(abs_yaw, {"e": np.array([1.0, 2.0, 3.0, 4.0, np.nan])})
    assert out["0 <= |yaw| < 5"]["e"]["mean"] == 1.0
    assert out["10 <= |yaw| < 20"]["n"] == 2 and out["10 <= |yaw| < 20"]["e"]["mean"] == 3.0
    assert out["|yaw| >= 20"]["e"]["mean"] == 4.0
    assert out["all"]["e"]["mean"] == pytest.approx(2.5)


def test_script_exits_cleanly_without_the_video(tmp_path):
    import subprocess

    res = subprocess.run([sys.executable, str(ROOT / "tools" / "measure_head_turn.py"), "--video",
                          str(tmp_path / "none.mp4")], capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0 and "no video" in res.stderr


def test_pose_solver_recovers_the_orbit_of_a_projected_face_model():
    # The face model seen by the photo's camera, then by orbit cameras about its origin: solvePnP
    # on the projected points gives back the orbit (yaw, pitch) that was asked.
    from core.face.face_model import load_face_model
    from core.geometry.pinhole import Intrinsics
    from core.render.camera import Framing, OrbitPose, view_camera

    photo = Intrinsics.from_fov(400, 300, 18.0)
    pivot = np.array([2.0, -1.0, 70.0])  # head origin in the photo's camera frame (cm)
    head = load_face_model().mean.astype(np.float64)
    world = head + pivot  # frontal: the head frame is parallel to the camera's
    solver = mht.PoseSolver()
    ref = solver(photo.project(world), photo)
    assert ref.reprojection_px < 1e-3
    for yaw, pitch in ((15.0, 0.0), (-20.0, 8.0), (0.0, -12.0)):
        cam = view_camera(OrbitPose(yaw, pitch), pivot, photo, 300, Framing(50.0, 0.0, 300.0))
        got = solver(cam.project(world), cam.intrinsics)
        view = mht.world_view(ref, got)
        assert mht.orbit_offset(-ref.translation, view) == pytest.approx((yaw, pitch), abs=1e-3)
