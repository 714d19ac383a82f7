"""The canonical representation and the 3D vertex-to-feature mapping."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from core.face import topology as topo
from core.preprocess.nn_mapping import _knn, displacement_grid
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
