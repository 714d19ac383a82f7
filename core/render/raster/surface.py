"""The person mesh of one frame: canonical vertices moved by the audio-driven deformation.

Eq. 7 reads the canonical feature field at p + dp(p) for every ray sample. A mesh turns this
around: each canonical vertex c moves forward by the displacement the cached 3D nearest-neighbour
mapping carries to it (Eq. 6), c + sum_j w_j dV[idx_j] = c - dp(c), and keeps its canonical
point for the colour lookup. Which side of the mouth a vertex follows (skull or jaw) is decided by the
canonical mouth line, since vertices are canonical points; so every vertex's displacement is a
fixed linear function of the face mesh's vertex displacements dV, and the whole mapping (grid
trilinear weights, NN weights of both sides, the side switch) folds into one sparse matrix
[V, 478] per subject. ``ReferenceMesh`` computes the same through the deformer's grid fields.

The photo's own mouth opening (teeth or cavity, filled with lip colour in the appearance) has no
face-mesh vertices of its own, so the nearest-vertex mapping moves it with whichever lip is
nearer: when the lips seal, each half slides past the other lip and shows as a band over it.
Vertices there instead keep their place between the two inner lips (``MouthOpening``): they
stretch with an opening mouth and collapse onto the lips' seam when the lips meet.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse
import torch

from core.face import topology as topo
from core.geometry.pinhole import Intrinsics
from core.render.deformation import Deformer, FrameDeformation


@dataclasses.dataclass(frozen=True)
class MouthOpeningConfig:
    """Where the photo's mouth opening follows the inner lips (see module docstring)."""

    min_gap: float = 0.01  # the photo's widest inner-lip gap, share of the face's height, below
    # which its mouth counts as closed (nothing to collapse)
    band: float = 0.025  # the weight fades to 0 over this share of the face's height outside the
    # inner lips (the lips' inner edge follows them too, so that sealed lips meet)


@dataclasses.dataclass(frozen=True)
class PhotoLips:
    """The photo's inner lips: its fitted face mesh float [478, 3] (world, cm) and its camera."""

    face_mesh: np.ndarray
    photo: Intrinsics
    config: MouthOpeningConfig = MouthOpeningConfig()

    def hold(self, points: np.ndarray) -> "MouthOpening":
        """The ``MouthOpening`` of canonical points [M, 3] (world, cm)."""
        return MouthOpening.of_points(points, self.face_mesh, self.photo, self.config)


@dataclasses.dataclass(frozen=True)
class MouthOpening:
    """Points of the photo's mouth opening, held between the inner lips.

    weight: float64 [M]  1 inside the photo's inner lips, fading to 0 over ``band``; all 0 when
            the photo's mouth is closed
    matrix: scipy CSR [M, 478]: a point's displacement (head frame, cm) from the face mesh's
            vertex displacements dV [478, 3]: the inner-lip contours' displacement at the point's
            column, blended by where it lies between the upper and the lower lip
    """

    weight: np.ndarray
    matrix: scipy.sparse.csr_matrix

    @staticmethod
    def of_points(points: np.ndarray, face_mesh: np.ndarray, photo: Intrinsics,
                  config: MouthOpeningConfig = MouthOpeningConfig()) -> "MouthOpening":
        """points: [M, 3] canonical points (world, cm); face_mesh: [478, 3] the photo's fitted
        face mesh (world, cm); photo: the photo's camera."""
        uv = photo.project(np.asarray(points, np.float64))
        mesh_uv = photo.project(np.asarray(face_mesh, np.float64))
        upper_ids, lower_ids = np.array(topo.LIP_INNER_UPPER), np.array(topo.LIP_INNER_LOWER)
        upper, lower = mesh_uv[upper_ids], mesh_uv[lower_ids]
        face_height = float(np.linalg.norm(mesh_uv[topo.FOREHEAD] - mesh_uv[topo.CHIN]))
        m = len(uv)
        empty = MouthOpening(np.zeros(m), scipy.sparse.csr_matrix((m, len(face_mesh))))
        if np.max(lower[1:-1, 1] - upper[1:-1, 1]) < config.min_gap * face_height:
            return empty
        if np.any(np.diff(upper[:, 0]) <= 0) or np.any(np.diff(lower[:, 0]) <= 0):
            return empty  # a contour folds over in the photo (a profile view): no columns
        cols = []
        for contour in (upper, lower):
            j = np.clip(np.searchsorted(contour[:, 0], uv[:, 0]) - 1, 0, len(contour) - 2)
            s = np.clip((uv[:, 0] - contour[j, 0]) / (contour[j + 1, 0] - contour[j, 0]), 0.0, 1.0)
            cols.append((j, s, contour[j, 1] + s * (contour[j + 1, 1] - contour[j, 1])))
        (ju, su, yu), (jl, sl, yl) = cols
        inside_x = (uv[:, 0] >= upper[0, 0]) & (uv[:, 0] <= upper[-1, 0])
        outside = np.maximum.reduce([yu - uv[:, 1], uv[:, 1] - yl, np.zeros(m)])
        weight = np.where(inside_x, np.clip(1.0 - outside / (config.band * face_height), 0.0, 1.0), 0.0)
        t = np.clip((uv[:, 1] - yu) / np.maximum(yl - yu, 1e-6), 0.0, 1.0)
        rows = np.repeat(np.arange(m), 4)
        vertex = np.stack([upper_ids[ju], upper_ids[ju + 1], lower_ids[jl], lower_ids[jl + 1]], axis=1)
        share = np.stack([(1 - t) * (1 - su), (1 - t) * su, t * (1 - sl), t * sl], axis=1)
        live = np.repeat(weight > 0, 4)
        matrix = scipy.sparse.csr_matrix((share.reshape(-1)[live], (rows[live], vertex.reshape(-1)[live])),
                                         shape=(m, len(face_mesh)))
        return MouthOpening(weight, matrix)


