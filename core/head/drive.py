"""Drive the fitted head with the face model's expression (paper Eq. 6, on mesh vertices).

Each head vertex takes the displacement of its closest point on the subject's FaceMesh surface
(barycentric weights into three of the 478 vertices), times a falloff that is 1 on and near the
face surface and reaches 0 a few centimetres away from it (so most of the scalp and the lower
neck stay still; ears and the back of the head never move). Around the mouth opening (the lips'
inner edges and the cavity behind them) a vertex follows the lip on its own side of the mouth
line instead, so the mouth opens without skin tearing across it. The lower teeth and the tongue
move rigidly with the jaw: the rotation and translation that best carry the jaw's FaceMesh points
(Kabsch); the upper teeth and the eyeballs belong to the skull.

    binding = expression_binding(head, subject.head_mesh, load_face_model().triangles)
    dv = model.displacement(beta) - model.displacement(subject.beta_init)   # [478, 3], head frame
    skin = head.vertices + binding.skin_displacement(dv)                    # [V, 3]
    teeth = binding.move_part("teeth_lower", head.parts["teeth_lower"][0], dv)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from core.face import topology as topo
from core.head import surface
from core.head.fit import FittedHead
from core.head.template import REGION_NAMES

UPPER_LIP = tuple(sorted(set(topo.LIP_INNER_UPPER + topo.LIP_OUTER_UPPER)))
LOWER_LIP = tuple(sorted(set(topo.LIP_INNER_LOWER + topo.LIP_OUTER_LOWER)))
INNER_LIPS = tuple(sorted(set(topo.LIP_INNER_UPPER + topo.LIP_INNER_LOWER)))
JAW_POINTS = topo.LIP_OUTER_LOWER[2:-2] + (152, 148, 176, 149, 150, 377, 400, 378, 379)
"""FaceMesh points on the jaw (lower lip's middle, chin and the jaw line beside it)."""


@dataclass(frozen=True)
class BindingConfig:
    """Falloffs (cm) of the expression and the parts that follow the jaw."""

    full_cm: float = 0.5  # up to this distance from the face surface the weight is 1
    zero_cm: float = 2.5  # from this distance on it is 0 (smoothstep in between)
    still_regions: tuple[str, ...] = ("ears", "back")  # regions that never follow the face
    # Mouth zone (vertices whose nearest FaceMesh point is an inner-lip point, and the cavity):
    # their 3 nearest points of their side's lip, by inverse distance, with this falloff.
    mouth_full_cm: float = 1.0
    mouth_zero_cm: float = 4.0
    jaw_parts: tuple[str, ...] = ("teeth_lower", "tongue")


@dataclass
class ExpressionBinding:
    """index:  int32   [V, 3]  FaceMesh vertices (of 478) each head vertex follows
    weight: float32 [V, 3]  their weights (rows sum to 0..1)
    rest:   float32 [478, 3] the FaceMesh mesh bound to (head frame, cm)
    jaw_points: int [J]     FaceMesh points whose rigid motion moves the jaw parts
    jaw_parts: names of the parts that move with the jaw (the others stay with the skull)
    """

    index: np.ndarray
    weight: np.ndarray
    rest: np.ndarray
    jaw_points: np.ndarray
    jaw_parts: tuple[str, ...]

    def skin_displacement(self, face_displacement: np.ndarray) -> np.ndarray:
        """FaceMesh vertex displacements [478, 3] (cm, head frame) -> head vertices' [V, 3]."""
        d = np.asarray(face_displacement, np.float32)
        return np.einsum("vk,vkd->vd", self.weight, d[self.index])

    def jaw_motion(self, face_displacement: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rigid motion (R [3, 3], t [3]) of the jaw: p -> R p + t (head frame, cm)."""
        src = self.rest[self.jaw_points].astype(np.float64)
        dst = src + np.asarray(face_displacement, np.float64)[self.jaw_points]
        _, r, t = surface.similarity(src, dst)  # scale ignored: a jaw does not grow
        t = dst.mean(axis=0) - r @ src.mean(axis=0)
        return r, t

    def move_part(self, name: str, vertices: np.ndarray, face_displacement: np.ndarray) -> np.ndarray:
        """Part ``name``'s vertices [n, 3] moved with the expression (jaw parts rigidly with the
        jaw; the others unchanged). Returns float32 [n, 3]."""
        if name not in self.jaw_parts:
            return np.asarray(vertices, np.float32)
        r, t = self.jaw_motion(face_displacement)
        return (np.asarray(vertices, np.float64) @ r.T + t).astype(np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _bind_mouth(head: FittedHead, face: np.ndarray, index: np.ndarray, weight: np.ndarray,
                config: BindingConfig) -> None:
    """Rebind (in place) the mouth zone to the lip of its side of the mouth line."""
    v = head.vertices.astype(np.float64)
    _, nearest = cKDTree(face[:topo.NUM_MESH_VERTICES]).query(v)
    inside = head.regions == REGION_NAMES.index("inside")
    mouth = np.flatnonzero(np.isin(nearest, INNER_LIPS) | (inside & np.isin(nearest, UPPER_LIP + LOWER_LIP)))
    line = 0.5 * (face[list(topo.LIP_INNER_UPPER)] + face[list(topo.LIP_INNER_LOWER)])
    order = np.argsort(line[:, 0])
    below = v[mouth, 1] > np.interp(v[mouth, 0], line[order, 0], line[order, 1])  # y is down
    for side, ids in ((~below, np.array(UPPER_LIP)), (below, np.array(LOWER_LIP))):
        sel = mouth[side]
        if not len(sel):
            continue
        dist, k = cKDTree(face[ids]).query(v[sel], k=3)
        w = 1.0 / np.maximum(dist, 1e-3)
        w /= w.sum(axis=1, keepdims=True)
        fall = 1.0 - _smoothstep((dist[:, 0] - config.mouth_full_cm)
                                 / (config.mouth_zero_cm - config.mouth_full_cm))
        index[sel] = ids[k]
        weight[sel] = w * fall[:, None]


def expression_binding(head: FittedHead, face_mesh_head: np.ndarray, face_triangles: np.ndarray,
                       config: BindingConfig = BindingConfig()) -> ExpressionBinding:
    """Bind each vertex of the fitted head to the subject's FaceMesh mesh ([478, 3], cm, head
    frame; the one the head was fitted to) whose triangles are ``face_triangles`` [F, 3]."""
    face = np.asarray(face_mesh_head, np.float64)
    tri, bary, dist = surface.closest_points(head.vertices, face, face_triangles)
    falloff = 1.0 - _smoothstep((dist - config.full_cm) / (config.zero_cm - config.full_cm))
    index = np.asarray(face_triangles)[tri].astype(np.int32)
    weight = bary * falloff[:, None]
    _bind_mouth(head, face, index, weight, config)
    weight[np.isin(head.regions, [REGION_NAMES.index(n) for n in config.still_regions])] = 0.0
    return ExpressionBinding(index, weight.astype(np.float32), face.astype(np.float32),
                             np.array(JAW_POINTS), config.jaw_parts)
