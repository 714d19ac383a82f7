"""The inner mouth's mask (Eq. 12-13), the lip seal and the photo's own teeth.

The photo never shows the inside of an opening mouth, so it is drawn from a 3D model
(``core.render.mouth_scene``) and composited inside the inner-lip polygon of the deformed mesh
as seen from the current camera; where the photo showed teeth, they are laid over it as two
planes (upper fixed to the skull, lower following the jaw), split where the photo's upper teeth
end. The mask is the mean of
the masks of the last n frames (Eq. 13), each re-projected with the current camera so that
orbiting does not smear it, and never less than the current frame's mask (an opening mouth shows
its interior at once; the mean smooths the closing side); the mean is limited to a thin band
around the current mask, so no dark ghost lingers on closed lips.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import cv2
import numpy as np

from core.geometry.pinhole import ray_directions
from core.face import topology as topo
from core.render.camera import ViewCamera
from core.render.config import MouthGeometryConfig, MouthMaskConfig, PhotoTeethConfig

SUBPIXEL_BITS = 4  # fixed-point precision of the polygon fills
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
                  config: MouthMaskConfig = MouthMaskConfig(), soften_px: float = 0.0
                  ) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Eq. 13: the mean of the inner-lip masks of the last n frames, all seen from ``camera``.
    ``polygons_world[-1]`` is the current frame. Where the current mask is open the result is at
    least the current mask (``MouthMaskConfig.follow_opening``), so the mean only lags a mouth that
    closes or shrinks; n = 1 is the current mask alone. ``soften_px``: each frame's mask edge is
    softened by a Gaussian of this sigma (output pixels; 0: the exact coverage). Returns (the mean,
    the current frame's mask), float32 [S, S] each, and the box (x0, y0, x1, y1) outside which both
    are zero."""
    size = camera.intrinsics.width
    out = np.zeros((size, size), np.float32)
    current = np.zeros((size, size), np.float32)
    raw = [camera.project(p) for p in polygons_world]
    projected = list(smooth_closed_polygons(np.stack(raw), config.smoothing_iterations))
    pts = np.concatenate(projected)
    margin = 4 + int(np.ceil(3.0 * soften_px))
    x0, y0 = np.maximum(np.floor(pts.min(axis=0)).astype(int) - margin, 0)
    x1, y1 = np.minimum(np.ceil(pts.max(axis=0)).astype(int) + margin + 1, size)
    if x1 <= x0 or y1 <= y0:
        return out, current, (0, 0, 0, 0)
    offset = np.array([x0, y0], np.float64)
    # An anti-aliased fill draws a degenerate (closed) polygon as a one-pixel line: a frame's mask
    # fades out as its widest lip gap falls below ``open_px`` (closed lips show no seam).
    masks = [_frame_mask(p - offset, q, offset, (y1 - y0, x1 - x0), config) for p, q in zip(projected, raw)]
    mean = np.mean(masks, axis=0)
    if soften_px > 0:  # each frame's mask softened; the blur is linear: the mean's blur is the blurs' mean
        mean = cv2.GaussianBlur(mean, (0, 0), soften_px)
        masks[-1] = cv2.GaussianBlur(masks[-1], (0, 0), soften_px)
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


def _frame_mask(points_px: np.ndarray, raw_px: np.ndarray, offset: np.ndarray, shape: tuple[int, int],
                config: MouthMaskConfig) -> np.ndarray:
    """One frame's mask float32 ``shape``: the covered share of the smoothed polygon ``points_px``
    [K, 2] (box pixels), weighted by ``_openness`` of the raw projected polygon ``raw_px`` (image
    pixels; the box starts at ``offset``); as the lips close (their widest gap below ``open_px``)
    a one-pixel line where they meet (through the midpoints of facing inner-lip vertices) takes
    over, so closed lips keep their faint dark line (the polygon's area has gone)."""
    mask = _fill_mask(points_px, shape, config.fill_supersample)
    closing = 1.0 - min(_widest_gap(raw_px) / config.open_px, 1.0)
    if closing > 0:
        seam = np.concatenate([raw_px[:1], 0.5 * (raw_px[FACING_UPPER] + raw_px[FACING_LOWER]),
                               raw_px[len(FACING_UPPER) + 1:len(FACING_UPPER) + 2]]) - offset
        line = np.zeros(shape, np.uint8)
        cv2.polylines(line, [np.round(seam * (1 << SUBPIXEL_BITS)).astype(np.int32)], False, 255,
                      thickness=1, lineType=cv2.LINE_AA, shift=SUBPIXEL_BITS)
        mask = np.maximum(mask, line.astype(np.float32) * (closing / 255.0))
    return mask * _openness(raw_px, config.open_px, config.closed_line)


