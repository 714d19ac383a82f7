"""The project's one pinhole camera and pixel convention.

Camera frame (OpenCV): x right, y down, z forward; units cm. ``Intrinsics`` maps a camera-frame
point (x, y, z) to the pixel coordinate (u, v) = (f x / z + cx, f y / z + cy).

Pixels: pixel (i, j) (column i, row j) has its centre at the coordinate (u, v) = (i, j), so an
image of width W spans u in [-0.5, W - 0.5] (and likewise v over the height). This is the
convention of cv2 (remap, warpAffine, resize) and of torch's ``align_corners=False``.

* Resizing an image from W to W' columns maps u to (u + 0.5) * W' / W - 0.5 (pixel centres, not
  corners, keep their place): photo pixels 0 and 1 of a 2x downscale both land around 0.
* Cropping at (x0, y0) maps u to u - x0; a negative x0 pads the image on the left.
* grid_sample coordinates (``align_corners=False``): g = (u + 0.5) / W * 2 - 1, so the image's
  edge u = -0.5 is g = -1, u = W - 0.5 is g = 1, and pixel centre 0 is g = -1 + 1 / W.
* Ray directions in the camera frame are scaled to z = 1: d = ((u - cx) / f, (v - cy) / f, 1).

Pixel boxes are (x0, y0, x1, y1) in whole pixels, end exclusive; arrays over a box are
[y1 - y0, x1 - x0, ...] (rows first). The numpy helpers take a dtype (float64 by default), the
torch ones return float32 on the given device.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1), pixels, end exclusive


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics of an image of ``width`` x ``height`` pixels (square pixels)."""

    focal_px: float
    cx: float
    cy: float
    width: int
    height: int

    @staticmethod
    def from_fov(width: int, height: int, fov_deg: float) -> "Intrinsics":
        """Square pixels, principal point at (width / 2, height / 2), ``fov_deg`` across the
        longer side."""
        focal = 0.5 * max(width, height) / math.tan(math.radians(fov_deg) / 2)
        return Intrinsics(focal, width / 2.0, height / 2.0, width, height)

    @property
    def box(self) -> Box:
        """The whole image as a pixel box."""
        return 0, 0, self.width, self.height

    def project(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points [N, 3] (cm) -> pixel coordinates [N, 2]."""
        z = points[:, 2:3]
        return points[:, :2] / z * self.focal_px + np.array([self.cx, self.cy])

    def unproject(self, uv: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """Pixels [N, 2] at camera depth [N] (cm) -> camera-frame points [N, 3]."""
        xy = (uv - np.array([self.cx, self.cy])) / self.focal_px * depth[:, None]
        return np.concatenate([xy, depth[:, None]], axis=1)

    def resized(self, width: int, height: int) -> "Intrinsics":
        """The same camera for the image resized to ``width`` x ``height`` (pixel centres: u goes
        to (u + 0.5) * width / self.width - 0.5). The focal length scales with the width."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.focal_px * sx, (self.cx + 0.5) * sx - 0.5, (self.cy + 0.5) * sy - 0.5,
                          width, height)

    def cropped(self, x0: float, y0: float, width: int, height: int) -> "Intrinsics":
        """The same camera for the ``width`` x ``height`` crop whose pixel (0, 0) is at (x0, y0)
        in this image (pixels, may be fractional); negative x0 / y0 pad the image instead."""
        return Intrinsics(self.focal_px, self.cx - x0, self.cy - y0, width, height)


# --- numpy -------------------------------------------------------------------------------------

def pixel_centres(box: Box, dtype=np.float64) -> np.ndarray:
    """Pixel-centre coordinates (u, v) of the pixels of ``box``: [y1 - y0, x1 - x0, 2]."""
    x0, y0, x1, y1 = box
    u, v = np.meshgrid(np.arange(x0, x1, dtype=dtype), np.arange(y0, y1, dtype=dtype))
    return np.stack([u, v], axis=-1)


def ray_directions(k: Intrinsics, box: Box | None = None, dtype=np.float64) -> np.ndarray:
    """Camera-frame ray directions (z = 1) through the pixel centres of ``box`` (default: the
    whole image): [y1 - y0, x1 - x0, 3]."""
    uv = pixel_centres(k.box if box is None else box, dtype)
    u, v = uv[..., 0], uv[..., 1]
    return np.stack([(u - k.cx) / k.focal_px, (v - k.cy) / k.focal_px, np.ones_like(u)], axis=-1)