def _reachable(positions: torch.Tensor, deformer: Deformer) -> torch.Tensor:
    """Indices [M] of the points [V, 3] (world) inside the deformer's mapping grid."""
    head = deformer.to_head(positions)
    lo = deformer.origin
    hi = lo + torch.tensor(deformer.dims, dtype=torch.float32, device=positions.device) * deformer.voxel
    return torch.nonzero(((head >= lo) & (head <= hi)).all(dim=1)).squeeze(1)


class DeformedMesh:
    """Per-subject vertex-from-face-vertex matrix of the mesh vertices the deformation reaches."""

    def __init__(self, positions: np.ndarray, deformer: Deformer, beta_rest: np.ndarray,
                 lips: PhotoLips | None = None):
        """positions: float32 [V, 3] canonical vertices (world); beta_rest: the photo's expression
        (where the deformation is zero, giving the canonical mouth line); lips: the photo's inner
        lips, between which its mouth opening is then held (``MouthOpening``)."""
        self.deformer = deformer
        self.rest = np.ascontiguousarray(positions, np.float32)
        points = torch.as_tensor(self.rest, device=deformer.device)
        self.moving = _reachable(points, deformer).cpu().numpy()
        plan = deformer.lookup_plan(points[self.moving])
        rest = deformer.frame(beta_rest)
        jaw = deformer._jaw_side_weight(plan.head, rest).cpu().numpy().astype(np.float64)  # [M]
        rows = plan.rows.cpu().numpy()  # [M, 8], A = the zero row
        weights = plan.weights.cpu().numpy().astype(np.float64)
        a = deformer.num_active
        c = deformer.carry  # torch CSR [2A, N]: skull-side rows, then jaw-side rows
        carry = scipy.sparse.csr_matrix((c.values().cpu().numpy(), c.col_indices().cpu().numpy(),
                                         c.crow_indices().cpu().numpy()), shape=tuple(c.shape))
        m = len(self.moving)
        vertex = np.repeat(np.arange(m), rows.shape[1])
        slot = rows.reshape(-1)
        live = slot < a
        skull = scipy.sparse.csr_matrix(((weights * (1 - jaw)[:, None]).reshape(-1)[live], (vertex[live], slot[live])),
                                        shape=(m, a))
        jaw_side = scipy.sparse.csr_matrix(((weights * jaw[:, None]).reshape(-1)[live], (vertex[live], slot[live])),
                                           shape=(m, a))
        mapping = skull @ carry[:a] + jaw_side @ carry[a:]  # [M, N]
        if lips is not None:
            held = lips.hold(self.rest[self.moving])
            keep = scipy.sparse.diags(1.0 - held.weight)
            mapping = keep @ mapping + scipy.sparse.diags(held.weight) @ held.matrix
        self.mapping = mapping.astype(np.float32).tocsr()
        self._rotation_t = deformer.rotation.cpu().numpy().T  # head -> world, transposed

    def positions(self, dv: np.ndarray) -> np.ndarray:
        """Vertex positions [V, 3] (world, cm) for the face mesh's displacement ``dv`` [N, 3]
        (head frame, cm: V(beta) - V_init)."""
        moved = self.mapping @ np.asarray(dv, np.float32)  # [M, 3] head frame
        out = self.rest.copy()
        out[self.moving] += moved @ self._rotation_t
        return out


class ReferenceMesh:
    """The plain version of ``DeformedMesh``: each vertex looks the deformer's grid fields up
    (``Deformer.displacement_planned``) with the canonical mouth line, and moves by minus the
    backward displacement found there."""

    def __init__(self, positions: np.ndarray, deformer: Deformer, beta_rest: np.ndarray,
                 lips: PhotoLips | None = None):
        self.deformer = deformer
        self.rest = np.ascontiguousarray(positions, np.float32)
        points = torch.as_tensor(self.rest, device=deformer.device)
        self.moving = _reachable(points, deformer).cpu().numpy()
        self.plan = deformer.lookup_plan(points[torch.as_tensor(self.moving, device=deformer.device)])
        rest = deformer.frame(beta_rest)
        self.mouth_line = (rest.mouth_x, rest.mouth_y)
        self.rest_vertices = rest.vertices.cpu().numpy().astype(np.float64)
        self.opening = lips.hold(self.rest[self.moving]) if lips is not None else None

    def positions(self, frame: FrameDeformation) -> np.ndarray:
        canonical_side = dataclasses.replace(frame, mouth_x=self.mouth_line[0], mouth_y=self.mouth_line[1])
        dp = self.deformer.displacement_planned(self.plan, canonical_side).cpu().numpy().astype(np.float64)
        out = self.rest.copy()
        if self.opening is not None:  # the opening's points held between the inner lips
            w = self.opening.weight[:, None]
            dv = frame.vertices.cpu().numpy().astype(np.float64) - self.rest_vertices
            held = (self.opening.matrix @ dv) @ self.deformer.rotation.cpu().numpy().T.astype(np.float64)
            dp = (1.0 - w) * dp - w * held
        out[self.moving] -= dp.astype(np.float32)
        return out

