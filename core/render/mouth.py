"""The inner mouth's mask (Eq. 12-13), the lip seal and the photo's own teeth.

The photo never shows the inside of an opening mouth, so it is drawn from a 3D model
(``core.render.mouth_scene``) and composited inside the inner-lip polygon of the deformed mesh
as seen from the current camera; where the photo showed teeth, they are laid over it as two
planes (upper fixed to the skull, lower following the jaw). The mask is the mean of
the masks of the last n frames (Eq. 13), each re-projected with the current camera so that
orbiting does not smear it, and never less than the current frame's mask (an opening mouth shows
its interior at once; the mean smooths the closing side); the mean is limited to a thin band
around the current mask, so no dark ghost lingers on closed lips.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.geometry.pinhole import ray_directions
from core.face import topology as topo
from core.render.camera import ViewCamera
from core.render.config import MouthGeometryConfig, MouthMaskConfig

SUBPIXEL_BITS = 4  # fixed-point precision of the anti-aliased polygon fills
_LIP_POLYGON = list(topo.inner_lip_polygon())
# Positions, in the inner-lip polygon, of facing upper/lower inner-lip vertices (corners excluded).
FACING_UPPER = np.arange(1, len(topo.LIP_INNER_UPPER) - 1)
FACING_LOWER = np.array([_LIP_POLYGON.index(v) for v in topo.LIP_INNER_LOWER[1:-1]])


def lip_seal_field(head: np.ndarray, falloff_cm: float = MouthMaskConfig().seal_falloff_cm) -> np.ndarray:
    """Displacement [N, 3] (head frame, cm) that brings the upper and lower inner lip contours of
    ``head`` [N, 3] together at their midline; nearby lip vertices follow their side's nearest
    inner-lip vertex with a Gaussian falloff. Closes whatever gap the photo's mouth has."""
    upper, lower = np.array(topo.LIP_INNER_UPPER), np.array(topo.LIP_INNER_LOWER)
    mid = 0.5 * (head[upper] + head[lower])
    field = np.zeros_like(head)
    corner = {topo.INNER_CORNER_LEFT, topo.INNER_CORNER_RIGHT}
    for ids in (upper, lower):
        move = mid - head[ids]
        d = np.linalg.norm(head[:, None, :] - head[ids][None], axis=-1)  # [N, 11]
        nearest = d.argmin(axis=1)
        w = np.exp(-0.5 * (d.min(axis=1) / falloff_cm) ** 2)
        # Only vertices on this side of the mouth line follow (the other side has its own pull).
        same_side = np.sign(head[:, 1] - mid[nearest, 1]) == np.sign(head[ids][nearest, 1] - mid[nearest, 1])
        field += (w * same_side)[:, None] * move[nearest]
        for i, v in enumerate(ids):
            if v not in corner:
                field[v] = move[i]
    return field


def smooth_closed_polygon(points: np.ndarray, iterations: int = MouthMaskConfig().smoothing_iterations) -> np.ndarray:
    """Chaikin corner cutting of a closed polygon [M, 2] -> [M * 2**iterations, 2]: the lips'
    ten-point contour becomes a rounded opening instead of a box."""
    for _ in range(iterations):
        nxt = np.roll(points, -1, axis=0)
        points = np.stack([0.75 * points + 0.25 * nxt, 0.25 * points + 0.75 * nxt], axis=1).reshape(-1, 2)
    return points


def smooth_closed_polygons(points: np.ndarray, iterations: int = MouthMaskConfig().smoothing_iterations) -> np.ndarray:
    """``smooth_closed_polygon`` of n polygons at once: [n, M, 2] -> [n, M * 2**iterations, 2]
    (the same arithmetic, so the same points)."""
    for _ in range(iterations):
        nxt = np.roll(points, -1, axis=1)
        points = np.stack([0.75 * points + 0.25 * nxt, 0.25 * points + 0.75 * nxt], axis=2).reshape(len(points), -1, 2)
    return points


