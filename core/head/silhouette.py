"""Fit the cranium to the person matte: height of the crown and width at the temples.

The face fit fixes the face; the skull above it is the template's. Where the photo shows the top
and the sides of the head (the matte does not touch the image border there), the cranium is
scaled about a centre at the face mesh's top so that its projected outline reaches the matte's
along three rays: up from that centre, left and right a little higher (head axes projected into
the photo). The
matte includes hair, so the head grows to the hair's volume, which is what the photo's pixels
will be mapped onto. The face, inside, neck and the head below the face mesh's top stay fixed;
the change ramps in above it. Ratios are clamped (hats, hands on the head, buns).

Pixel and camera conventions: ``core.geometry.pinhole``; head frame: cm, x subject's left, y
down, z into the head.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from core.face import topology as topo
from core.head.template import REGION_NAMES

if TYPE_CHECKING:  # the module itself needs no torch (which core.geometry.pinhole imports)
    from core.geometry.pinhole import Intrinsics


@dataclass(frozen=True)
class SilhouetteConfig:
    """Constants of the cranium fit (cm, pixels, ratios)."""

    matte_threshold: float = 0.5  # alpha above this is the person
    step_px: float = 0.5  # matte march step
    border_px: int = 2  # a matte reaching this close to the image border is not a head edge
    min_ratio: float = 0.92  # clamp of matte extent / head extent
    max_ratio: float = 1.15
    ramp_cm: float = 5.0  # above the face mesh's top the change ramps in over this height
    side_ray_cm: float = 2.5  # the left and right rays run this high above the face mesh's top


@dataclass
class Silhouette:
    """The photo's person matte and camera.

    alpha: float [H, W] matte (1 person); intrinsics: the photo camera; rotation: float [3, 3]
    head -> camera; translation: float [3] cm.
    """

    alpha: np.ndarray
    intrinsics: Intrinsics
    rotation: np.ndarray
    translation: np.ndarray

    @staticmethod
    def from_subject(subject) -> Silhouette:
        """From a ``core.preprocess.subject.Subject``."""
        return Silhouette(subject.relief.alpha, subject.intrinsics, subject.rotation,
                          subject.translation)

    def project(self, points: np.ndarray) -> np.ndarray:
        """Head-frame points [N, 3] -> pixels [N, 2]."""
        return self.intrinsics.project(np.asarray(points, np.float64) @ self.rotation.T
                                       + self.translation)


def _matte_extent(sil: Silhouette, origin: np.ndarray, direction: np.ndarray,
                  limit: float, config: SilhouetteConfig) -> float | None:
    """Distance (px) from origin along direction to the first pixel off the matte, or None when
    the matte runs into the image border first (the photo does not show the head's edge)."""
    h, w = sil.alpha.shape
    b = config.border_px
    for dist in np.arange(0.0, limit, config.step_px):
        u, v = origin + dist * direction
        iu, iv = round(u), round(v)
        if not (b <= iu < w - b and b <= iv < h - b):
            return None
        if sil.alpha[iv, iu] < config.matte_threshold:
            return float(dist)
    return None


def head_mask(vertices: np.ndarray, triangles: np.ndarray, sil: Silhouette) -> np.ndarray:
    """The mesh's silhouette in the photo camera, float32 [H, W] (1 inside)."""
    import cv2

    uv = np.round(sil.project(vertices) * 4).astype(np.int32)  # 2 fractional bits
    mask = np.zeros(sil.alpha.shape, np.uint8)
    for tri in np.asarray(triangles):
        cv2.fillConvexPoly(mask, uv[tri], 1, shift=2)
    return mask.astype(np.float32)


def fit_cranium(vertices: np.ndarray, triangles: np.ndarray, regions: np.ndarray,
                face_mesh_head: np.ndarray, sil: Silhouette,
                config: SilhouetteConfig = SilhouetteConfig()) -> tuple[np.ndarray, dict[str, float]]:
    """Scale the cranium of a fitted head toward the matte.

    vertices [V, 3] (triangles [F, 3], regions [V]) and the FaceMesh mesh [478, 3] in the head
    frame (cm). Both outlines are measured the same way: by marching from the centre along each
    ray until leaving the (matte or the head's own) silhouette. Returns (new
    vertices [V, 3], the applied ratios {"up", "left", "right"}; 1 where the photo says nothing).
    """
    v = np.asarray(vertices, np.float64)
    face = np.asarray(face_mesh_head, np.float64)
    top = face[topo.FOREHEAD, 1]  # the face mesh's top (y down): the change starts above it
    centre = np.array([0.5 * (v[:, 0].min() + v[:, 0].max()), top,
                       0.5 * (face[:, 2].min() + v[:, 2].max())])
    own = Silhouette(head_mask(v, triangles, sil), sil.intrinsics, sil.rotation, sil.translation)
    ratios = {}
    for name, axis, origin in (
            ("up", np.array([0.0, -1.0, 0.0]), centre),
            ("left", np.array([1.0, 0.0, 0.0]), centre - [0.0, config.side_ray_cm, 0.0]),
            ("right", np.array([-1.0, 0.0, 0.0]), centre - [0.0, config.side_ray_cm, 0.0])):
        c2 = sil.project(origin[None])[0]
        tip = sil.project((origin + 5.0 * axis)[None])[0] - c2
        norm = np.linalg.norm(tip)
        head = matte = None
        if norm > 1e-6:
            head = _matte_extent(own, c2, tip / norm, float(max(sil.alpha.shape)), config)
        if head:
            matte = _matte_extent(sil, c2, tip / norm, 2.0 * config.max_ratio * head, config)
        ratios[name] = 1.0 if matte is None else float(
            np.clip(matte / head, config.min_ratio, config.max_ratio))
    t = np.clip((top - v[:, 1]) / config.ramp_cm, 0.0, 1.0)
    weight = t * t * (3 - 2 * t)
    weight[np.isin(regions, [REGION_NAMES.index(n) for n in ("face", "inside", "neck")])] = 0.0
    sx = np.where(v[:, 0] >= centre[0], ratios["left"], ratios["right"])
    sy = np.full(len(v), ratios["up"])
    sz = 0.5 * (sy + 0.5 * (ratios["left"] + ratios["right"]))  # depth is not seen: in between
    scale = 1.0 + weight[:, None] * (np.stack([sx, sy, sz], axis=1) - 1.0)
    out = centre + (v - centre) * scale
    return out, ratios
