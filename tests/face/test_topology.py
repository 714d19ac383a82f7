"""Named landmark constants agree with MediaPipe's own connection sets."""
from __future__ import annotations

import pytest

from core.face import topology as topo


def _edges(seq):
    return {tuple(sorted(p)) for p in zip(seq[:-1], seq[1:])}


def test_contours_match_mediapipe():
    conn = pytest.importorskip("mediapipe.python.solutions.face_mesh_connections")
    lips = {tuple(sorted(e)) for e in conn.FACEMESH_LIPS}
    for contour in (topo.LIP_OUTER_UPPER, topo.LIP_OUTER_LOWER, topo.LIP_INNER_UPPER, topo.LIP_INNER_LOWER):
        assert _edges(contour) <= lips
    left = {tuple(sorted(e)) for e in conn.FACEMESH_LEFT_EYE}
    right = {tuple(sorted(e)) for e in conn.FACEMESH_RIGHT_EYE}
    assert _edges(topo.LEFT_EYE_UPPER) | _edges(topo.LEFT_EYE_LOWER) == left
    assert _edges(topo.RIGHT_EYE_UPPER) | _edges(topo.RIGHT_EYE_LOWER) == right
    oval = {tuple(sorted(e)) for e in conn.FACEMESH_FACE_OVAL}
    assert _edges(topo.FACE_OVAL + topo.FACE_OVAL[:1]) == oval
    assert {i for e in conn.FACEMESH_LEFT_IRIS for i in e} == set(topo.LEFT_IRIS_RING)
    assert {i for e in conn.FACEMESH_RIGHT_IRIS for i in e} == set(topo.RIGHT_IRIS_RING)