def averaged_mask(polygons_world: list[np.ndarray], camera: ViewCamera,
                  config: MouthMaskConfig = MouthMaskConfig()) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Eq. 13: the mean of the inner-lip masks of the last n frames, all seen from ``camera``.
    ``polygons_world[-1]`` is the current frame. Where the current mask is open the result is at
    least the current mask (``MouthMaskConfig.follow_opening``), so the mean only lags a mouth that
    closes or shrinks; n = 1 is the current mask alone. Returns (the mean, the current frame's
    mask), float32 [S, S] each, and the box (x0, y0, x1, y1) outside which both are zero."""
    size = camera.intrinsics.width
    out = np.zeros((size, size), np.float32)
    current = np.zeros((size, size), np.float32)
    raw = [camera.project(p) for p in polygons_world]
    projected = list(smooth_closed_polygons(np.stack(raw), config.smoothing_iterations))
    pts = np.concatenate(projected)
    x0, y0 = np.maximum(np.floor(pts.min(axis=0)).astype(int) - 4, 0)
    x1, y1 = np.minimum(np.ceil(pts.max(axis=0)).astype(int) + 5, size)
    if x1 <= x0 or y1 <= y0:
        return out, current, (0, 0, 0, 0)
    offset = np.array([x0, y0], np.float64)
    # An anti-aliased fill draws a degenerate (closed) polygon as a one-pixel line: a frame's mask
    # fades out as its widest lip gap falls below ``open_px`` (closed lips show no seam).
    masks = [_fill_mask(p - offset, (y1 - y0, x1 - x0)) * _openness(q, config.open_px, config.closed_line) for p, q in zip(projected, raw)]
    mean = np.mean(masks, axis=0)
    if len(masks) > 1:
        band = cv2.GaussianBlur(cv2.dilate(masks[-1], np.ones((3, 3), np.uint8)), (0, 0), config.closed_band_blur_px)
        mean = np.minimum(mean, np.clip(band * config.closed_band_gain, 0, 1))
        if config.follow_opening:
            # An opening mouth shows its interior at once: the mean smooths the shrinking side only
            # (else the older, smaller masks leave a band inside the current opening where the
            # interior is half blended with the deformed lips).
            mean = np.maximum(mean, masks[-1])
    out[y0:y1, x0:x1] = mean
    current[y0:y1, x0:x1] = masks[-1]
    return out, current, (int(x0), int(y0), int(x1), int(y1))


def _openness(polygon_px: np.ndarray, open_px: float, closed_line: float) -> float:
    """A frame mask's weight from its projected inner-lip polygon [M, 2] (``topo.inner_lip_polygon``
    order): ``closed_line`` (closed lips keep a faint dark line where they meet, as real lips do)
    rising to 1 as the widest gap between facing inner-lip vertices reaches ``open_px``."""
    gap = np.linalg.norm(polygon_px[FACING_LOWER] - polygon_px[FACING_UPPER], axis=1).max()
    return float(closed_line + (1.0 - closed_line) * min(gap / open_px, 1.0))


def _fill_mask(points_px: np.ndarray, shape: tuple[int, int], subpixel_bits: int = SUBPIXEL_BITS) -> np.ndarray:
    """Anti-aliased filled polygon (already smoothed), float32 of ``shape`` in [0, 1]."""
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.round(points_px * (1 << subpixel_bits)).astype(np.int32)], 255,
                 lineType=cv2.LINE_AA, shift=subpixel_bits)
    return mask.astype(np.float32) * (1.0 / 255.0)


@dataclass(frozen=True)
class PhotoMouth:
    """The photo's own mouth opening (teeth it shows), split at the photo's mouth line: the upper
    part is fixed to the skull, the lower part moves with the jaw. Empty when the mouth is closed.

    crop: float32 [h, w, 4] RGB (0..255) + opening alpha (0..1);  xy: crop origin in photo pixels
    line_u, line_v: the photo's mouth line in photo pixels (u increasing)
    """

    crop: np.ndarray
    xy: np.ndarray
    line_u: np.ndarray
    line_v: np.ndarray

    @property
    def empty(self) -> bool:
        return self.crop.shape[0] < 2 or self.crop[..., 3].sum() < 10

    @staticmethod
    def from_subject(subject) -> "PhotoMouth":
        crop = subject.relief.mouth_crop.astype(np.float32)
        if crop.size:
            crop[..., 3] /= 255.0
        uv = subject.intrinsics.project(subject.mesh.astype(np.float64))
        mid = 0.5 * (uv[list(topo.LIP_INNER_UPPER)] + uv[list(topo.LIP_INNER_LOWER)])
        order = np.argsort(mid[:, 0])
        return PhotoMouth(crop, np.asarray(subject.relief.mouth_crop_xy, np.float64), mid[order, 0], mid[order, 1])


def _bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """img [h, w, C] at float pixel positions (u, v) -> [N, C]; zero outside."""
    h, w = img.shape[:2]
    return cv2.remap(img, u.astype(np.float32).reshape(-1, 1), v.astype(np.float32).reshape(-1, 1),
                     cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0).reshape(len(u), -1)


def photo_mouth_layers(photo_mouth: PhotoMouth, camera: ViewCamera, photo_camera, rotation: np.ndarray,
                       translation: np.ndarray, head_init: np.ndarray, head_now: np.ndarray,
                       box: tuple[int, int, int, int],
                       plane_depth_cm: float = MouthGeometryConfig().photo_teeth_depth_cm,
                       photo_pose: tuple[np.ndarray, np.ndarray] | None = None, plain: bool = False
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The photo's teeth as two planes behind the lips, seen from ``camera`` inside ``box``.

    Each output ray meets the upper plane (fixed to the skull) and the lower plane (moved with the
    jaw, i.e. by the displacement of the lower inner lip); the hit points are projected into the
    photo and read from its mouth opening, above or below the photo's mouth line respectively.
    From the photo's own camera with the photo's own expression this returns the photo's pixels.
    ``rotation``/``translation`` are the head's pose in this frame (moved by the head's motion);
    ``photo_pose`` the pose the photo saw (default: the same), where the hits are read.
    ``plain``: each hit point is moved into the photo's camera step by step (the reference); by
    default the steps are folded into one affine map and applied to the rays once for both planes
    (the same points up to float64 rounding).
    Returns (rgb float32 [h, w, 3] 0..255, alpha float32 [h, w]).
    """
    x0, y0, x1, y1 = box
    hh, ww = y1 - y0, x1 - x0
    d_cam = ray_directions(camera.intrinsics, box).reshape(-1, 3)
    dirs = d_cam @ camera.rotation.T
    normal = rotation[:, 2]  # head-frame z axis in the world
    rgb = np.zeros((hh * ww, 3), np.float32)
    alpha = np.zeros(hh * ww, np.float32)
    # World -> the photo's camera: x -> x @ to_photo + offset (the identity without photo_pose).
    to_photo, offset = np.eye(3), np.zeros(3)
    if photo_pose is not None:
        to_photo = rotation @ np.asarray(photo_pose[0], np.float64).T
        offset = np.asarray(photo_pose[1], np.float64) - translation @ to_photo
    denom = dirs @ normal
    denom = np.where(np.abs(denom) < 1e-6, 1e-6, denom)
    dirs_photo = None if plain else dirs @ to_photo
    for vertex, upper in ((topo.LOWER_LIP_INNER_MID, False), (topo.UPPER_LIP_INNER_MID, True)):
        shift = np.zeros(3) if upper else (head_now[vertex] - head_init[vertex]) @ rotation.T
        plane_point = (head_init[vertex] + np.array([0.0, 0.0, plane_depth_cm])) @ rotation.T + translation + shift
        t = ((plane_point - camera.position) @ normal) / denom
        if plain:
            hits = camera.position + t[:, None] * dirs - shift
            if photo_pose is not None:
                hits = ((hits - translation) @ rotation) @ photo_pose[0].T + photo_pose[1]
        else:  # the same affine steps, folded: (eye - shift + t * dir) @ to_photo + offset
            hits = ((camera.position - shift) @ to_photo + offset) + t[:, None] * dirs_photo
        uv = photo_camera.project(hits)
        line = np.interp(uv[:, 0], photo_mouth.line_u, photo_mouth.line_v)
        side = (uv[:, 1] <= line) if upper else (uv[:, 1] > line)
        sample = _bilinear(photo_mouth.crop, uv[:, 0] - photo_mouth.xy[0], uv[:, 1] - photo_mouth.xy[1])
        a = sample[:, 3] * side * (t > 0)
        rgb = rgb * (1 - a[:, None]) + sample[:, :3] * a[:, None]
        alpha = alpha + a * (1 - alpha)
    return rgb.reshape(hh, ww, 3), alpha.reshape(hh, ww)
