"""The photo's pinhole camera (OpenCV convention: x right, y down, z forward; units cm)."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels of the (possibly downscaled) portrait."""

    focal_px: float
    cx: float
    cy: float
    width: int
    height: int

    @staticmethod
    def from_fov(width: int, height: int, fov_deg: float) -> "Intrinsics":
        """Square pixels, principal point at the centre, ``fov_deg`` across the longer side."""
        focal = 0.5 * max(width, height) / math.tan(math.radians(fov_deg) / 2)
        return Intrinsics(focal, width / 2.0, height / 2.0, width, height)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points [N, 3] (cm) -> pixel coordinates [N, 2]."""
        z = points[:, 2:3]
        return points[:, :2] / z * self.focal_px + np.array([self.cx, self.cy])

    def unproject(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Pixels [N, 2] at camera depth [N] (cm) -> camera-frame points [N, 3]."""
        xy = (uv - np.array([self.cx, self.cy])) / self.focal_px * depth[:, None]
        return np.concatenate([xy, depth[:, None]], axis=1)

    def scaled(self, factor: float) -> "Intrinsics":
        """The same camera for an image resized by ``factor``."""
        return Intrinsics(self.focal_px * factor, self.cx * factor, self.cy * factor,
                          round(self.width * factor), round(self.height * factor))
