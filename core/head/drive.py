"""Drive the fitted head with the face model's expression (paper Eq. 6, on mesh vertices).

Each head vertex takes the displacement of its closest point on the subject's FaceMesh surface
(barycentric weights into three of the 478 vertices), times a falloff that is 1 on and near the
face surface and reaches 0 a few centimetres away from it (so most of the scalp and the lower neck
stay still; ears and the back of the head never move). Parts move rigidly with the mean displacement of FaceMesh points: the lower
teeth and the tongue with the lower inner lip and chin, the upper teeth and the eyeballs not at
all (they belong to the skull).

    binding = expression_binding(head, subject.head_mesh, load_face_model().triangles)
    dv = model.displacement(beta) - model.displacement(subject.beta_init)   # [478, 3], head frame
    skin = head.vertices + binding.skin_displacement(dv)                    # [V, 3]
    lower_teeth = head.parts["teeth_lower"][0] + binding.part_displacement("teeth_lower", dv)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.face import topology as topo
from core.head import surface
from core.head.fit import FittedHead


@dataclass(frozen=True)
class BindingConfig:
    """Falloff of the expression with the distance (cm) of a head vertex from the face surface."""

    full_cm: float = 0.5  # up to this distance the weight is 1
    zero_cm: float = 2.5  # from this distance on it is 0 (smoothstep in between)
    still_regions: tuple[str, ...] = ("ears", "back")  # regions that never follow the face
    jaw_points: tuple[int, ...] = topo.LIP_INNER_LOWER[1:-1] + (topo.CHIN,)  # lower teeth, tongue


@dataclass
class ExpressionBinding:
    """index:  int32   [V, 3]  FaceMesh vertices (of 478) each head vertex follows
    weight: float32 [V, 3]  their weights (barycentric x falloff; rows sum to 0..1)
    parts:  name -> float32 [478] weights whose dot with the FaceMesh displacement moves the
            part rigidly (all zeros for parts fixed to the skull)
    """

    index: np.ndarray
    weight: np.ndarray
    parts: dict[str, np.ndarray]

    def skin_displacement(self, face_displacement: np.ndarray) -> np.ndarray:
        """FaceMesh vertex displacements [478, 3] (cm, head frame) -> head vertices' [V, 3]."""
        d = np.asarray(face_displacement, np.float32)
        return np.einsum("vk,vkd->vd", self.weight, d[self.index])

    def part_displacement(self, name: str, face_displacement: np.ndarray) -> np.ndarray:
        """The rigid translation [3] (cm) of part ``name`` for FaceMesh displacements [478, 3]."""
        return self.parts[name] @ np.asarray(face_displacement, np.float32)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def expression_binding(head: FittedHead, face_mesh_head: np.ndarray, face_triangles: np.ndarray,
                       config: BindingConfig = BindingConfig()) -> ExpressionBinding:
    """Bind each vertex of the fitted head to the subject's FaceMesh mesh ([478, 3], cm, head
    frame; the one the head was fitted to) whose triangles are ``face_triangles`` [F, 3]."""
    from core.head.template import REGION_NAMES

    tri, bary, dist = surface.closest_points(head.vertices, face_mesh_head, face_triangles)
    falloff = 1.0 - _smoothstep((dist - config.full_cm) / (config.zero_cm - config.full_cm))
    falloff[np.isin(head.regions, [REGION_NAMES.index(n) for n in config.still_regions])] = 0.0
    index = np.asarray(face_triangles)[tri].astype(np.int32)
    weight = (bary * falloff[:, None]).astype(np.float32)
    jaw = np.zeros(topo.NUM_LANDMARKS, np.float32)
    jaw[list(config.jaw_points)] = 1.0 / len(config.jaw_points)
    zero = np.zeros(topo.NUM_LANDMARKS, np.float32)
    parts = {name: (jaw if name in ("teeth_lower", "tongue") else zero) for name in head.parts}
    return ExpressionBinding(index, weight, parts)
