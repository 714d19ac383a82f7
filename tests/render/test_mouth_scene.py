"""The 3D mouth interior: its teeth and arches, the jaw's motion, its lighting, its two
rasterisers (OpenGL and the numpy reference) against each other, anti-aliasing, the subject's
colours, and closed lips without a light seam."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from core.face import topology as topo
from core.face.arkit import EXPRESSION_INDEX
from core.geometry.pinhole import Intrinsics
from core.preprocess.mouth_colours import tint_from_photo
from core.render import mouth_scene as ms
from core.render.camera import ViewCamera, orbit_rotation
from core.render.config import MouthShadingConfig
from glcheck import requires_opengl

LIP = np.array([[170.0, 90.0, 90.0]])


@pytest.fixture(scope="module")
def scene(face_model):
    head = face_model.mean.astype(np.float64)
    return ms.MouthScene(head, face_model.jaw_weight, tint_from_photo(None, LIP)), head


@pytest.fixture(scope="module")
def raster(sample_subject):
    """An OpenGL renderer (the engine's): its mouth pass draws any lit mouth."""
    from core.engine import Engine

    engine = Engine(sample_subject, "cpu", renderer="raster", head=None)
    yield engine.raster
    engine.close()


def front_camera(head: np.ndarray, yaw: float = 0.0, size: int = 512) -> ViewCamera:
    """A camera 60 cm in front of the mouth (head frame = world), turned by ``yaw`` about it."""
    rot = orbit_rotation(yaw, 0.0)
    mouth = 0.5 * (head[topo.UPPER_LIP_INNER_MID] + head[topo.LOWER_LIP_INNER_MID])
    return ViewCamera(rot, mouth - rot[:, 2] * 60.0, Intrinsics(1600.0, size / 2, size / 2, size, size))


def opened(face_model, amount: float) -> np.ndarray:
    beta = np.zeros(face_model.num_expressions)
    beta[EXPRESSION_INDEX["jawOpen"]] = amount
    return face_model.mean + np.einsum("k,kvc->vc", beta, face_model.basis)


def test_each_arch_has_individual_teeth_in_a_symmetric_curve(scene):
    """12 crowns per arch (incisors, canines, premolars, first molars), mirror-symmetric, the
    back teeth further back than the front ones, the upper front teeth wider than the lower."""
    sc, _ = scene
    mesh = sc.mesh
    teeth = mesh.material == ms.TEETH
    per_tooth = len(ms._RING_LEVELS) * mesh_ring(sc) + 1
    for jaw in (False, True):
        v = mesh.vertices[teeth & (mesh.jaw == jaw)]
        assert len(v) == 12 * per_tooth
        crowns = v.reshape(12, per_tooth, 3)
        centre = crowns.mean(axis=1)
        np.testing.assert_allclose(centre[:, 0], -centre[::-1, 0], atol=1e-4)
        assert centre[0, 2] > centre[5, 2] + 1.0  # molars at least 1 cm behind the central incisors
    width = lambda jaw: np.ptp(mesh.vertices[teeth & (mesh.jaw == jaw)].reshape(12, -1, 3)[5, :, 0])  # noqa: E731
    assert width(False) > 1.3 * width(True)


def mesh_ring(sc) -> int:
    return sc.mesh.vertices[(sc.mesh.material == ms.TEETH)].shape[0] // 24 // len(ms._RING_LEVELS)


def test_outward_normals_face_the_front(scene):
    sc, _ = scene
    mesh = sc.mesh
    teeth = mesh.material == ms.TEETH
    front = teeth & (mesh.vertices[:, 2] < np.percentile(mesh.vertices[teeth, 2], 5))
    assert mesh.normals[front, 2].mean() < -0.3
    assert mesh.normals[mesh.material == ms.TONGUE, 1].mean() < -0.5  # the tongue's top faces up


def test_upper_arch_stays_with_the_skull_and_the_lower_follows_the_jaw(scene, face_model):
    sc, head = scene
    still, _ = sc.posed(head)
    np.testing.assert_allclose(still, sc.mesh.vertices, atol=1e-5)
    moved, _ = sc.posed(opened(face_model, 1.0))
    upper = ~sc.mesh.jaw
    assert np.abs(moved[upper] - still[upper]).max() < 1e-6
    lower_edge = (sc.mesh.material == ms.TEETH) & sc.mesh.jaw
    drop = moved[lower_edge, 1].max() - still[lower_edge, 1].max()
    chin = opened(face_model, 1.0)[topo.CHIN, 1] - head[topo.CHIN, 1]
    assert 0.5 * chin < drop < 1.2 * chin  # the incisors open with the chin (they are nearer the hinge)


def test_light_dies_off_toward_the_back_and_under_the_upper_lip(scene):
    sc, head = scene
    cam = front_camera(head)
    lit = sc.light(head, np.eye(3), np.zeros(3), cam)
    level = lit.colours.mean(axis=1)
    v, m = sc.mesh.vertices, sc.mesh.material
    facing = sc.mesh.normals[:, 2] < -0.7  # faces turned to the front
    teeth_front = (m == ms.TEETH) & facing & (v[:, 2] < np.percentile(v[m == ms.TEETH, 2], 10))
    teeth_back = (m == ms.TEETH) & (v[:, 2] > np.percentile(v[m == ms.TEETH, 2], 90))
    assert level[teeth_front].mean() > 2.0 * level[teeth_back].mean()
    # Same points, the upper lip lowered over them: darker.
    low_lip = head.copy()
    low_lip[list(topo.LIP_INNER_UPPER), 1] += 0.3
    darker = sc.light(low_lip, np.eye(3), np.zeros(3), cam).colours.mean(axis=1)
    lip_y = head[topo.UPPER_LIP_INNER_MID, 1]
    upper_front = teeth_front & ~sc.mesh.jaw & (v[:, 1] > lip_y + 0.05) & (np.abs(v[:, 0]) < 1.0)
    assert upper_front.sum() >= 4
    assert darker[upper_front].mean() < 0.85 * level[upper_front].mean()
    assert float(np.mean(lit.cavity)) < 0.5 * level[teeth_front].mean()


@requires_opengl()
@pytest.mark.parametrize("yaw", [0.0, 30.0])
def test_opengl_matches_the_numpy_reference(scene, face_model, raster, yaw):
    """The same lit mesh through both rasterisers, supersampled 3x: mean difference under 2
    levels, and under 1 % of the pixels off by more than 40 (triangle edges on sub-pixel ties)."""
    sc, head = scene
    face = opened(face_model, 0.6)
    cam = front_camera(head, yaw)
    lit = sc.light(face, np.eye(3), np.zeros(3), cam)
    uv = cam.project(lit.positions.astype(np.float64))
    box = (int(uv[:, 0].min()) - 2, int(uv[:, 1].min()) - 2, int(uv[:, 0].max()) + 3, int(uv[:, 1].max()) + 3)
    reference = ms.draw_interior(lit, cam, box, 3)
    gl = ms.draw_interior(lit, cam, box, 3, raster=raster)
    diff = np.abs(gl - reference).max(axis=2)
    assert diff.mean() < 2.0 and (diff > 40).mean() < 0.01, (diff.mean(), (diff > 40).mean())
    assert reference.max() > 3 * float(np.mean(lit.cavity))  # something was drawn (teeth over the cavity)


@pytest.mark.parametrize("yaw", [0.0, 30.0])
def test_supersampling_removes_stair_steps(scene, face_model, yaw):
    """Against the interior drawn with 8 x 8 samples per pixel (close to the exact pixel
    coverage), one sample per pixel errs along every crown edge (stair steps); the 3 x 3 samples
    the renderer draws err less than 40 % as much."""
    sc, head = scene
    cam = front_camera(head, yaw)
    lit = sc.light(opened(face_model, 0.6), np.eye(3), np.zeros(3), cam)
    uv = cam.project(lit.positions.astype(np.float64))
    box = (int(uv[:, 0].min()), int(uv[:, 1].min()), int(uv[:, 0].max()) + 1, int(uv[:, 1].max()) + 1)
    exact = ms.draw_interior(lit, cam, box, 8)
    err = {s: float(np.abs(ms.draw_interior(lit, cam, box, s) - exact).mean()) for s in (1, 3)}
    assert err[3] < 0.4 * err[1], err


def test_teeth_follow_the_eye_whites_and_are_never_blue():
    white = np.array([220.0, 215.0, 230.0])  # a blue-tinted eye white
    c = tint_from_photo(None, LIP, white)
    assert c.teeth.mean() < white.mean()  # a little darker than the eyes
    assert c.teeth[0] >= c.teeth[1] >= c.teeth[2]
    dim = tint_from_photo(None, LIP, white * 0.5)
    assert dim.teeth.mean() < 0.6 * c.teeth.mean()  # exposure carries over
    grey = tint_from_photo(None, np.full((1, 3), 120.0), white)
    assert np.ptp(grey.teeth) < 1e-3 and np.ptp(grey.gum) < 1e-3 and np.ptp(grey.tongue) < 1e-3
    assert c.gum[0] > c.gum[2] and c.tongue[0] > c.tongue[1]  # pink, red: from the lips


def test_photo_teeth_win_when_the_photo_shows_them():
    dark = np.tile(np.array([[40.0, 30.0, 30.0]]), (70, 1))  # the opening's cavity ...
    bright = np.tile(np.array([[230.0, 225.0, 210.0]]), (30, 1))  # ... and its teeth
    c = tint_from_photo(np.concatenate([dark, bright]), LIP, np.array([200.0, 200.0, 200.0]))
    np.testing.assert_allclose(c.teeth, [230.0, 225.0, 210.0])


def test_contact_is_dark_at_the_lips_edge_and_in_slivers():
    mask = np.zeros((40, 80), np.float32)
    mask[10:30, 10:70] = 1.0
    shade = ms.contact_shade(mask, pixels_per_cm=20.0)
    cfg = MouthShadingConfig()
    assert shade[20, 40] > 0.99 and shade[10, 40] < cfg.contact_floor + 0.15
    sliver = np.zeros((40, 80), np.float32)
    sliver[20, 10:70] = 1.0
    assert ms.contact_shade(sliver, pixels_per_cm=20.0)[20, 40] < cfg.contact_floor + 0.05


@pytest.mark.parametrize("renderer", ["march", pytest.param("raster", marks=requires_opengl())])
def test_sealed_lips_show_no_light_seam(shared_data, tmp_path, renderer):
    """Lips pressed together (the seal of /p b m/, over the photo's own smile): where they meet,
    the inner mouth only darkens the lips, never lightens them (the mouth model before the 3D
    interior lit the seam by up to 6 levels on this face)."""
    from core.audio.motion import MotionParams
    from core.engine import Engine, FrameRequest
    from core.expression.natural import STILL
    from core.preprocess.pipeline import prepare
    from core.render.config import MouthConfig, MouthMaskConfig, RenderConfig

    subject = prepare(shared_data / "faces" / "pyfeat_single_face.jpg", cache_root=tmp_path).subject
    c = np.zeros(len(EXPRESSION_INDEX), np.float32)
    for name in ("mouthPressLeft", "mouthPressRight", "mouthClose"):
        c[EXPRESSION_INDEX[name]] = 1.0
    req = FrameRequest(size=384, coefficients=tuple(float(x) for x in c), mask_window=1,
                       motion=MotionParams(alpha_m=1.0), natural=STILL)
    with_mouth = Engine(subject, "cpu", renderer=renderer).render_frame(req)
    no_mouth = RenderConfig(mouth=MouthConfig(mask=MouthMaskConfig(threshold=2.0)))  # nothing passes the mask
    lips_only = Engine(subject, "cpu", renderer=renderer, config=no_mouth).render(req)
    seam = with_mouth.mouth_mask > 0.02
    assert seam.sum() > 50
    lighter = with_mouth.image.astype(float).mean(axis=2) - lips_only.astype(float).mean(axis=2)
    assert lighter[seam].max() <= 0.5, lighter[seam].max()


def test_eye_whites_are_found_beside_the_irises(face_model):
    """On a drawn face (skin, white eye openings, dark irises) the eye white is the openings'
    colour; eyes too small to resolve give None (the default off-white is used)."""
    from core.preprocess.mouth_colours import eye_white

    def face(scale: float) -> tuple[np.ndarray, np.ndarray]:
        uv = face_model.mean[:, :2] * scale + 200.0
        image = np.zeros((400, 400, 3), np.uint8)
        image[:] = (200, 150, 120)
        for up, low in ((topo.RIGHT_EYE_UPPER, topo.RIGHT_EYE_LOWER), (topo.LEFT_EYE_UPPER, topo.LEFT_EYE_LOWER)):
            poly = np.round(uv[list(up) + list(reversed(low))]).astype(np.int32)
            cv2.fillPoly(image, [poly], (235, 228, 222))
        for centre, ring in ((topo.RIGHT_IRIS_CENTER, topo.RIGHT_IRIS_RING), (topo.LEFT_IRIS_CENTER, topo.LEFT_IRIS_RING)):
            radius = np.linalg.norm(uv[list(ring)] - uv[centre], axis=1).mean()
            cv2.circle(image, tuple(int(round(c)) for c in uv[centre]), int(round(radius)), (60, 40, 30), -1)
        return image, uv

    image, uv = face(14.0)
    np.testing.assert_allclose(eye_white(image, uv), [235.0, 228.0, 222.0], atol=1.0)
    small, uv_small = face(3.0)
    assert eye_white(small, uv_small) is None


def test_a_brightly_lit_photo_lights_its_mouth_further_in(scene, face_model):
    """The interior's light follows the photo's: a face lit as the development webcam video's
    (the default skin) keeps the lighting as it is; a studio-bright face (skin L* about 80) gets
    more ambient light and light that reaches deeper (the tongue's back and the molars brighten
    most), while the unlit cavity stays as dark."""
    _, head = scene
    reference = tint_from_photo(None, LIP)
    bright = tint_from_photo(None, LIP, skin_rgb=np.array([227.0, 191.0, 166.0]))
    assert ms.photo_fill(reference.skin) == pytest.approx(1.0, abs=0.03)
    assert ms.photo_fill(bright.skin) > 1.5
    assert ms.photo_fill(np.full(3, 255.0)) == MouthShadingConfig().fill_limits[1]
    cam = front_camera(head)
    face = opened(face_model, 0.6)
    lit = {name: ms.MouthScene(head, face_model.jaw_weight, c).light(face, np.eye(3), np.zeros(3), cam)
           for name, c in (("reference", reference), ("bright", bright))}
    np.testing.assert_allclose(lit["bright"].cavity, lit["reference"].cavity)
    level = {k: v.colours.mean(axis=1) for k, v in lit.items()}
    sc = ms.MouthScene(head, face_model.jaw_weight, bright)
    v, n = sc.posed(face)
    m = sc.mesh.material
    deep = (m == ms.TONGUE) & (v[:, 2] > np.percentile(v[m == ms.TONGUE, 2], 60))
    front = (m == ms.TEETH) & (v[:, 2] < np.percentile(v[m == ms.TEETH, 2], 10))
    for part in (deep, front):
        assert level["bright"][part].mean() > 1.1 * level["reference"][part].mean()
    # The light alone (no cavity colour behind it): it reaches deeper, so the deep points gain most.
    eye = np.asarray(cam.position, np.float64)
    alone = {f: ms.shade(v, n, sc.albedo, sc.mesh.occlusion, m, face, eye, fill=f).mean(axis=1)
             for f in (1.0, sc.fill)}
    gain = {name: alone[sc.fill][part].mean() / alone[1.0][part].mean() for name, part in (("deep", deep), ("front", front))}
    assert gain["deep"] > 1.3 * gain["front"] > 1.3, gain


def test_skin_is_read_on_the_cheeks(face_model):
    from core.preprocess.mouth_colours import skin_colour

    uv = face_model.mean[:, :2] * 14.0 + 200.0
    image = np.zeros((400, 400, 3), np.uint8)
    image[:] = (40, 30, 20)  # hair, background
    hull = cv2.convexHull(np.round(uv).astype(np.int32))
    cv2.fillPoly(image, [hull], (210, 160, 130))
    np.testing.assert_allclose(skin_colour(image, uv), [210.0, 160.0, 130.0])
