"""The rule-built expression basis does what its ARKit names say."""
from __future__ import annotations

import numpy as np
import pytest

from core.face import topology as topo
from core.face.arkit import EXPRESSION_NAMES
from core.face.basis_builder import mirror_field

REQUIRED = [
    "jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight",
    "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft",
    "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight", "mouthRollLower", "mouthRollUpper",
    "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft",
    "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight", "eyeBlinkLeft", "eyeBlinkRight",
    "browInnerUp",
]


def shaped(model, **coeffs):
    beta = np.zeros(model.num_expressions, np.float32)
    for name, value in coeffs.items():
        beta[model.names.index(name)] = value
    return model.shape(beta)


def face_height(v):
    return float(np.linalg.norm(v[topo.FOREHEAD] - v[topo.CHIN]))


def lip_gap(v):
    return float(v[topo.LOWER_LIP_INNER_MID, 1] - v[topo.UPPER_LIP_INNER_MID, 1])


def mouth_width(v):
    return float(np.linalg.norm(v[topo.MOUTH_CORNER_LEFT] - v[topo.MOUTH_CORNER_RIGHT]))


def test_every_required_shape_is_present(face_model):
    assert set(REQUIRED) <= set(face_model.names)
    assert face_model.names == EXPRESSION_NAMES
    assert face_model.basis.shape == (len(EXPRESSION_NAMES), topo.NUM_LANDMARKS, 3)
    for name in REQUIRED:
        assert np.abs(face_model.basis[face_model.names.index(name)]).max() > 0.1, name


def test_jaw_open_opens_the_lips(face_model):
    neutral = face_model.mean
    opened = shaped(face_model, jawOpen=1.0)
    gain = (lip_gap(opened) - lip_gap(neutral)) / face_height(neutral)
    assert gain > 0.10, f"inner-lip gap grew by only {gain:.1%} of face height"
    assert lip_gap(shaped(face_model, jawOpen=0.5)) < lip_gap(opened)
    # The chin moves down, the nose does not.
    assert opened[topo.CHIN, 1] - neutral[topo.CHIN, 1] > 1.0
    assert np.abs(opened[topo.NOSE_TIP] - neutral[topo.NOSE_TIP]).max() < 1e-3


def test_mouth_close_seals_an_open_jaw(face_model):
    open_gap = lip_gap(shaped(face_model, jawOpen=1.0))
    sealed_gap = lip_gap(shaped(face_model, jawOpen=1.0, mouthClose=1.0))
    assert sealed_gap < 0.25 * open_gap


def test_pucker_and_funnel_narrow_the_mouth_smile_and_stretch_widen_it(face_model):
    w0 = mouth_width(face_model.mean)
    assert mouth_width(shaped(face_model, mouthPucker=1.0)) < 0.85 * w0
    assert mouth_width(shaped(face_model, mouthFunnel=1.0)) < 0.95 * w0
    assert mouth_width(shaped(face_model, mouthSmileLeft=1.0, mouthSmileRight=1.0)) > 1.1 * w0
    assert mouth_width(shaped(face_model, mouthStretchLeft=1.0, mouthStretchRight=1.0)) > 1.1 * w0
    # Funnel opens the lips into a round shape; pucker pushes them forward.
    assert lip_gap(shaped(face_model, mouthFunnel=1.0)) > lip_gap(face_model.mean) + 0.3
    assert (shaped(face_model, mouthPucker=1.0)[topo.UPPER_LIP_INNER_MID, 2]
            < face_model.mean[topo.UPPER_LIP_INNER_MID, 2] - 0.3)


def test_smile_raises_its_own_corner_only(face_model):
    v = shaped(face_model, mouthSmileLeft=1.0)
    m = face_model.mean
    assert v[topo.MOUTH_CORNER_LEFT, 1] < m[topo.MOUTH_CORNER_LEFT, 1] - 0.5  # y is down
    assert abs(v[topo.MOUTH_CORNER_RIGHT, 1] - m[topo.MOUTH_CORNER_RIGHT, 1]) < 0.05
    # Subject's left is +x in the head frame.
    assert m[topo.MOUTH_CORNER_LEFT, 0] > 0


def test_eye_blink_closes_its_eyelid(face_model):
    m = face_model.mean
    for side, upper, lower, other_upper, other_lower in (
        ("Left", topo.LEFT_EYE_UPPER_MID, topo.LEFT_EYE_LOWER_MID, topo.RIGHT_EYE_UPPER_MID, topo.RIGHT_EYE_LOWER_MID),
        ("Right", topo.RIGHT_EYE_UPPER_MID, topo.RIGHT_EYE_LOWER_MID, topo.LEFT_EYE_UPPER_MID, topo.LEFT_EYE_LOWER_MID),
    ):
        v = shaped(face_model, **{f"eyeBlink{side}": 1.0})
        gap0 = m[lower, 1] - m[upper, 1]
        assert v[lower, 1] - v[upper, 1] < 0.15 * gap0
        assert abs((v[other_lower, 1] - v[other_upper, 1]) - (m[other_lower, 1] - m[other_upper, 1])) < 1e-4


def test_left_and_right_shapes_mirror_each_other(face_model):
    pairs = [n[:-4] for n in face_model.names if n.endswith("Left")]
    assert len(pairs) >= 10
    for base in pairs:
        left = face_model.basis[face_model.names.index(base + "Left")]
        right = face_model.basis[face_model.names.index(base + "Right")]
        np.testing.assert_allclose(mirror_field(left, face_model.mirror), right, atol=1e-5, err_msg=base)
        assert not np.allclose(left, right), base


def test_shapes_leave_far_regions_still(face_model):
    m = face_model.mean
    forehead = m[:, 1] < m[topo.LEFT_BROW_UPPER[2], 1] - 1.0  # well above the brows
    mouth_area = np.linalg.norm(m - m[topo.LOWER_LIP_INNER_MID], axis=1) < 2.5
    assert forehead.sum() > 10 and mouth_area.sum() > 20
    for k, name in enumerate(face_model.names):
        disp = np.linalg.norm(face_model.basis[k], axis=1)
        if name.startswith(("jaw", "mouth", "cheek")):
            assert disp[forehead].max() < 0.02, name
        if name.startswith(("eye", "brow")):
            assert disp[mouth_area].max() < 0.02, name


def test_stored_model_matches_the_builder(face_model):
    pytest.importorskip("mediapipe")
    from core.face.basis_builder import build_face_model
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    rebuilt = build_face_model({tuple(sorted(e)) for e in FACEMESH_TESSELATION})
    np.testing.assert_allclose(rebuilt["basis"], face_model.basis, atol=1e-6)
    np.testing.assert_allclose(rebuilt["mean"], face_model.mean, atol=1e-6)
    np.testing.assert_array_equal(rebuilt["triangles"], face_model.triangles)
