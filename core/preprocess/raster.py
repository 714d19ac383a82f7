"""A small z-buffered triangle rasteriser (numpy), used at preprocessing time only."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.geometry.pinhole import pixel_centres


@dataclass
class MeshRaster:
    """Per-pixel result of rasterising a mesh. Pixels no triangle covers have tri_id == -1.

    depth: float32 [H, W] camera depth (cm), +inf where empty
    tri_id: int32 [H, W]
    bary: float32 [H, W, 3] barycentric weights of the triangle's vertices
    """

    depth: np.ndarray
    tri_id: np.ndarray
    bary: np.ndarray

    @property
    def covered(self) -> np.ndarray:
        return self.tri_id >= 0


def rasterize(uv: np.ndarray, depth: np.ndarray, triangles: np.ndarray, width: int, height: int) -> MeshRaster:
    """Rasterise triangles given vertex pixel positions uv [N, 2] and depths [N] (pixel centres at
    integer coordinates). Nearest surface wins. Depth is interpolated linearly in screen space
    (fine for the small depth range of a face)."""
    zbuf = np.full((height, width), np.inf, dtype=np.float32)
    tri_id = np.full((height, width), -1, dtype=np.int32)
    bary = np.zeros((height, width, 3), dtype=np.float32)
    for f, (i, j, k) in enumerate(triangles):
        p0, p1, p2 = uv[i], uv[j], uv[k]
        x0 = max(int(np.floor(min(p0[0], p1[0], p2[0]))), 0)
        x1 = min(int(np.ceil(max(p0[0], p1[0], p2[0]))), width - 1)
        y0 = max(int(np.floor(min(p0[1], p1[1], p2[1]))), 0)
        y1 = min(int(np.ceil(max(p0[1], p1[1], p2[1]))), height - 1)
        if x1 < x0 or y1 < y0:
            continue
        area = (p1[0] - p0[0]) * (p2[1] - p0[1]) - (p2[0] - p0[0]) * (p1[1] - p0[1])
        if abs(area) < 1e-9:
            continue
        centres = pixel_centres((x0, y0, x1 + 1, y1 + 1))
        xs, ys = centres[..., 0], centres[..., 1]
        w0 = ((p1[0] - xs) * (p2[1] - ys) - (p2[0] - xs) * (p1[1] - ys)) / area
        w1 = ((p2[0] - xs) * (p0[1] - ys) - (p0[0] - xs) * (p2[1] - ys)) / area
        w2 = 1.0 - w0 - w1
        inside = (w0 >= -1e-4) & (w1 >= -1e-4) & (w2 >= -1e-4)
        if not inside.any():
            continue
        z = w0 * depth[i] + w1 * depth[j] + w2 * depth[k]
        sub = zbuf[y0:y1 + 1, x0:x1 + 1]
        win = inside & (z < sub)
        sub[win] = z[win]
        tri_id[y0:y1 + 1, x0:x1 + 1][win] = f
        bary[y0:y1 + 1, x0:x1 + 1][win] = np.stack([w0, w1, w2], axis=-1)[win]
    return MeshRaster(zbuf, tri_id, bary)
