"""The head template: the head-and-neck part of the MakeHuman hm08 base mesh (CC0), with its
eyeballs, teeth and tongue, joints, modelling targets, region labels and the correspondence of
our 478 FaceMesh points to its surface.

Every position is in the head frame of ``core.face.basis_builder`` (cm; x toward the subject's
left, y down, z into the head), placed on our face model's mean face by a similarity (so the
template's face sits where ``load_face_model().mean`` is). Built by
``python tools/build_head_template.py``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

TEMPLATE_FILE = Path(__file__).resolve().parents[2] / "assets" / "makehuman" / "head_template.npz"
REGION_NAMES = ("face", "scalp", "ears", "neck", "back", "inside")
"""Region label values: index into this tuple ("back" is the back of the head; "inside" the
hidden skin behind the face surface: mouth cavity, nostrils, eye sockets)."""
PART_NAMES = ("eye_left", "eye_right", "teeth_upper", "teeth_lower", "tongue")
JOINT_NAMES = ("head", "neck", "jaw", "eye_left", "eye_right")


@dataclass(frozen=True)
class PartMesh:
    """A helper mesh (eyeball, teeth, tongue) of the template.

    vertices:  float32 [n, 3]     cm, head frame
    triangles: int32   [m, 3]     indices into ``vertices`` (outward, counter-clockwise)
    deltas:    float32 [T, n, 3]  the template's modelling targets on these vertices, cm
    """

    vertices: np.ndarray
    triangles: np.ndarray
    deltas: np.ndarray


@dataclass(frozen=True, eq=False)
class HeadTemplate:
    """The stored template (hashed by identity, so fits can cache per template).

    vertices:     float32 [V, 3]     skin of head, ears and neck, cm, head frame
    triangles:    int32   [F, 3]     closed surface except the neck cut (counter-clockwise seen
                                     from outside)
    regions:      uint8   [V]        index into REGION_NAMES
    landmark_triangle:    int32   [478]    template triangle of each FaceMesh point
    landmark_barycentric: float32 [478, 3] its barycentric weights in that triangle
    landmark_fit_distance: float32 [478]   cm, FaceMesh mean point to the template surface after
                                           the build-time non-rigid fit (correspondence quality)
    target_names: T names "folder/target" of MakeHuman modelling targets
    target_lower: float32 [T]        lower bound of each weight (-1 for an incr/decr pair, whose
                                     direction is (incr - decr) / 2, else 0); upper bound is 1
    target_deltas: float32 [T, V, 3] cm per unit weight
    parts:        PartMesh per name in PART_NAMES
    joints:       float32 [3] per name in JOINT_NAMES (MakeHuman rig joints: head = the head
                  bone's pivot at the skull base, neck = the neck bone's lower end, jaw = the jaw
                  bone's pivot, eye_* = eyeball centres), cm
    source_vertex: int32 [V]         hm08 vertex index of each template vertex
    """

    vertices: np.ndarray
    triangles: np.ndarray
    regions: np.ndarray
    landmark_triangle: np.ndarray
    landmark_barycentric: np.ndarray
    landmark_fit_distance: np.ndarray
    target_names: tuple[str, ...]
    target_lower: np.ndarray
    target_deltas: np.ndarray
    parts: dict[str, PartMesh]
    joints: dict[str, np.ndarray]
    source_vertex: np.ndarray

    @property
    def num_vertices(self) -> int:
        return len(self.vertices)

    def region_mask(self, name: str) -> np.ndarray:
        """Bool [V]: vertices labelled ``name`` (one of REGION_NAMES)."""
        return self.regions == REGION_NAMES.index(name)

    def landmark_points(self, vertices: np.ndarray | None = None) -> np.ndarray:
        """The 478 FaceMesh points on the template surface (or on ``vertices`` [V, 3] of the
        same topology). Returns float64 [478, 3], cm."""
        v = self.vertices if vertices is None else vertices
        corners = np.asarray(v, np.float64)[self.triangles[self.landmark_triangle]]
        return np.einsum("nk,nkd->nd", self.landmark_barycentric.astype(np.float64), corners)


@lru_cache(maxsize=2)
def load_head_template(path: Path = TEMPLATE_FILE) -> HeadTemplate:
    """Load the stored template (built by ``tools/build_head_template.py``)."""
    with np.load(path, allow_pickle=False) as d:
        parts = {n: PartMesh(d[f"part_{n}_vertices"], d[f"part_{n}_triangles"],
                             d[f"part_{n}_deltas"].astype(np.float32)) for n in PART_NAMES}
        return HeadTemplate(
            vertices=d["vertices"], triangles=d["triangles"], regions=d["regions"],
            landmark_triangle=d["landmark_triangle"], landmark_barycentric=d["landmark_barycentric"],
            landmark_fit_distance=d["landmark_fit_distance"],
            target_names=tuple(str(n) for n in d["target_names"]), target_lower=d["target_lower"],
            target_deltas=d["target_deltas"].astype(np.float32), parts=parts,
            joints={n: d[f"joint_{n}"] for n in JOINT_NAMES}, source_vertex=d["source_vertex"],
        )
