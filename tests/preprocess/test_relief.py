"""The canonical representation and the 3D vertex-to-feature mapping."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from core.face import topology as topo
from core.preprocess.nn_mapping import _knn, _knn_tree, build_mapping, displacement_grid
from core.preprocess.relief import _membrane


def test_face_depth_follows_the_fitted_mesh(sample_subject):
    s = sample_subject
    depth = s.relief.depth
    scale = depth.shape[1] / s.intrinsics.width
    uv = s.intrinsics.project(s.mesh.astype(np.float64)) * scale
    for idx in (topo.NOSE_TIP, topo.CHIN, topo.FOREHEAD, topo.MOUTH_CORNER_LEFT):
        u, v = np.round(uv[idx]).astype(int)
        assert abs(depth[v, u] - s.mesh[idx, 2]) < 1.0, idx
    # The nose is in front of the cheeks, the person in front of the background plane.
    nose_u, nose_v = np.round(uv[topo.NOSE_TIP]).astype(int)
    assert depth[nose_v, nose_u] < s.mesh[topo.FACE_OVAL, 2].mean()
    person = s.relief.alpha[:: int(1 / scale), :: int(1 / scale)][: depth.shape[0], : depth.shape[1]] > 0.5
    assert depth[person].max() < s.relief.background_depth


def test_open_smile_is_removed_from_the_appearance(sample_subject):
    r = sample_subject.relief
    assert r.mouth_mask.sum() > 50  # the sample shows her teeth
    teeth = r.appearance[r.mouth_mask].astype(float)
    assert teeth.mean() < 200  # no bright white teeth left in the canonical appearance


def test_membrane_respects_its_boundaries():
    person = np.zeros((20, 20), bool)
    person[2:18, 2:18] = True
    fixed = np.zeros_like(person)
    fixed[9:11, 9:11] = True
    z = _membrane(person, fixed, np.where(fixed, 10.0, 0.0), edge_value=20.0)
    assert np.allclose(z[fixed], 10.0) and np.allclose(z[~person], 20.0)
    inner = person & ~fixed
    assert (z[inner] > 10.0).all() and (z[inner] < 20.0).all()


def test_knn_matches_brute_force():
    rng = np.random.default_rng(3)
    pts = torch.from_numpy(rng.normal(size=(500, 3))).float()
    verts = torch.from_numpy(rng.normal(size=(40, 3))).float()
    d, i = _knn(pts, verts, 4, chunk=128)
    brute = np.linalg.norm(pts.numpy()[:, None] - verts.numpy()[None], axis=-1)
    ref = np.sort(brute, axis=1)[:, :4]
    np.testing.assert_allclose(d.numpy(), ref, atol=1e-5)
    np.testing.assert_array_equal(i.numpy()[:, 0], brute.argmin(axis=1))


def test_tree_knn_matches_the_exhaustive_search():
    rng = np.random.default_rng(4)
    pts = torch.from_numpy(rng.normal(size=(2000, 3))).float()
    verts = torch.from_numpy(rng.normal(size=(300, 3))).float()
    d, i = _knn(pts, verts, 4, chunk=512)
    dt, it = _knn_tree(pts, verts, 4)
    np.testing.assert_allclose(dt.numpy(), d.numpy(), atol=1e-5)
    np.testing.assert_array_equal(it.numpy(), i.numpy())


def test_tree_mapping_matches_the_exhaustive_mapping(sample_subject, face_model):
    """The subject's mapping through the k-d tree (the default) against the exhaustive search:
    the displacements it carries agree to float16 rounding of the weights."""
    head = sample_subject.head_mesh
    tree = build_mapping(head, face_model)
    plain = build_mapping(head, face_model, exhaustive=True)
    jaw = face_model.basis[face_model.names.index("jawOpen")]
    for side in ("upper", "lower"):
        a = displacement_grid(getattr(tree, f"{side}_index"), getattr(tree, f"{side}_weight"), jaw)
        b = displacement_grid(getattr(plain, f"{side}_index"), getattr(plain, f"{side}_weight"), jaw)
        assert np.abs(a - b).max() < 2e-3 * np.abs(jaw).max(), side
        assert (getattr(tree, f"{side}_index") == getattr(plain, f"{side}_index")).mean() > 0.999


def test_mapping_carries_jaw_motion_and_leaves_far_points_still(sample_subject, face_model):
    s = sample_subject
    m = s.mapping
    head = s.head_mesh
    jaw = face_model.basis[face_model.names.index("jawOpen")]
    points = m.grid_points()
    lower = displacement_grid(m.lower_index, m.lower_weight, jaw)
    upper = displacement_grid(m.upper_index, m.upper_weight, jaw)
    dist = np.linalg.norm(points[:, None] - head[None], axis=-1).min(axis=1)
    assert np.abs(lower[dist > 3.0]).max() == 0 and np.abs(upper[dist > 3.0]).max() == 0
    # Grid points at the chin move with the jaw; points at the nose do not.
    def nearest(p):
        return np.argmin(np.linalg.norm(points - p, axis=1))
    chin = nearest(head[topo.CHIN])
    nose = nearest(head[topo.NOSE_TIP])
    assert np.linalg.norm(lower[chin]) > 1.0
    assert np.linalg.norm(upper[nose]) < 0.05
    # Upper and lower lip take their own side's motion (the lips part instead of smearing).
    upper_lip = nearest(head[topo.UPPER_LIP_INNER_MID])
    lower_lip = nearest(head[topo.LOWER_LIP_INNER_MID])
    assert np.linalg.norm(upper[upper_lip]) < 0.3 * np.linalg.norm(jaw[topo.LOWER_LIP_INNER_MID])
    assert np.linalg.norm(lower[lower_lip]) > 0.7 * np.linalg.norm(jaw[topo.LOWER_LIP_INNER_MID])


def test_hair_over_the_skull_lies_on_the_fitted_head(sample_subject):
    """Above the face the relief follows the fitted whole head (hair over the skull) instead of a
    membrane bulged toward the camera: turned views see a head's shape there, and the head layer
    continues it past the photo's frame without a step."""
    from core.head.fit import fit_subject_head
    from core.head.template import REGION_NAMES
    from core.preprocess.config import ReliefConfig
    from core.preprocess.relief import HeadShell

    s = sample_subject
    head = fit_subject_head(s)
    world = head.vertices.astype(np.float64) @ np.asarray(s.rotation, np.float64).T + s.translation
    scalp = head.regions == REGION_NAMES.index("scalp")
    depth = s.relief.depth
    scale = depth.shape[1] / s.intrinsics.width
    shell = HeadShell(world, head.triangles[scalp[head.triangles].all(axis=1)]).raster(
        s.intrinsics, scale, depth.shape[1], depth.shape[0])
    person = cv2_resize(s.relief.alpha, depth.shape) > 0.5
    # Well inside the scalp's outline (its rim is smoothed into the hair beyond it).
    inner = ndimage_erode(shell.covered & person, 6)
    assert inner.sum() > 200
    offset = ReliefConfig().shell_offset_cm
    gap = depth[inner] - (shell.depth[inner] - offset)
    assert np.median(np.abs(gap)) < 0.5 and np.percentile(np.abs(gap), 90) < 1.5, np.percentile(np.abs(gap), [50, 90])


