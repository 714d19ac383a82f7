"""Blinks and head motion in the renderer: the eye really closes, the head moves while the torso
and background stay still, the fast path agrees with the reference, and the controls at 0 change
nothing."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from glcheck import requires_opengl
import torch

from core.engine import Engine, FrameRequest
from core.evaluation.lipsync import face_landmarks
from core.expression.natural import STILL, NaturalMotion
from core.expression.track import FaceState
from core.face import topology as topo
from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS
from core.render.camera import OrbitPose

HEAD = (3.0, 2.0, 3.0, 0.4, 0.1, 0.2)  # yaw, pitch, roll (deg), x, y, z (cm)


@pytest.fixture(scope="module")
def engine(sample_subject):
    return Engine(sample_subject, "cpu")


def eye_gaps(rgb: np.ndarray) -> np.ndarray:
    """FaceMesh lid gap / eye width of both eyes, on the face crop upscaled (the face is small)."""
    pts = face_landmarks(rgb)
    assert pts is not None
    x0, y0 = pts[:, :2].min(axis=0).astype(int) - 20
    x1, y1 = pts[:, :2].max(axis=0).astype(int) + 20
    x0, y0 = max(x0, 0), max(y0, 0)
    crop = rgb[y0:y1, x0:x1]
    scale = 384.0 / max(crop.shape[:2])
    pts = face_landmarks(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC))
    assert pts is not None
    gap = lambda a, b, c, d: np.linalg.norm(pts[a, :2] - pts[b, :2]) / np.linalg.norm(pts[c, :2] - pts[d, :2])  # noqa: E731
    return np.array([gap(topo.LEFT_EYE_UPPER_MID, topo.LEFT_EYE_LOWER_MID, 263, 362),
                     gap(topo.RIGHT_EYE_UPPER_MID, topo.RIGHT_EYE_LOWER_MID, 33, 133)])


def blink_driver(left: float, right: float, frames: int = 3) -> np.ndarray:
    d = np.zeros((frames, NUM_EXPRESSIONS), np.float32)
    d[:, EXPRESSION_INDEX["eyeBlinkLeft"]] = left
    d[:, EXPRESSION_INDEX["eyeBlinkRight"]] = right
    return d


# FaceMesh's reading of the march renderer's closed lids moves with the rest of the face: the same
# eye pixels read 0.23-0.32 of open with the mouth drawn in different ways (the raster: 0.12-0.20).
@pytest.mark.parametrize("renderer, shut_share", [("march", 0.34), pytest.param("raster", 0.3, marks=requires_opengl())])
def test_a_blink_closes_the_eyes_under_facemesh(sample_subject, renderer, shut_share):
    """eyeBlink = 1 closes the lid gap below 30 % of open (the march renderer: 34 %), per eye, as
    FaceMesh measures it."""
    engine = Engine(sample_subject, "cpu", renderer=renderer)
    req = dict(framing="head", size=384, mask_window=1, natural=STILL, frame_index=1)
    try:
        engine.set_driver(blink_driver(0.0, 0.0))
        open_ = eye_gaps(engine.render(FrameRequest(**req)))
        engine.set_driver(blink_driver(1.0, 1.0))
        shut = eye_gaps(engine.render(FrameRequest(**req)))
        engine.set_driver(blink_driver(1.0, 0.0))
        left_only = eye_gaps(engine.render(FrameRequest(**req)))
    finally:
        engine.set_driver(np.zeros((0, NUM_EXPRESSIONS), np.float32))
    assert np.all(open_ > 0.2)
    assert np.all(shut < shut_share * open_), (shut, open_)
    assert left_only[0] < shut_share * open_[0] and left_only[1] > 0.7 * open_[1]


def test_head_motion_moves_the_head_and_leaves_torso_and_background_still(engine, sample_subject):
    still = engine.render_frame(FrameRequest(framing="photo", size=256, mask_window=1)).image.astype(float)
    face = engine.track.frame(FrameRequest(framing="photo", size=256)).current
    moved = render_state(engine, FaceState(face.beta, face.seal, (0.0, 0.0), HEAD))
    diff = np.abs(moved - still).mean(axis=2)
    uv = sample_subject.intrinsics.project(sample_subject.mesh.astype(np.float64)) * 256 / 512
    x0, y0 = uv.min(axis=0).astype(int)
    x1, y1 = uv.max(axis=0).astype(int)
    assert diff[y0:y1, x0:x1].mean() > 10.0  # the face moved
    chin_y = int(uv[topo.CHIN, 1])
    face_h = y1 - y0
    far = np.ones_like(diff, bool)
    far[: chin_y + face_h, max(x0 - face_h, 0): x1 + face_h] = False  # the head, its hair and the neck
    assert diff[far].mean() < 1.0  # background and torso: < 1/255 on average


def render_state(engine: Engine, face: FaceState, reference: bool = False, size: int = 256) -> np.ndarray:
    """The photo-framing image of one face state (no mouth layer), float [S, S, 3] 0..255."""
    from core.render.relief_renderer import render_relief

    cam = engine.camera(FrameRequest(framing="photo", size=size))
    frame = engine._deform(face)
    surf = engine.reference.prepare(frame) if reference else engine.fast.prepare(face, frame, size, 1.0)
    raw = render_relief(surf.scene, cam, surf.query, surf.source_of, surf.steps, refine=surf.refine,
                        gap_of=surf.gap_of, config=engine.config)
    return (raw.rgb.clamp(0, 1) * 255.0).permute(1, 2, 0).numpy()


def test_fast_path_matches_the_reference_with_head_motion_and_blinks(engine, sample_subject):
    face = engine.track.frame(FrameRequest(framing="photo", size=256)).current
    state = FaceState(face.beta, face.seal, (1.0, 0.5), HEAD)
    fast, ref = render_state(engine, state), render_state(engine, state, reference=True)
    uv = sample_subject.intrinsics.project(sample_subject.mesh.astype(np.float64)) * 256 / 512
    x0, y0 = uv.min(axis=0).astype(int) - 10
    x1, y1 = uv.max(axis=0).astype(int) + 10
    mse = np.mean((fast[y0:y1, x0:x1] - ref[y0:y1, x0:x1]) ** 2)
    assert 10 * np.log10(255.0 ** 2 / mse) > 28.0


def test_displacement_lookups_agree_with_head_motion_and_blinks(engine, sample_subject):
    """displacement_at, displacement_planned and the grid_sample reference are one field."""
    d = engine.deformer
    beta = sample_subject.beta_init.copy()
    beta[EXPRESSION_INDEX["jawOpen"]] += 0.8
    frame = d.frame(beta, lids=(1.0, 0.3), head=HEAD)
    rng = np.random.default_rng(0)
    centre = sample_subject.mesh.mean(axis=0)
    pts = torch.as_tensor(centre + rng.normal(scale=6.0, size=(5000, 3)), dtype=torch.float32)
    fast = d.displacement_at(pts, frame)
    torch.testing.assert_close(fast, d.displacement_at_reference(pts, frame), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(fast, d.displacement_planned(d.lookup_plan(pts), frame), atol=1e-5, rtol=1e-5)
    # Far below the head (the torso) and far behind it (the background) nothing moves.
    torso = torch.as_tensor(d.head_region.pivot + np.array([0.0, 25.0, 0.0]), dtype=torch.float32)
    world = torso @ d.rotation.T + d.translation
    back = d.translation + torch.tensor([0.0, 0.0, 60.0])
    assert d.displacement_at(torch.stack([world, back]), frame).abs().max() == 0


def test_controls_at_zero_render_as_before(engine):
    """No blinks and a still head: the same image as a request without any time (the photo's head)."""
    driver = np.zeros((50, NUM_EXPRESSIONS), np.float32)
    engine.set_driver(driver)
    try:
        still = engine.render(FrameRequest(framing="photo", size=128, frame_index=30, natural=STILL))
        natural = engine.render(FrameRequest(framing="photo", size=128, frame_index=30, natural=NaturalMotion(seed=3)))
    finally:
        engine.set_driver(np.zeros((0, NUM_EXPRESSIONS), np.float32))
    timeless = engine.render(FrameRequest(framing="photo", size=128))
    assert np.array_equal(still, timeless)
    assert not np.array_equal(natural, timeless)


def test_forward_motion_is_inverted_by_the_backward_field(engine, sample_subject):
    """A renderer moving vertices forward (``move_forward``: the head's motion) and one reading
    the backward field (``displacement_at``) agree: forward then backward returns the canonical
    point."""
    d = engine.deformer
    frame = d.frame(sample_subject.beta_init, head=HEAD)
    pts = np.concatenate([sample_subject.mesh, sample_subject.mesh + np.array([0.0, 0.0, 1.5])])  # face and behind it
    canon = torch.as_tensor(pts.astype(np.float32))
    moved = d.move_forward(canon, frame)
    assert (moved - canon).norm(dim=1).max() > 0.5
    back = moved + d.displacement_at(moved, frame)
    assert (back - canon).norm(dim=1).median() < 0.02
    # The rasteriser's numpy path moves its vertices the same way.
    np.testing.assert_allclose(d.move_points_array(pts, frame.head_motion), moved.numpy(), atol=2e-4)


@requires_opengl()
def test_raster_eyes_match_the_reference(sample_subject):
    """Blinks and gaze in the rasteriser (its fragment shader reads the photo through the eye
    maps) against the reference path (Eq. 7 per ray sample, the same maps in torch)."""
    from core.face.arkit import NUM_DRIVER_CHANNELS, gaze_to_eye_look
    from core.render.raster.relief_mesh import MeshConfig

    raster = Engine(sample_subject, "cpu", renderer="raster", head=None, mesh=MeshConfig(frame_fade_share=0.0))
    march = Engine(sample_subject, "cpu", renderer="march")
    driver = np.zeros((3, NUM_DRIVER_CHANNELS), np.float32)
    driver[:, EXPRESSION_INDEX["eyeBlinkLeft"]] = 0.9
    driver[:, EXPRESSION_INDEX["eyeBlinkRight"]] = 0.4
    driver[:, NUM_EXPRESSIONS + 3:] = gaze_to_eye_look(np.array([15.0, 5.0, 15.0, 5.0]))
    try:
        for e in (raster, march):
            e.set_driver(driver)
        for pose in (OrbitPose(zoom=3.0), OrbitPose(25.0, 10.0, zoom=2.0)):
            req = FrameRequest(framing="photo", pose=pose, size=256, mask_window=1, frame_index=1,
                               natural=NaturalMotion(blink_rate=0.0, head_motion=0.0, gaze="on"))
            fast = raster.render(req).astype(float)
            ref = march.render(dataclasses.replace(req, reference=True)).astype(float)
            boxes = eye_boxes(raster, sample_subject, req, margin_px=12)
            for x0, y0, x1, y1 in boxes:
                diff = np.abs(fast[y0:y1, x0:x1] - ref[y0:y1, x0:x1]).max(axis=2)
                assert diff.mean() < 6.0 and (diff > 40).mean() < 0.06, (pose, diff.mean(), (diff > 40).mean())
    finally:
        raster.close()


def gaze_driver(h_deg: float, frames: int = 3) -> np.ndarray:
    """A driver whose eyeLook channels turn both eyes by ``h_deg`` (+: toward the subject's left)."""
    from core.face.arkit import NUM_DRIVER_CHANNELS, gaze_to_eye_look

    d = np.zeros((frames, NUM_DRIVER_CHANNELS), np.float32)
    d[:, NUM_EXPRESSIONS + 3:] = gaze_to_eye_look(np.array([h_deg, 0.0, h_deg, 0.0]))
    return d


def eye_boxes(engine: Engine, subject, req: FrameRequest, margin_px: int = 3) -> list[tuple[int, int, int, int]]:
    cam = engine.camera(req)
    boxes = []
    for upper, lower in (engine.deformer.lids.EYES):
        ids = list(upper) + list(lower)
        uv = cam.project(subject.mesh[ids].astype(np.float64))
        x0, y0 = np.floor(uv.min(axis=0)).astype(int) - margin_px
        x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + margin_px
        boxes.append((x0, y0, x1, y1))
    return boxes


@pytest.mark.parametrize("renderer", ["march", pytest.param("raster", marks=requires_opengl())])
def test_gaze_turns_the_irises_inside_the_eye_openings(sample_subject, renderer):
    """eyeLook channels of a driver turn the eyes: the dark iris moves toward the side asked
    (about r sin(angle) across the face), nothing outside the eye openings changes."""
    engine = Engine(sample_subject, "cpu", renderer=renderer)
    req = FrameRequest(framing="photo", pose=OrbitPose(zoom=3.0), size=256, mask_window=1, frame_index=1,
                       natural=NaturalMotion(blink_rate=0.0, head_motion=0.0, gaze="on"))
    images = {}
    try:
        for h in (0.0, 20.0, -20.0):
            engine.set_driver(gaze_driver(h))
            images[h] = engine.render(req).astype(float).mean(axis=2)
    finally:
        engine.close()
    boxes = eye_boxes(engine, sample_subject, req)
    outside = np.ones(images[0.0].shape, bool)
    for x0, y0, x1, y1 in boxes:
        outside[y0:y1, x0:x1] = False
    for h in (20.0, -20.0):
        assert np.abs(images[h] - images[0.0])[outside].max() < 2.0
        for x0, y0, x1, y1 in boxes:
            shift = profile_shift(images[0.0][y0:y1, x0:x1], images[h][y0:y1, x0:x1])
            assert np.sign(shift) == np.sign(h) and abs(shift) > 1.5, (renderer, h, shift)


def profile_shift(before: np.ndarray, after: np.ndarray, max_px: int = 8) -> float:
    """How far (px, + to the right) the dark iris moved between two eye crops [h, w]: the
    cross-correlation peak of their darkness profiles over the crop's middle rows."""
    def profile(img):
        rows = img[len(img) // 3: 2 * len(img) // 3]
        return np.clip(140.0 - rows, 0, None).sum(axis=0)
    a, b = profile(before), profile(after)
    a, b = a - a.mean(), b - b.mean()
    lags = np.arange(-max_px, max_px + 1)
    score = np.array([np.dot(a[max(0, -k):len(a) - max(0, k)], b[max(0, k):len(b) - max(0, -k)]) for k in lags])
    i = int(np.clip(score.argmax(), 1, len(lags) - 2))
    l, c, r = score[i - 1:i + 2]
    return float(lags[i] + 0.5 * (l - r) / (l - 2 * c + r + 1e-9))


def test_look_at_camera_turns_the_eyes_toward_the_view(engine):
    """Gaze "camera": the eyes turn by the orbit's yaw and pitch (less the head's own turn)."""
    face = engine.track.frame(FrameRequest(natural=NaturalMotion(gaze="camera"))).current
    assert face.gaze_at_camera
    for yaw, pitch in ((20.0, 0.0), (-15.0, 10.0)):
        cam = engine.camera(FrameRequest(pose=OrbitPose(yaw, pitch)))
        g = engine._resolve_eyes(face, cam).gaze
        for h, v in (g[:2], g[2:]):
            assert h == pytest.approx(yaw, abs=2.5) and v == pytest.approx(pitch, abs=2.5), (yaw, pitch, g)
    turned = engine._resolve_eyes(FaceState(face.beta, face.seal, head=(5.0, 0, 0, 0, 0, 0), gaze_at_camera=True),
                                  engine.camera(FrameRequest(pose=OrbitPose(20.0, 0.0))))
    # Yaw + turns the face toward its right, away from this camera: the eyes turn 5 degrees further.
    assert turned.gaze[0] == pytest.approx(25.0, abs=2.5)


def test_fast_path_matches_the_reference_with_gaze(engine, sample_subject):
    face = engine.track.frame(FrameRequest(framing="photo", size=256)).current
    state = FaceState(face.beta, face.seal, (0.0, 0.0), HEAD, gaze=(18.0, -8.0, 18.0, -8.0))
    fast, ref = render_state(engine, state), render_state(engine, state, reference=True)
    still = render_state(engine, FaceState(face.beta, face.seal, (0.0, 0.0), HEAD))
    assert np.abs(fast - still).max() > 20  # the eyes turned
    uv = sample_subject.intrinsics.project(sample_subject.mesh.astype(np.float64)) * 256 / 512
    x0, y0 = uv.min(axis=0).astype(int) - 10
    x1, y1 = uv.max(axis=0).astype(int) + 10
    mse = np.mean((fast[y0:y1, x0:x1] - ref[y0:y1, x0:x1]) ** 2)
    assert 10 * np.log10(255.0 ** 2 / mse) > 28.0
    d = engine.deformer
    frame = d.frame(sample_subject.beta_init, gaze=state.gaze)
    pts = torch.as_tensor(sample_subject.mesh, dtype=torch.float32)
    torch.testing.assert_close(d.displacement_at(pts, frame), d.displacement_at_reference(pts, frame), atol=1e-4, rtol=1e-4)


@requires_opengl()
def test_eye_texture_reads_the_deformers_eye_field_and_uploads_only_changes(sample_subject):
    """The rasteriser's eye redraw (numpy, on fixed surface points) is the deformer's eye field
    (torch); it uploads nothing when the eyes do not change, only the small gaze boxes while
    only the gaze moves, and the photo's own eyes again after a blink."""
    engine = Engine(sample_subject, "cpu", renderer="raster")
    try:
        eyes = engine.eyes
        for points in eyes._lid_points + eyes._gaze_points:
            head = torch.as_tensor(points.head)
            for lids, gaze in (((0.7, 0.3), (12.0, -4.0, 12.0, -4.0)), ((0.0, 0.0), (-15.0, 3.0, -10.0, 3.0)),
                               ((1.0, 1.0), (0.0,) * 4)):
                ref = engine.deformer.eye_backward(head, lids, gaze).numpy()
                np.testing.assert_allclose(eyes.backward(points, lids, gaze), ref, atol=5e-3)
        assert eyes.update((0.0, 0.0), (0.0,) * 4) == []  # the photo's eyes are already shown
        blink = eyes.update((0.8, 0.8), (5.0, 0.0, 5.0, 0.0))
        assert [p.rgba.shape[:2] for p in blink] == [(b[3] - b[1], b[2] - b[0]) for b in eyes.lid_boxes]
        assert eyes.update((0.8, 0.8), (5.0, 0.0, 5.0, 0.0)) == []
        after = eyes.update((0.0, 0.0), (5.0, 0.0, 5.0, 0.0))  # the lid boxes go back to the photo's
        assert [p.rgba.shape[:2] for p in after] == [(b[3] - b[1], b[2] - b[0]) for b in eyes.lid_boxes]
        turn = eyes.update((0.0, 0.0), (6.0, 0.0, 6.0, 0.0))
        assert [p.rgba.shape[:2] for p in turn] == [(b[3] - b[1], b[2] - b[0]) for b in eyes.gaze_boxes]
        rest = eyes.update((0.0, 0.0), (0.0,) * 4)
        photo = np.clip(engine.scene.appearance[0].permute(1, 2, 0).numpy() * 255 + 0.5, 0, 255).astype(np.uint8)
        for p in rest:
            h, w = p.rgba.shape[:2]
            assert np.array_equal(p.rgba, photo[p.y0:p.y0 + h, p.x0:p.x0 + w])
    finally:
        engine.close()