def _widest_gap(polygon_px: np.ndarray) -> float:
    """The widest gap (pixels) between facing inner-lip vertices of a projected polygon [M, 2]."""
    return float(np.linalg.norm(polygon_px[FACING_LOWER] - polygon_px[FACING_UPPER], axis=1).max())


def _openness(polygon_px: np.ndarray, open_px: float, closed_line: float) -> float:
    """A frame mask's weight from its projected inner-lip polygon [M, 2] (``topo.inner_lip_polygon``
    order): ``closed_line`` (closed lips keep a faint dark line where they meet, as real lips do)
    rising to 1 as the widest gap between facing inner-lip vertices reaches ``open_px``."""
    return float(closed_line + (1.0 - closed_line) * min(_widest_gap(polygon_px) / open_px, 1.0))


def _fill_mask(points_px: np.ndarray, shape: tuple[int, int], supersample: int = MouthMaskConfig().fill_supersample,
               subpixel_bits: int = SUBPIXEL_BITS) -> np.ndarray:
    """Anti-aliased filled polygon (already smoothed; pixel centres at integers), float32 of
    ``shape`` in [0, 1]: each pixel's covered share, from a fill at ``supersample`` x the
    resolution box-filtered down (OpenCV's LINE_AA fill widens a shape by up to a pixel along
    some edges and steps others)."""
    h, w = shape
    s = max(int(supersample), 1)
    fine = np.zeros((h * s, w * s), np.uint8)
    # A fill takes in the sub-pixels its edges touch: the outline is moved in by half a sub-pixel.
    pts = _inset(np.asarray(points_px, np.float64), 0.5 / s)
    pts = np.round(((pts + 0.5) * s - 0.5) * (1 << subpixel_bits)).astype(np.int32)
    cv2.fillPoly(fine, [pts], 255, lineType=cv2.LINE_8, shift=subpixel_bits)
    if s > 1:
        fine = cv2.resize(fine, (w, h), interpolation=cv2.INTER_AREA)
    return fine.astype(np.float32) * (1.0 / 255.0)


def _inset(points: np.ndarray, distance: float) -> np.ndarray:
    """A closed polygon [M, 2] with each vertex moved ``distance`` inward along its normal."""
    if len(points) < 3:
        return points
    nxt = np.concatenate([points[1:], points[:1]])
    tangent = nxt - np.concatenate([points[-1:], points[:-1]])
    area2 = float(np.sum(points[:, 0] * nxt[:, 1] - points[:, 1] * nxt[:, 0]))  # twice the signed area
    if area2 == 0.0:
        return points
    length = np.sqrt((tangent * tangent).sum(axis=1, keepdims=True))
    step = (-distance if area2 > 0 else distance) / np.maximum(length, 1e-12)
    return points + step * np.stack([tangent[:, 1], -tangent[:, 0]], axis=1)


