"""The person mesh of one frame: canonical vertices moved by the audio-driven deformation.

Eq. 7 reads the canonical feature field at p + dp(p) for every ray sample. A mesh turns this
around: each canonical vertex c moves forward by the displacement the cached 3D nearest-neighbour
mapping carries to it (Eq. 6), c + sum_j w_j dV[idx_j] = c - dp(c), and keeps its canonical
texture coordinates. Which side of the mouth a vertex follows (skull or jaw) is decided by the
canonical mouth line, since vertices are canonical points.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

from core.render.deformation import Deformer, FrameDeformation


class DeformedMesh:
    """Per-subject lookup plan of the mesh vertices the deformation can reach."""

    def __init__(self, positions: np.ndarray, deformer: Deformer, beta_rest: np.ndarray):
        """positions: float32 [V, 3] canonical vertices (world); beta_rest: the photo's expression
        (where the deformation is zero, giving the canonical mouth line)."""
        self.deformer = deformer
        self.rest = np.ascontiguousarray(positions, np.float32)
        device = deformer.device
        points = torch.as_tensor(self.rest, device=device)
        head = deformer.to_head(points)
        lo = deformer.origin
        hi = deformer.origin + torch.tensor(deformer.dims, dtype=torch.float32, device=device) * deformer.voxel
        inside = ((head >= lo) & (head <= hi)).all(dim=1)
        self.moving = torch.nonzero(inside).squeeze(1)
        self.plan = deformer.lookup_plan(points[self.moving])
        self._moving_np = self.moving.cpu().numpy()
        rest = deformer.frame(beta_rest)
        self.mouth_line = (rest.mouth_x, rest.mouth_y)

    def positions(self, frame: FrameDeformation) -> np.ndarray:
        """The frame's vertex positions, float32 [V, 3] (world, cm)."""
        canonical_side = dataclasses.replace(frame, mouth_x=self.mouth_line[0], mouth_y=self.mouth_line[1])
        dp = self.deformer.displacement_planned(self.plan, canonical_side)
        out = self.rest.copy()
        out[self._moving_np] -= dp.cpu().numpy()
        return out