def resize_pixels(uv: np.ndarray, scale_x: float, scale_y: float) -> np.ndarray:
    """Pixel coordinates [..., 2] in the image resized by (scale_x, scale_y), pixel centres:
    (u + 0.5) * scale - 0.5."""
    return (np.asarray(uv) + 0.5) * np.array([scale_x, scale_y]) - 0.5


# --- numpy or torch ------------------------------------------------------------------------------

def _to_grid(u, size: int):
    return (u + 0.5) / size * 2 - 1


def _from_grid(g, size: int):
    return (g + 1) * 0.5 * size - 0.5


def _stack(like, parts):
    return torch.stack(parts, dim=-1) if isinstance(like, torch.Tensor) else np.stack(parts, axis=-1)


def pixels_to_grid(uv, width: int, height: int):
    """Pixel coordinates [..., 2] (numpy or torch) -> grid_sample coordinates [..., 2] of an image
    of ``width`` x ``height`` (align_corners=False); same type and dtype."""
    return _stack(uv, [_to_grid(uv[..., 0], width), _to_grid(uv[..., 1], height)])


def grid_to_pixels(grid, width: int, height: int):
    """grid_sample coordinates [..., 2] (numpy or torch) -> pixel coordinates [..., 2] of an image
    of ``width`` x ``height``; the inverse of ``pixels_to_grid``."""
    return _stack(grid, [_from_grid(grid[..., 0], width), _from_grid(grid[..., 1], height)])


def grid_affine(k: Intrinsics) -> tuple[tuple[float, float], tuple[float, float]]:
    """The grid coordinate of a camera-frame point as an affine function of x / z and y / z:
    ((ax, bx), (ay, by)) with g_x = ax * x / z + bx, g_y = ay * y / z + by (python floats)."""
    return ((2.0 * k.focal_px / k.width, (k.cx + 0.5) * 2.0 / k.width - 1.0),
            (2.0 * k.focal_px / k.height, (k.cy + 0.5) * 2.0 / k.height - 1.0))


# --- torch ---------------------------------------------------------------------------------------

def pixel_centres_torch(box: Box, device: torch.device | str | None = None) -> torch.Tensor:
    """``pixel_centres`` as float32 on ``device``: [y1 - y0, x1 - x0, 2]."""
    x0, y0, x1, y1 = box
    v, u = torch.meshgrid(torch.arange(y0, y1, device=device, dtype=torch.float32),
                          torch.arange(x0, x1, device=device, dtype=torch.float32), indexing="ij")
    return torch.stack([u, v], dim=-1)


def ray_directions_torch(k: Intrinsics, box: Box | None = None,
                         device: torch.device | str | None = None) -> torch.Tensor:
    """``ray_directions`` as float32 on ``device``: [y1 - y0, x1 - x0, 3]."""
    uv = pixel_centres_torch(k.box if box is None else box, device)
    u, v = uv[..., 0], uv[..., 1]
    return torch.stack([(u - k.cx) / k.focal_px, (v - k.cy) / k.focal_px, torch.ones_like(u)], dim=-1)


def project_torch(points: torch.Tensor, k: Intrinsics) -> torch.Tensor:
    """Camera-frame points [N, 3] -> pixel coordinates [N, 2] (depth clamped to >= 1e-3 cm)."""
    z = points[:, 2].clamp_min(1e-3)
    return torch.stack([points[:, 0] / z * k.focal_px + k.cx, points[:, 1] / z * k.focal_px + k.cy], dim=1)


def unproject_torch(uv: torch.Tensor, depth: torch.Tensor, k: Intrinsics) -> torch.Tensor:
    """Pixels [N, 2] at camera depth [N] (cm) -> camera-frame points [N, 3]."""
    return torch.stack([(uv[:, 0] - k.cx) / k.focal_px * depth, (uv[:, 1] - k.cy) / k.focal_px * depth, depth],
                       dim=1)


def project_to_grid(points: torch.Tensor, k: Intrinsics) -> torch.Tensor:
    """Camera-frame points [N, 3] -> grid_sample coordinates [N, 2] into an image of k's size
    (depth clamped to >= 1e-3 cm)."""
    z = points[:, 2].clamp_min(1e-3)
    u = points[:, 0] / z * k.focal_px + k.cx
    v = points[:, 1] / z * k.focal_px + k.cy
    return torch.stack([_to_grid(u, k.width), _to_grid(v, k.height)], dim=1)