@dataclass(frozen=True)
class PhotoMouth:
    """The photo's own mouth opening (teeth it shows), split between the photo's upper and lower
    teeth: the upper part is fixed to the skull, the lower part moves with the jaw. Empty when the
    mouth is closed.

    crop: float32 [h, w, 3] RGB (0..255) around the opening;  xy: crop origin in photo pixels
    inside: float32 [h, w] signed distance (photo pixels) to the edge of the opening the planes
        cover (the inner-lip polygon grown by ``PhotoTeethConfig.opening_grow_px``), > 0 inside
    split_v: float32 [w] the split between upper and lower teeth per crop column (crop pixels)
    teeth: float32 [h, w] in 0..1, how much each pixel is a tooth (bright against the lips); 0
        everywhere when the opening shows no teeth
    """

    crop: np.ndarray
    inside: np.ndarray
    xy: np.ndarray
    split_v: np.ndarray
    teeth: np.ndarray

    @property
    def empty(self) -> bool:
        return self.crop.shape[0] < 2 or int((self.inside > 0).sum()) < 10

    @cached_property
    def shows_teeth(self) -> bool:
        """Whether the photo's opening shows teeth (``teeth_share`` found some)."""
        return bool(self.teeth.size) and float(self.teeth.max()) > 0.5

    @cached_property
    def crop_inside(self) -> np.ndarray:
        """float32 [h, w, 4]: ``crop`` and ``inside`` in one image (one look-up for both)."""
        return np.ascontiguousarray(np.dstack([self.crop, self.inside]), np.float32)

    @staticmethod
    def from_subject(subject, config: PhotoTeethConfig = PhotoTeethConfig()) -> "PhotoMouth":
        crop = subject.relief.mouth_crop
        xy = np.asarray(subject.relief.mouth_crop_xy, np.float64)
        if not crop.size:
            return PhotoMouth(np.zeros((0, 0, 3), np.float32), np.zeros((0, 0), np.float32), xy, np.zeros(0, np.float32),
                              np.zeros((0, 0), np.float32))
        rgb = crop[..., :3].astype(np.float32)
        uv = subject.intrinsics.project(subject.mesh.astype(np.float64))
        distance = polygon_distance(uv[_LIP_POLYGON] - xy, crop.shape[:2])
        mid = 0.5 * (uv[list(topo.LIP_INNER_UPPER)] + uv[list(topo.LIP_INNER_LOWER)]) - xy
        order = np.argsort(mid[:, 0])
        line = np.interp(np.arange(crop.shape[1]), mid[order, 0], mid[order, 1])
        split = teeth_split(rgb, distance, line, config)
        return PhotoMouth(rgb, (distance + config.opening_grow_px).astype(np.float32), xy, split,
                          teeth_share(rgb, distance, config))