def cv2_resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    import cv2

    return cv2.resize(image.astype(np.float32), (shape[1], shape[0]), interpolation=cv2.INTER_AREA)


def ndimage_erode(mask: np.ndarray, radius: int) -> np.ndarray:
    import cv2

    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    return cv2.erode(mask.astype(np.uint8), kernel) > 0


def test_person_colour_at_the_soft_edge_gives_the_photo_back_over_its_background():
    """At the matte's soft edge a photo pixel mixes the person with the background; the relief
    keeps the person's own colour, so that drawn with alpha over the background layer it gives
    the photo back, and seen from the side it shows no halo of the background's colour."""
    from core.preprocess.relief import foreground_colours

    h, w = 40, 60
    person = np.zeros((h, w, 3), np.float32)
    person[...] = (180.0, 120.0, 90.0)
    background = np.zeros((h, w, 3), np.float32)
    background[...] = (40.0, 90.0, 220.0)
    alpha = np.tile(np.clip(np.linspace(1.4, -0.4, w), 0.0, 1.0), (h, 1)).astype(np.float32)
    photo = alpha[..., None] * person + (1 - alpha[..., None]) * background
    rgb = np.clip(photo + 0.5, 0, 255).astype(np.uint8)
    out = foreground_colours(rgb, alpha, background.astype(np.uint8)).astype(np.float32)
    solid = alpha >= 1.0
    assert np.array_equal(out[solid], rgb[solid].astype(np.float32))
    soft = (alpha > 0.05) & (alpha < 1.0)
    assert np.abs(out[soft] - person[soft]).max() < 3.0  # the person's colour, not the blue mix
    again = alpha[..., None] * out + (1 - alpha[..., None]) * background
    assert np.abs(again - photo)[alpha >= 0.3].max() < 2.0

def test_the_mouth_opening_lies_between_the_lips_not_in_front(sample_subject):
    """The relief across the photo's open smile follows the lips' depth: a bulge in front of them
    would hide the inner mouth (the compositor treats nearer surfaces as occluders) and show the
    filled opening as a flat lip-coloured blob."""
    s = sample_subject
    depth = s.relief.depth
    scale = depth.shape[1] / s.intrinsics.width
    mouth = cv2.resize(s.relief.mouth_mask.astype(np.uint8), depth.shape[::-1], interpolation=cv2.INTER_NEAREST) > 0
    mouth = cv2.erode(mouth.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0  # inside the inner lips
    assert mouth.sum() > 20 and scale > 0
    lips = s.mesh[list(topo.inner_lip_polygon()), 2]
    assert depth[mouth].min() > lips.min() - 0.1
    assert depth[mouth].max() < lips.max() + 0.1
