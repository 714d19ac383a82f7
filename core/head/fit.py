"""Fit the head template to one subject's FaceMesh-topology mesh.

``fit_head(template, face_mesh_head)``: (1) a similarity from the template's 478 corresponded
points to the subject's mesh, (2) MakeHuman identity target weights by bounded, ridge-regularised
least squares on those points, (3) a smooth displacement (bi-Laplacian regularised, solved with
scipy.sparse) that brings the corresponded points onto the subject's mesh while the skull, ears
and neck follow smoothly; hidden skin (region "inside") takes the displacement of the nearest
face-surface vertices; (4) optionally, the cranium is scaled toward the person matte
(``core.head.silhouette``). Eyeballs, teeth and tongue move rigidly with the fit (by the mean
displacement at the FaceMesh points of their lids or lips), the head and neck joints by that of
the skin vertices nearest to them.

``fit_subject_head(subject)`` does this for a prepared ``Subject``.

All positions: head frame of ``core.face.basis_builder`` (cm; x subject's left, y down, z into
the head).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.optimize import lsq_linear
from scipy.spatial import cKDTree

from core.face import topology as topo
from core.head import surface
from core.head.silhouette import Silhouette, SilhouetteConfig, fit_cranium
from core.head.template import REGION_NAMES, HeadTemplate


@dataclass(frozen=True)
class HeadFitConfig:
    """Constants of the fit (units: cm unless stated)."""

    iris_weight: float = 0.0  # weight of the 10 iris points (they sit on the eyeball, not skin)
    inner_lip_weight: float = 0.5  # inner-lip points: the template's mouth is closed
    target_ridge: float = 0.05  # ridge on target weights, relative to the data term's scale
    target_rounds: int = 2  # alternations of similarity and target weights
    stiffness: float = 5.0  # weight of |L d|^2 (bi-Laplacian smoothness of the displacement)
    anchor: float = 1e-4  # weight of |d|^2 (keeps far vertices in place; makes the system definite)
    follow_neighbours: int = 24  # skin vertices whose mean displacement moves the head/neck joints
    inside_neighbours: int = 4  # face vertices whose mean displacement an "inside" vertex takes


# FaceMesh points whose mean displacement moves each part rigidly (eyeballs follow their lids,
# teeth and tongue the inner lips, so the refinement cannot push lips through the teeth).
PART_FOLLOWS = {
    "eye_left": topo.LEFT_EYE_UPPER + topo.LEFT_EYE_LOWER,
    "eye_right": topo.RIGHT_EYE_UPPER + topo.RIGHT_EYE_LOWER,
    "teeth_upper": topo.LIP_INNER_UPPER,
    "teeth_lower": topo.LIP_INNER_LOWER,
    "tongue": topo.LIP_INNER_UPPER + topo.LIP_INNER_LOWER,
}


@dataclass
class FittedHead:
    """The template fitted to one subject (head frame, cm).

    vertices:        float32 [V, 3]  skin of head, ears and neck
    triangles:       int32   [F, 3]  (the template's)
    regions:         uint8   [V]     index into core.head.template.REGION_NAMES
    parts:           name -> (vertices float32 [n, 3], triangles int32 [m, 3]) for eye_left,
                     eye_right, teeth_upper, teeth_lower, tongue
    joints:          name -> float32 [3] for head, neck, jaw, eye_left, eye_right
    target_weights:  float32 [T]     MakeHuman target weights (template.target_names order)
    scale, rotation, translation:    the similarity template -> subject (float, [3, 3], [3])
    landmark_residual: float32 [478] distance of each corresponded template point to the
                     subject's point after the fit, cm (iris points are not fitted)
    notes:           what the optional steps did (e.g. the cranium's scale ratios)
    """

    vertices: np.ndarray
    triangles: np.ndarray
    regions: np.ndarray
    parts: dict[str, tuple[np.ndarray, np.ndarray]]
    joints: dict[str, np.ndarray]
    target_weights: np.ndarray
    scale: float
    rotation: np.ndarray
    translation: np.ndarray
    landmark_residual: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def residual_cm(self) -> tuple[float, float]:
        """(mean, max) landmark residual over the 468 skin points, cm."""
        r = self.landmark_residual[:topo.NUM_MESH_VERTICES]
        return float(r.mean()), float(r.max())


def landmark_weights(config: HeadFitConfig) -> np.ndarray:
    """Per-FaceMesh-point weight of the data terms, float64 [478]."""
    w = np.ones(topo.NUM_LANDMARKS)
    w[topo.NUM_MESH_VERTICES:] = config.iris_weight
    w[list(topo.LIP_INNER_UPPER[1:-1] + topo.LIP_INNER_LOWER[1:-1])] = config.inner_lip_weight
    return w


@lru_cache(maxsize=4)
def _solver(template: HeadTemplate, config: HeadFitConfig):
    """(landmark matrix B [478, V], factorised system of the displacement solve, "inside"
    vertex ids [I], their face-surface neighbours [I, k], the targets at the landmarks
    [T, 478, 3]). All depend only on the template and
    the config, so they are shared by every subject."""
    v = template.num_vertices
    b = surface.barycentric_matrix(v, template.triangles, template.landmark_triangle,
                                   template.landmark_barycentric)
    lap = surface.graph_laplacian(v, template.triangles)
    w = sp.diags(landmark_weights(config))
    a = b.T @ w @ b + config.stiffness * (lap.T @ lap) + config.anchor * sp.identity(v)
    # Hidden skin (mouth cavity, nostrils, eye sockets) takes the refinement's displacement of
    # the nearest face-surface vertices, so it keeps its depth behind the lips and lids.
    inside = np.flatnonzero(template.regions == REGION_NAMES.index("inside"))
    surface_idx = np.flatnonzero(template.regions == REGION_NAMES.index("face"))
    _, near = cKDTree(template.vertices[surface_idx]).query(template.vertices[inside],
                                                            k=config.inside_neighbours)
    at_landmarks = np.stack([b @ d for d in template.target_deltas])  # [T, 478, 3]
    return (b, spla.splu(a.tocsc()), inside, surface_idx[near.reshape(len(inside), -1)],
            at_landmarks)


def _fit_targets(template: HeadTemplate, base: np.ndarray, goal: np.ndarray, s: float,
                 r: np.ndarray, w: np.ndarray, config: HeadFitConfig) -> np.ndarray:
    """Bounded ridge least squares for the target weights. base/goal: [478, 3] landmark points
    (the similarity-placed template and the subject). Returns float64 [T]."""
    at_lm = _solver(template, config)[4]
    a = (s * at_lm @ r.T) * np.sqrt(w)[None, :, None]
    a = a.reshape(len(at_lm), -1).T
    rhs = ((goal - base) * np.sqrt(w)[:, None]).ravel()
    ridge = np.sqrt(config.target_ridge * np.mean(np.sum(a * a, axis=0)))
    a_aug = np.vstack([a, ridge * np.eye(len(at_lm))])
    rhs_aug = np.r_[rhs, np.zeros(len(at_lm))]
    res = lsq_linear(a_aug, rhs_aug, bounds=(template.target_lower.astype(np.float64), 1.0),
                     method="bvls")
    return res.x


def fit_head(template: HeadTemplate, face_mesh_head: np.ndarray,
             config: HeadFitConfig = HeadFitConfig(), silhouette: Silhouette | None = None,
             silhouette_config: SilhouetteConfig = SilhouetteConfig()) -> FittedHead:
    """Fit the template to ``face_mesh_head`` (float [478, 3], cm, head frame: the subject's
    FaceMesh-topology mesh, ``Subject.head_mesh``). With a ``silhouette`` (the person matte and
    camera, ``Silhouette.from_subject(subject)``) the cranium is then scaled toward the matte
    (``core.head.silhouette``). Deterministic."""
    goal = np.asarray(face_mesh_head, np.float64)
    assert goal.shape == (topo.NUM_LANDMARKS, 3), goal.shape
    b, solve, inside, inside_from, at_lm = _solver(template, config)
    w = landmark_weights(config)
    rest = template.vertices.astype(np.float64)
    weights = np.zeros(len(template.target_names))
    rest_lm = b @ rest
    for _ in range(config.target_rounds):
        s, r, t = surface.similarity(rest_lm + np.tensordot(weights, at_lm, axes=1), goal, w)
        weights = _fit_targets(template, s * rest_lm @ r.T + t, goal, s, r, w, config)
    shaped_rest = rest + np.tensordot(weights, template.target_deltas, axes=1)
    shaped = s * shaped_rest @ r.T + t
    disp = solve.solve(b.T @ ((goal - b @ shaped) * w[:, None]))
    disp[inside] = disp[inside_from].mean(axis=1)
    vertices = shaped + disp
    notes = []
    if silhouette is not None:
        vertices, ratios = fit_cranium(vertices, template.triangles, template.regions, goal,
                                       silhouette, silhouette_config)
        notes.append("cranium scaled to the matte: "
                     + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    residual = np.linalg.norm(b @ vertices - goal, axis=1)

    tree = cKDTree(shaped)

    def follow(points: np.ndarray) -> np.ndarray:
        """Mean displacement of the skin vertices nearest to the centroid of points [n, 3]."""
        _, idx = tree.query(points.mean(axis=0), k=config.follow_neighbours)
        return disp[idx].mean(axis=0)

    disp_at_landmarks = b @ disp  # [478, 3]
    parts = {}
    for name, part in template.parts.items():
        pv = s * (part.vertices + np.tensordot(weights, part.deltas, axes=1)) @ r.T + t
        shift = disp_at_landmarks[list(PART_FOLLOWS[name])].mean(axis=0)
        parts[name] = ((pv + shift).astype(np.float32), part.triangles)
    joints = {}
    for name, p in template.joints.items():
        if name.startswith("eye_"):  # eyeball centre: the moved eyeball's centre
            jp = parts[name][0].mean(axis=0)
        else:
            jp = s * np.asarray(p, np.float64) @ r.T + t
            jp = jp + follow(jp[None])
        joints[name] = np.asarray(jp, np.float32)
    return FittedHead(vertices.astype(np.float32), template.triangles, template.regions, parts,
                      joints, weights.astype(np.float32), float(s), r, t,
                      residual.astype(np.float32), notes)


def fit_subject_head(subject, use_silhouette: bool = False, config: HeadFitConfig = HeadFitConfig(),
                     template: HeadTemplate | None = None) -> FittedHead:
    """The head of a prepared ``core.preprocess.subject.Subject`` (its ``head_mesh``; with
    ``use_silhouette`` also its person matte and camera)."""
    from core.head.template import load_head_template

    sil = Silhouette.from_subject(subject) if use_silhouette else None
    return fit_head(template or load_head_template(), subject.head_mesh, config, silhouette=sil)
