"""The person mesh of one frame: canonical vertices moved by the audio-driven deformation.

Eq. 7 reads the canonical feature field at p + dp(p) for every ray sample. A mesh turns this
around: each canonical vertex c moves forward by the displacement the cached 3D nearest-neighbour
mapping carries to it (Eq. 6), c + sum_j w_j dV[idx_j] = c - dp(c), and keeps its canonical
point for the colour lookup. Which side of the mouth a vertex follows (skull or jaw) is decided by the
canonical mouth line, since vertices are canonical points; so every vertex's displacement is a
fixed linear function of the face mesh's vertex displacements dV, and the whole mapping (grid
trilinear weights, NN weights of both sides, the side switch) folds into one sparse matrix
[V, 478] per subject. ``ReferenceMesh`` computes the same through the deformer's grid fields.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse
import torch

from core.render.deformation import Deformer, FrameDeformation


def _reachable(positions: torch.Tensor, deformer: Deformer) -> torch.Tensor:
    """Indices [M] of the points [V, 3] (world) inside the deformer's mapping grid."""
    head = deformer.to_head(positions)
    lo = deformer.origin
    hi = lo + torch.tensor(deformer.dims, dtype=torch.float32, device=positions.device) * deformer.voxel
    return torch.nonzero(((head >= lo) & (head <= hi)).all(dim=1)).squeeze(1)


class DeformedMesh:
    """Per-subject vertex-from-face-vertex matrix of the mesh vertices the deformation reaches."""

    def __init__(self, positions: np.ndarray, deformer: Deformer, beta_rest: np.ndarray):
        """positions: float32 [V, 3] canonical vertices (world); beta_rest: the photo's expression
        (where the deformation is zero, giving the canonical mouth line)."""
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
        self.mapping = (skull @ carry[:a] + jaw_side @ carry[a:]).astype(np.float32).tocsr()  # [M, N]
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

    def __init__(self, positions: np.ndarray, deformer: Deformer, beta_rest: np.ndarray):
        self.deformer = deformer
        self.rest = np.ascontiguousarray(positions, np.float32)
        points = torch.as_tensor(self.rest, device=deformer.device)
        self.moving = _reachable(points, deformer).cpu().numpy()
        self.plan = deformer.lookup_plan(points[torch.as_tensor(self.moving, device=deformer.device)])
        rest = deformer.frame(beta_rest)
        self.mouth_line = (rest.mouth_x, rest.mouth_y)

    def positions(self, frame: FrameDeformation) -> np.ndarray:
        canonical_side = dataclasses.replace(frame, mouth_x=self.mouth_line[0], mouth_y=self.mouth_line[1])
        dp = self.deformer.displacement_planned(self.plan, canonical_side)
        out = self.rest.copy()
        out[self.moving] -= dp.cpu().numpy()
        return out
