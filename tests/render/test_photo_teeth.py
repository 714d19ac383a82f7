"""The photo's own teeth (two sheets behind the lips) and the inner-lip mask's fill: no seam between
the sheets at the photo's jaw from any view, the split between the photo's rows of teeth, the
teeth following the mandible only, the mask not cut open over a photo's open smile, and the
mask's anti-aliasing against the exact coverage."""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from core.face import topology as topo
from core.face.arkit import EXPRESSION_INDEX
from core.render import mouth as mm
from core.render.camera import OrbitPose
from glcheck import requires_opengl


def _white_opening(pm: mm.PhotoMouth) -> mm.PhotoMouth:
    """The same mouth with a uniform white crop whose opening is the whole crop."""
    return dataclasses.replace(pm, crop=np.full_like(pm.crop, 255.0), inside=np.full_like(pm.inside, 50.0))


@pytest.mark.parametrize("yaw", [-30.0, 0.0, 30.0])
def test_no_seam_between_the_teeth_sheets_at_the_photos_jaw(sample_subject, yaw):
    """At the photo's jaw the two sheets add up to the whole opening from every view: down every
    column across the mouth, the layer's alpha has no dip where the upper sheet hands over to the
    lower (the split; before, a gap there drew a dark dashed line across the photo's teeth)."""
    from core.engine import Engine, FrameRequest

    engine = Engine(sample_subject, "cpu", renderer="march")
    cam = engine.camera(FrameRequest(size=512, pose=OrbitPose(yaw_deg=yaw)))
    s = sample_subject
    pm = _white_opening(engine.mouth.photo_mouth)
    rot, tr = np.asarray(s.rotation, np.float64), np.asarray(s.translation, np.float64)
    uv = cam.project(engine.mouth.to_world(s.head_mesh[list(topo.inner_lip_polygon())].astype(np.float64)))
    box = (int(uv[:, 0].min()) - 10, int(uv[:, 1].min()) - 10, int(uv[:, 0].max()) + 10, int(uv[:, 1].max()) + 10)
    _, alpha = mm.photo_mouth_layers(pm, cam, s.intrinsics, rot, tr, engine.mouth.head_init, (np.eye(3), np.zeros(3)), box)
    cols = np.nonzero((alpha > 0.99).sum(axis=0) >= 3)[0]
    assert len(cols) > 20
    for c in cols[len(cols) // 5: -len(cols) // 5]:
        full = np.nonzero(alpha[:, c] > 0.99)[0]
        assert alpha[full.min():full.max() + 1, c].min() > 0.98, (c, alpha[:, c].round(2))


def test_the_split_runs_in_the_dark_gap_between_the_rows_of_teeth():
    """Bright upper and lower rows with a dark gap below the mouth line: the split follows the gap."""
    h, w = 20, 40
    rgb = np.full((h, w, 3), 230.0, np.float32)
    rgb[12:14] = 40.0  # the gap, 2-3 rows below the mouth line at 10
    yy, xx = np.mgrid[0:h, 0:w]
    distance = np.minimum(np.minimum(yy - 2, 18 - yy), np.minimum(xx - 2, 38 - xx)).astype(np.float32)
    split = mm.teeth_split(rgb, distance, np.full(w, 10.0))
    assert np.abs(split[5:-5] - 12.5).max() < 0.8, split


def test_teeth_follow_the_mandible_not_a_smile(sample_subject):
    """A smile moves the chin's soft tissue in the face model; the teeth stay. jawOpen moves them."""
    from core.engine import Engine, FrameRequest

    engine = Engine(sample_subject, "cpu", renderer="march")
    face0 = engine.track.frame(FrameRequest()).current
    beta = np.array(sample_subject.beta_init, np.float32)
    smile = beta.copy()
    for name in ("mouthSmileLeft", "mouthSmileRight"):
        smile[EXPRESSION_INDEX[name]] = 0.0
    opened = beta.copy()
    opened[EXPRESSION_INDEX["jawOpen"]] += 0.5
    motion = {k: engine.mouth.jaw_motion(dataclasses.replace(face0, beta=b)) for k, b in (("smile", smile), ("open", opened))}
    incisor = engine.mouth.head_init[topo.LOWER_LIP_INNER_MID]
    moved = {k: np.linalg.norm(r @ incisor + t - incisor) for k, (r, t) in motion.items()}
    assert moved["smile"] < 1e-6 and moved["open"] > 0.5, moved


def test_an_open_smile_keeps_its_interior_at_rest(shared_data, tmp_path):
    """pyfeat_single_face smiles with an open mouth; at rest the mask inside the inner lips is not
    cut open (the relief across the opening bulged 1.3 cm in front of the lips, the compositor took
    it for an occluder and the filled opening showed as a flat pink blob)."""
    from core.engine import Engine, FrameRequest
    from core.expression.natural import STILL
    from core.preprocess.pipeline import prepare

    subject = prepare(shared_data / "faces" / "pyfeat_single_face.jpg", cache_root=tmp_path).subject
    engine = Engine(subject, "cpu", renderer="march")
    req = FrameRequest(size=384, natural=STILL, mask_window=1)
    result = engine.render_frame(req)
    face = engine.track.frame(req).current
    poly = engine.camera(req).project(engine.mouth.lip_polygon(face))
    inside = np.zeros(result.mouth_mask.shape, np.uint8)
    cv2.fillPoly(inside, [np.round(poly).astype(np.int32)], 1)
    inside = cv2.erode(inside, np.ones((5, 5), np.uint8)) > 0
    assert inside.sum() > 100
    assert result.mouth_mask[inside].min() > 0.99, (result.mouth_mask[inside] < 0.99).sum()


def test_the_mask_fill_is_the_pixels_covered_share():
    """Against the exact coverage (a 32 x fill box-filtered), the mask errs by under 0.005 on
    average and 0.25 at most, and covers the polygon's own area (OpenCV's LINE_AA fill: 0.02 and
    0.9 off, and 20 % larger: a band of the interior half-blended over the lips all round)."""
    t = np.linspace(0, 2 * np.pi, 10, endpoint=False)
    poly = mm.smooth_closed_polygon(np.stack([50 + 30 * np.cos(t), 20 + 5 * np.sin(t) + 1.5 * np.cos(t)], 1), 2)
    exact = mm._fill_mask(poly, (40, 100), supersample=32)
    fill = mm._fill_mask(poly, (40, 100))
    err = np.abs(fill - exact)
    assert err.mean() < 0.005 and err.max() < 0.25, (err.mean(), err.max())
    x, y = poly[:, 0], poly[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    assert abs(fill.sum() - area) < 0.01 * area, (fill.sum(), area)  # no wider than the polygon


@requires_opengl()
def test_photo_view_at_rest_shows_the_photos_teeth(sample_subject):
    """The sample at rest, photo view: inside the photo's opening the render is the photo's own
    teeth, no line of the interior across them (under 1 % of the pixels 40 levels darker)."""
    from core.engine import Engine, FrameRequest
    from core.expression.natural import STILL

    engine = Engine(sample_subject, "cpu", renderer="raster")
    try:
        result = engine.render_frame(FrameRequest(size=512, framing="photo", natural=STILL, mask_window=1))
    finally:
        engine.close()
    image = result.image.astype(float)
    photo = sample_subject.relief.mouth_crop[..., :3].astype(float)
    x0, y0 = sample_subject.relief.mouth_crop_xy
    h, w = photo.shape[:2]
    # The photo's opening where the lips (at rest, a little closer than the photo's) leave it open.
    opening = cv2.erode(sample_subject.relief.mouth_crop[..., 3], np.ones((5, 5), np.uint8)) > 0
    opening &= result.mouth_mask[y0:y0 + h, x0:x0 + w] > 0.95
    assert engine.subject.intrinsics.width == 512 and opening.sum() > 50, opening.sum()
    darker = photo.mean(axis=2) - image[y0:y0 + h, x0:x0 + w].mean(axis=2)
    assert (darker[opening] > 40).mean() < 0.01, (darker[opening] > 40).mean()


def test_tracing_only_the_masked_pixels_changes_none_of_them(sample_subject, face_model):
    """``where`` (the compositor traces the sheets only inside the mask) against the whole box."""
    from core.engine import Engine, FrameRequest

    engine = Engine(sample_subject, "cpu", renderer="march")
    cam = engine.camera(FrameRequest(size=384, pose=OrbitPose(yaw_deg=20.0)))
    s = sample_subject
    rot, tr = np.asarray(s.rotation, np.float64), np.asarray(s.translation, np.float64)
    beta = np.zeros(face_model.num_expressions)
    beta[EXPRESSION_INDEX["jawOpen"]] = 0.4
    face = dataclasses.replace(engine.track.frame(FrameRequest()).current, beta=(s.beta_init + beta).astype(np.float32))
    jaw = engine.mouth.jaw_motion(face)
    uv = cam.project(engine.mouth.to_world(s.head_mesh[list(topo.inner_lip_polygon())].astype(np.float64)))
    box = (int(uv[:, 0].min()) - 4, int(uv[:, 1].min()) - 4, int(uv[:, 0].max()) + 12, int(uv[:, 1].max()) + 12)
    rng = np.random.default_rng(0)
    where = rng.random((box[3] - box[1], box[2] - box[0])) < 0.5
    args = (engine.mouth.photo_mouth, cam, s.intrinsics, rot, tr, engine.mouth.head_init, jaw, box)
    full_rgb, full_a = mm.photo_mouth_layers(*args)
    part_rgb, part_a = mm.photo_mouth_layers(*args, where=where)
    assert full_a[where].max() > 0.5
    np.testing.assert_allclose(part_a[where], full_a[where], atol=1e-6)
    np.testing.assert_allclose(part_rgb[where], full_rgb[where], atol=1e-3)
    assert part_a[~where].max() == 0.0


def test_the_lower_sheet_rides_up_only_with_a_lip_closing_over_the_teeth(face_model):
    """The lower lip raised against the jaw (the seal) lifts the lower teeth sheet by as much; a
    lip lowered against the jaw (a rest expression, mouthLowerDown) leaves the sheet on the jaw."""
    head = face_model.mean.astype(np.float64)
    still = (np.eye(3), np.zeros(3))
    up, down = head.copy(), head.copy()
    up[topo.LOWER_LIP_INNER_MID, 1] -= 0.2  # y is down
    down[topo.LOWER_LIP_INNER_MID, 1] += 0.1
    assert mm.lower_sheet_lift(head, up, still) == pytest.approx(0.2)
    assert mm.lower_sheet_lift(head, down, still) == 0.0
    opened = (np.eye(3), np.array([0.0, 0.5, 0.0]))  # the jaw 5 mm down, the lip 2 mm up: 7 mm
    assert mm.lower_sheet_lift(head, up, opened) == pytest.approx(0.7)


def test_sealed_lips_over_the_photos_teeth_meet_in_a_dark_line(sample_subject):
    """The sample's lips sealed over her open smile: where they meet the render is darker than the
    lips alone (a faint dark line), never lighter (a line of the photo's teeth between closed lips
    read as an open mouth under FaceMesh)."""
    from core.audio.motion import MotionParams
    from core.engine import Engine, FrameRequest
    from core.expression.natural import STILL
    from core.render.config import MouthConfig, MouthMaskConfig, RenderConfig

    c = np.zeros(len(EXPRESSION_INDEX), np.float32)
    for name in ("mouthPressLeft", "mouthPressRight", "mouthClose"):
        c[EXPRESSION_INDEX[name]] = 1.0
    req = FrameRequest(size=384, coefficients=tuple(float(x) for x in c), mask_window=1,
                       motion=MotionParams(alpha_m=1.0), natural=STILL)
    with_mouth = Engine(sample_subject, "cpu", renderer="march").render_frame(req)
    no_mouth = RenderConfig(mouth=MouthConfig(mask=MouthMaskConfig(threshold=2.0)))
    lips_only = Engine(sample_subject, "cpu", renderer="march", config=no_mouth).render(req)
    seam = with_mouth.mouth_mask > 0.02
    assert seam.sum() > 30
    lighter = with_mouth.image.astype(float).mean(axis=2) - lips_only.astype(float).mean(axis=2)
    assert lighter[seam].max() <= 0.5, lighter[seam].max()
    assert lighter[seam].min() < -10, lighter[seam].min()