def teeth_share(rgb: np.ndarray, distance: np.ndarray, config: PhotoTeethConfig = PhotoTeethConfig()) -> np.ndarray:
    """How much each pixel of the mouth crop (rgb float [h, w, 3]) is a tooth: float32 [h, w] in 0..1,
    from its darkest channel (teeth are bright in every channel, lips are not) between the lips'
    level (the crop outside the opening, ``distance`` < 0) and the teeth's (the brightest tenth of
    the opening); all 0 when the opening is not brighter than the lips by ``config.teeth_contrast``."""
    level = rgb.min(axis=2)
    inside, outside = level[distance > 0], level[distance < -1.0]
    if inside.size < 4 or outside.size < 4:
        return np.zeros(level.shape, np.float32)
    lips, teeth = float(np.median(outside)), float(np.percentile(inside, 90))
    if teeth - lips < config.teeth_contrast:
        return np.zeros(level.shape, np.float32)
    a, b = (lips + f * (teeth - lips) for f in config.teeth_ramp)
    t = np.clip((level - a) / (b - a), 0.0, 1.0)
    t = (t * t * (3 - 2 * t)).astype(np.float32)
    # A row of teeth is one region: the shade between crowns belongs to it (closed over a crown's width).
    k = max(3, int(round(config.teeth_close_share * rgb.shape[1])) | 1)
    t = cv2.morphologyEx(t, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    return np.clip(cv2.GaussianBlur(t, (0, 0), 1.0), 0.0, 1.0)


def polygon_distance(polygon_px: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Signed distance (pixels, > 0 inside) from each pixel centre of an image of ``shape`` to the
    closed polygon [M, 2] (pixel coordinates): float32 [h, w]."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w]
    p = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    a = np.asarray(polygon_px, np.float64)
    b = np.roll(a, -1, axis=0)
    ab = b - a
    t = np.clip(((p[:, None] - a[None]) * ab[None]).sum(-1) / np.maximum((ab * ab).sum(-1), 1e-12)[None], 0.0, 1.0)
    nearest = np.sqrt((((a[None] + t[..., None] * ab[None]) - p[:, None]) ** 2).sum(-1)).min(axis=1)
    inside = np.array([cv2.pointPolygonTest(a.astype(np.float32).reshape(-1, 1, 2), (float(x), float(y)), False)
                       for x, y in p]) >= 0
    return np.where(inside, nearest, -nearest).reshape(h, w).astype(np.float32)


def teeth_split(rgb: np.ndarray, distance: np.ndarray, line_v: np.ndarray,
                config: PhotoTeethConfig = PhotoTeethConfig()) -> np.ndarray:
    """Where the photo's upper teeth end and its lower teeth begin, per column of the mouth crop:
    the darkest row (the gap between the rows of teeth, or the dark cavity) inside the opening,
    held toward the mouth line ``line_v`` [w] where nothing is darker, then smoothed along the
    mouth. rgb float [h, w, 3]; distance [h, w] signed distance to the inner-lip polygon (photo
    pixels, > 0 inside). Returns float32 [w] (crop rows; ``line_v`` where the opening is too thin)."""
    grey = cv2.GaussianBlur(rgb.mean(axis=2).astype(np.float32), (0, 0), config.split_blur_px)
    candidate = distance > config.split_margin_px
    if not candidate.any():
        return np.asarray(line_v, np.float32)
    lo, hi = np.percentile(grey[candidate], [5, 95])
    cost_scale = config.split_centre_cost * max(float(hi - lo), 1.0)
    split = np.asarray(line_v, np.float64).copy()
    found = np.zeros(len(split), bool)
    for c in range(rgb.shape[1]):
        rows = np.nonzero(candidate[:, c])[0]
        if len(rows) < 3:
            continue
        half = max(0.5 * (rows.max() - rows.min()), 1.0)
        cost = grey[rows, c] + cost_scale * ((rows - line_v[c]) / half) ** 2
        k = int(np.argmin(cost))
        v = float(rows[k])
        if 0 < k < len(rows) - 1 and rows[k + 1] - rows[k - 1] == 2:  # sub-pixel: the parabola's vertex
            c0, c1, c2 = cost[k - 1], cost[k], cost[k + 1]
            curve = c0 - 2 * c1 + c2
            if curve > 1e-6:
                v += float(np.clip(0.5 * (c0 - c2) / curve, -0.5, 0.5))
        split[c], found[c] = v, True
    if found.sum() >= 2:
        cols = np.arange(len(split))
        weight = cv2.GaussianBlur(found.astype(np.float32)[None], (0, 0), config.split_smooth_px)[0]
        smooth = cv2.GaussianBlur((split * found).astype(np.float32)[None], (0, 0), config.split_smooth_px)[0]
        split = np.where(weight > 1e-3, smooth / np.maximum(weight, 1e-6), split)
        # Beyond the columns where the opening is wide enough, the split runs on at its last height.
        split = np.where(cols < cols[found].min(), split[cols[found].min()], split)
        split = np.where(cols > cols[found].max(), split[cols[found].max()], split)
    return split.astype(np.float32)


def lower_sheet_lift(head_init: np.ndarray, head_now: np.ndarray, jaw: tuple[np.ndarray, np.ndarray]) -> float:
    """How far (cm, up) the lower inner lip has risen against the jaw (the lip seal, mouthClose:
    the lips closing over the teeth), 0 where it has not. The lower teeth sheet rides up with it,
    behind the upper sheet: closing lips slide over the photo's own lower teeth and lip rim
    instead of leaving a slit of bright teeth (which FaceMesh reads as an open mouth)."""
    p = np.asarray(head_init[topo.LOWER_LIP_INNER_MID], np.float64)
    on_jaw = np.asarray(jaw[0], np.float64) @ p + np.asarray(jaw[1], np.float64)
    return float(max(on_jaw[1] - float(head_now[topo.LOWER_LIP_INNER_MID, 1]), 0.0))  # y is down


def _bilinear(img: np.ndarray, u: np.ndarray, v: np.ndarray, border=0.0) -> np.ndarray:
    """img [h, w, C] (or [h, w]; C at most 4) at float pixel positions (u, v) -> [N, C] (or [N]);
    ``border`` (a number, or one per channel) outside."""
    out = cv2.remap(img, u.astype(np.float32).reshape(-1, 1), v.astype(np.float32).reshape(-1, 1),
                    cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=border)
    return out.reshape(len(u), -1) if img.ndim == 3 else out.reshape(len(u))


def photo_mouth_layers(photo_mouth: PhotoMouth, camera: ViewCamera, photo_camera, rotation: np.ndarray,
                       translation: np.ndarray, head_init: np.ndarray, jaw: tuple[np.ndarray, np.ndarray],
                       box: tuple[int, int, int, int],
                       plane_depth_cm: float = MouthGeometryConfig().photo_teeth_depth_cm,
                       photo_pose: tuple[np.ndarray, np.ndarray] | None = None,
                       config: PhotoTeethConfig = PhotoTeethConfig(),
                       where: np.ndarray | None = None, lift_cm: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """The photo's teeth as two sheets behind the lips, seen from ``camera`` inside ``box``.

    Each sheet is curved with the depth of the photo's inner lips across the mouth (``plane_depth_cm``
    behind them). Each output ray meets the upper sheet (fixed to the skull) and the lower (moved by the
    jaw's rigid motion ``jaw``: rotation [3, 3], translation [3] in the head frame, as
    ``MouthScene.jaw_pose``, the motion of the 3D lower teeth); the hit points are taken back to the
    photo's jaw and projected into the photo, where each plane shows its side of the photo's teeth
    split (``PhotoMouth.split_v``). Both edges are anti-aliased (about ``config.edge_px`` output
    pixels): the two sides add up to the whole opening, so with the photo's own jaw the planes
    show the photo's pixels with no seam between them; the upper plane is in front where they
    overlap. ``rotation``/``translation`` are the head's pose in this frame (head -> world);
    ``photo_pose`` the pose the photo saw (default: the same), where the hits are read;
    ``where``: bool [h, w] or None, the pixels wanted (the others come back with alpha 0);
    ``lift_cm``: the lower sheet rides this far up beyond the jaw (``lower_sheet_lift``).
    Returns (rgb float32 [h, w, 3] 0..255, alpha float32 [h, w])."""
    x0, y0, x1, y1 = box
    hh, ww = y1 - y0, x1 - x0
    pm = photo_mouth
    d_cam = ray_directions(camera.intrinsics, box).reshape(-1, 3)
    wanted = None if where is None else np.flatnonzero(where)
    if wanted is not None:
        d_cam = d_cam[wanted]
    dirs = d_cam @ camera.rotation.T
    rotation = np.asarray(rotation, np.float64)
    read_r, read_t = photo_pose if photo_pose is not None else (rotation, translation)
    # Photo pixels per output pixel (about: the photo and the view see the mouth from similar distances).
    ramp = max(config.edge_px * photo_camera.focal_px / camera.intrinsics.focal_px, 1e-3)
    cols = np.arange(len(pm.split_v), dtype=np.float64)
    # Both sheets follow the depth of the photo's inner lips across the mouth (so the far corner of
    # a turned mouth reads the photo's corner, not past it), plane_depth_cm behind them in the
    # middle and meeting the lips at the corners; one profile for both, so their split meets
    # itself from every view.
    mid = 0.5 * (head_init[list(topo.LIP_INNER_UPPER)] + head_init[list(topo.LIP_INNER_LOWER)])
    order = np.argsort(mid[:, 0])
    prof_x = mid[order, 0]
    across = (prof_x - 0.5 * (prof_x[0] + prof_x[-1])) / max(0.5 * (prof_x[-1] - prof_x[0]), 1e-6)
    prof_z = mid[order, 2] + plane_depth_cm * np.sqrt(np.clip(1.0 - across**2, 0.0, 1.0))
    prof_slope = np.gradient(prof_z, prof_x)
    # As the lower sheet leaves the photo's place, only the lower teeth stay on it (the rest of
    # the opening below the split, its dark gap and lip rim, is the interior's).
    incisor = head_init[topo.LOWER_LIP_INNER_MID]
    moved = np.asarray(jaw[0], np.float64) @ incisor + np.asarray(jaw[1], np.float64) - np.array([0.0, lift_cm, 0.0])
    ends = camera.project(np.stack([incisor, moved]) @ rotation.T + translation)
    fade = float(np.clip(np.linalg.norm(ends[1] - ends[0]) / config.fade_px, 0.0, 1.0))
    layers = []
    for upper in (True, False):
        r_j, t_j = (np.eye(3), np.zeros(3)) if upper else (np.asarray(jaw[0], np.float64),
                                                           np.asarray(jaw[1], np.float64) + np.array([0.0, -lift_cm, 0.0]))
        # The ray in the frame of the photo's jaw: head frame, the jaw's motion undone.
        origin = ((np.asarray(camera.position, np.float64) - translation) @ rotation - t_j) @ r_j
        d = (dirs @ rotation) @ r_j
        dz = np.where(np.abs(d[:, 2]) < 1e-6, 1e-6, d[:, 2])
        t = (np.interp(origin[0], prof_x, prof_z) - origin[2]) / dz
        for _ in range(config.sheet_iterations):  # z = profile(x): Newton steps along the ray
            x = origin[0] + t * d[:, 0]
            miss = origin[2] + t * d[:, 2] - np.interp(x, prof_x, prof_z)
            slope = np.interp(x, prof_x, prof_slope)
            t = t - miss / (np.maximum(1.0 - slope * d[:, 0] / dz, 0.3) * dz)  # (kept from grazing steps)
        hits = origin[None] + t[:, None] * d
        uv = photo_camera.project(hits @ np.asarray(read_r, np.float64).T + read_t) - pm.xy
        split = np.interp(uv[:, 0], cols, pm.split_v)
        side = np.clip(0.5 + ((split - uv[:, 1]) if upper else (uv[:, 1] - split)) / ramp, 0.0, 1.0)
        sample = _bilinear(pm.crop_inside, uv[:, 0], uv[:, 1], (0.0, 0.0, 0.0, -1e3))
        edge = np.clip(0.5 + sample[:, 3] / ramp, 0.0, 1.0)
        if fade > 0 and not upper:  # the upper teeth stay with the skull, as the photo shows them
            edge = edge * (1.0 - fade * (1.0 - _bilinear(pm.teeth, uv[:, 0], uv[:, 1])))
        layers.append((sample[:, :3], (edge * side * (t > 0)).astype(np.float32)))
    (up_rgb, up_a), (lo_rgb, lo_a) = layers
    lo_a = np.minimum(lo_a, 1.0 - up_a)  # the upper teeth are in front where the planes overlap
    alpha = up_a + lo_a
    rgb = (up_rgb * up_a[:, None] + lo_rgb * lo_a[:, None]) / np.maximum(alpha, 1e-6)[:, None]
    if wanted is not None:
        full_rgb, full_a = np.zeros((hh * ww, 3), np.float32), np.zeros(hh * ww, np.float32)
        full_rgb[wanted], full_a[wanted] = rgb, alpha
        rgb, alpha = full_rgb, full_a
    return rgb.reshape(hh, ww, 3).astype(np.float32), alpha.reshape(hh, ww)
