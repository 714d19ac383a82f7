"""The pose-robustness protocol: flipped-pose plumbing, sign conventions, rendered lip-sync lag."""
from __future__ import annotations

import numpy as np
import pytest

from core.evaluation.protocol import difference
from core.evaluation.rendering import flipped_pose, flipped_yaw_offset, head_yaw_deg
from core.render.camera import YAW_LIMIT_DEG


def _yaw_rotation(deg: float) -> np.ndarray:
    """Head -> camera rotation of a head turned by ``deg`` about the vertical axis."""
    a = np.radians(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


@pytest.mark.parametrize("yaw", [0.0, 12.5, -20.0, 40.0])
def test_flipped_pose_plumbing(yaw):
    assert head_yaw_deg(_yaw_rotation(yaw)) == pytest.approx(yaw)
    assert flipped_yaw_offset(yaw) == pytest.approx(-2 * yaw)
    pose, clamped = flipped_pose(yaw, zoom=1.7)
    assert pose.zoom == 1.7 and pose.pitch_deg == 0.0
    if 2 * abs(yaw) <= YAW_LIMIT_DEG:
        assert pose.yaw_deg == pytest.approx(-2 * yaw) and not clamped
    else:
        assert pose.yaw_deg == pytest.approx(-np.sign(yaw) * YAW_LIMIT_DEG) and clamped


def test_delta_is_input_minus_flipped():
    d = difference({"csim": 0.9, "cpbd": 0.2, "x": None}, {"csim": 0.8, "cpbd": 0.25, "x": 1.0})
    assert d["csim"] == pytest.approx(0.1) and d["cpbd"] == pytest.approx(-0.05) and d["x"] is None


def test_orbit_yaw_turns_the_head_like_a_head_yaw(sample_subject, face_model):
    """A +20 degree orbit offset must change the head yaw seen in the image by about +20 degrees,
    so that an offset of -2 * head_yaw mirrors the head (the flipped pose)."""
    from core.engine import Engine, FrameRequest
    from core.preprocess.config import PrepareConfig
    from core.preprocess.face_fit import detect_landmarks, fit_face
    from core.render.camera import OrbitPose

    engine = Engine(sample_subject, "cpu")
    yaws = {}
    for offset in (-20.0, 20.0):
        img = engine.render(FrameRequest(pose=OrbitPose(offset, 0.0, 2.0), size=192, mask_window=1))
        fit = fit_face(detect_landmarks(img), 192, 192, face_model, PrepareConfig().camera.fov_deg)
        yaws[offset] = head_yaw_deg(fit.rotation)
    base = head_yaw_deg(sample_subject.rotation)
    assert 10 < yaws[20.0] - base < 30 and -30 < yaws[-20.0] - base < -10, (base, yaws)


def test_clip_metrics_input_vs_flipped(sample_subject):
    """Both conditions render and measure; the report's JSON of a pair is complete."""
    from core.engine import Engine
    from core.evaluation.config import EvalConfig, IdentityConfig
    from core.evaluation.identity import load_identity_model
    from core.evaluation.protocol import PoseRobustness, measure_clip
    from core.evaluation.rendering import face_zoom, render_clip
    from core.face.arkit import NUM_EXPRESSIONS
    from core.render.camera import OrbitPose

    n = 6
    engine = Engine(sample_subject, "cpu")
    engine.set_driver(np.zeros((n, NUM_EXPRESSIONS), np.float32))
    zoom = face_zoom(sample_subject, 0.45)
    yaw = head_yaw_deg(sample_subject.rotation)
    config = EvalConfig(identity=IdentityConfig(max_frames=2))
    model = load_identity_model(config.identity)
    ref = None
    if model is not None:
        from core.evaluation.rendering import render_view
        ref = model.embed(render_view(engine, OrbitPose(0.0, 0.0, zoom), 192)).vector
    clips = {}
    for cond, pose in (("input", OrbitPose(0.0, 0.0, zoom)), ("flipped", flipped_pose(yaw, zoom)[0])):
        seen = []
        clips[cond] = measure_clip(cond, pose, render_clip(engine, pose, n, 128), n, np.zeros(n), None,
                                   model, ref, config, on_frame=lambda k, f: seen.append(k))
        assert seen == list(range(n))
        assert clips[cond].frames == n and 0.0 < clips[cond].cpbd < 1.0 and clips[cond].face_rate == 1.0
    pair = PoseRobustness("p", "a", yaw, clips["flipped"].pose.yaw_deg, False, clips["input"], clips["flipped"])
    js = pair.to_json()
    assert js["delta"]["cpbd"] == pytest.approx(clips["input"].cpbd - clips["flipped"].cpbd)
    if model is not None:
        assert clips["input"].identity.frames_embedded == 2 and clips["input"].identity.csim > 0.9


def test_photo_view_matches_the_render_framing(sample_subject, sample_portrait):
    """The ground-truth row's photo view lines up with the render at the photo's expression."""
    from core.audio.motion import MotionParams
    from core.engine import Engine, FrameRequest
    from core.evaluation.rendering import face_zoom, photo_view
    from core.preprocess.portrait import load_portrait
    from core.render.camera import OrbitPose

    engine = Engine(sample_subject, "cpu")
    zoom = face_zoom(sample_subject, 0.45)
    view = photo_view(load_portrait(sample_portrait).rgb, sample_subject, engine, 128, zoom)
    render = engine.render(FrameRequest(pose=OrbitPose(0.0, 0.0, zoom), size=128, mask_window=1,
                                        motion=MotionParams(alpha_m=0.0)))
    uv = engine.camera(FrameRequest(pose=OrbitPose(0.0, 0.0, zoom), size=128)).project(
        np.asarray(sample_subject.mesh, np.float64))
    x0, y0 = np.clip(np.floor(uv.min(axis=0)).astype(int), 0, 127)
    x1, y1 = np.clip(np.ceil(uv.max(axis=0)).astype(int), 0, 127)
    face_diff = np.abs(view[y0:y1, x0:x1].astype(float) - render[y0:y1, x0:x1]).mean()
    shifted = np.abs(np.roll(view, 4, axis=1)[y0:y1, x0:x1].astype(float) - render[y0:y1, x0:x1]).mean()
    assert face_diff < 10 and face_diff < 0.6 * shifted, (face_diff, shifted)
