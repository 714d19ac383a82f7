"""The relief's person layer as a triangle mesh, for the rasterised renderer.

The person height field (``ReliefScene.depth``, seen from the photo's camera) is sampled on a
regular grid of geometry pixels; each grid vertex is the canonical surface point on that pixel's
ray. Grid cells whose four corners all lie on the person become two triangles, so there are no
triangles across the silhouette: what the ray marcher makes see-through (its silhouette wall),
the mesh simply does not have.

llvmpipe's cost is mostly per triangle (about 0.3 us each on two cores), and a grid spends as
many on a flat cheek as on the nose. So the grid (the reference, ``triangle_budget = 0``) is then
simplified by quadric edge collapse (pyfqmr) to the triangle budget, with its border (the
silhouette) and the mouth region kept as they are (the lips deform the most, and the mouth's
opening is held between them, ``surface.MouthOpening``). The photo's view is unchanged by the
simplification (each fragment's colour is the photo's at its point's projection); turned views
differ from the grid's by a tenth of a level on average.

Per vertex the mesh also carries what the hidden-side fill needs and does not change from
frame to frame (``relief_renderer._mirror_where_seen_better`` computes the same per ray sample):
the photo coordinates of the left/right mirror point and the fill's weight without its view term.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.geometry.pinhole import Intrinsics
from core.render.config import HiddenSideConfig
from core.render.relief_renderer import NO_SURFACE_CM, ReliefScene


@dataclass(frozen=True)
class MeshConfig:
    """How finely the person height field is triangulated."""

    vertex_budget: int = 24_000  # grid vertices over the person, about (sets the grid step) ...
    min_step_px: int = 1  # ... with a step of at least this many geometry pixels
    face_refine: float = 1.8  # grid lines through the face are this much closer (its profile, nose,
    coarse_factor: float = 1.35  # lips), the others this much further apart than the even step
    face_pad: float = 0.1  # the fine band: the face's box grown by this share of its size
    fit_rounds: int = 4  # rescales of the step toward the budget
    frame_fade_share: float = 0.06  # where the photo's frame cuts the person, the relief fades out over
    # this share of the photo's shorter side when the view turns away from the photo's (see frame_edge;
    # 0 = no fade)
    triangle_budget: int = 20_000  # the grid is simplified to about this many triangles (0: the grid)
    simplify_aggressiveness: float = 7.0  # pyfqmr's growth of its error threshold per iteration


@dataclass
class ReliefMesh:
    """The person layer as triangles (world = the photo's camera frame, cm).

    positions:     float32 [V, 3]  canonical surface points (the renderer looks each fragment's
                   colour up at the photo projection of its interpolated canonical point)
    mirror_coords: float32 [V, 2]  texcoords of the vertex's left/right mirror point
    mirror_weight: float32 [V]     hidden-side fill weight without its view term (0..1)
    to_photo_x:    float32 [V]     head-frame x of the unit vector from the vertex to the photo camera
    mouth_region:  float32 [V]     1 on the photo's lips and mouth opening (grown a little), else 0:
                   the inner mouth may only show where the surface in view is the mouth's own
    frame_edge:    float32 [V]     1 on the photo's frame, falling to 0 over ``frame_fade_share``: where
                   the frame cut the person, turned views fade the relief out there (a straight cut
                   through hair or a chin would show as an edge; the head layer behind continues it)
    triangles:     int32 [F, 3]
    step_px:       grid step in geometry pixels (may be fractional)
    """

    positions: np.ndarray
    mirror_coords: np.ndarray
    mirror_weight: np.ndarray
    to_photo_x: np.ndarray
    mouth_region: np.ndarray
    frame_edge: np.ndarray
    triangles: np.ndarray
    step_px: float


def grid_step(person_pixels: int, config: MeshConfig = MeshConfig()) -> float:
    """The grid step (geometry pixels, may be fractional) that puts about the budget of vertices
    on the person."""
    return max(float(config.min_step_px), math.sqrt(max(person_pixels, 1) / config.vertex_budget))


def _grid_lines(length: int, step: float, band: tuple[float, float] | None = None,
                band_step: float | None = None) -> np.ndarray:
    """Pixel positions from 0 to length - 1: about ``step`` apart, and ``band_step`` apart within
    ``band`` (lo, hi) when given. [n] float64, increasing."""
    def even(a: float, b: float, s: float) -> np.ndarray:
        return np.linspace(a, b, max(int(round((b - a) / s)) + 1, 2))

    if band is None or band_step is None:
        return even(0.0, length - 1.0, step)
    lo, hi = float(np.clip(band[0], 0, length - 1)), float(np.clip(band[1], 0, length - 1))
    if hi - lo < 2 * band_step:
        return even(0.0, length - 1.0, step)
    parts = [even(lo, hi, band_step)]
    if lo > 0:
        parts.insert(0, even(0.0, lo, step)[:-1])
    if hi < length - 1:
        parts.append(even(hi, length - 1.0, step)[1:])
    return np.concatenate(parts)


def _face_band(scene: ReliefScene, pad: float) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """(x range, y range) in geometry pixels of the face (its fill mask), grown by ``pad``."""
    fill = scene.face_fill[0, 0].cpu().numpy() > 0.5
    if not fill.any():
        return None
    ys, xs = np.nonzero(fill)
    sx = scene.geo.width / scene.photo.width
    sy = scene.geo.height / scene.photo.height
    x0, x1, y0, y1 = xs.min() * sx, xs.max() * sx, ys.min() * sy, ys.max() * sy
    gx, gy = pad * (x1 - x0), pad * (y1 - y0)
    return (x0 - gx, x1 + gx), (y0 - gy, y1 + gy)


def _bilinear(image: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear lookup of image [H, W] at pixel coordinates uv [N, 2] (centres at integers),
    border-clamped. Returns [N]."""
    h, w = image.shape
    u = np.clip(uv[:, 0], 0, w - 1)
    v = np.clip(uv[:, 1], 0, h - 1)
    x0 = np.minimum(np.floor(u).astype(np.int64), w - 2) if w > 1 else np.zeros(len(u), np.int64)
    y0 = np.minimum(np.floor(v).astype(np.int64), h - 2) if h > 1 else np.zeros(len(v), np.int64)
    fx, fy = u - x0, v - y0
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def _texcoords(uv: np.ndarray, photo: Intrinsics) -> np.ndarray:
    """Photo pixel coordinates [N, 2] -> OpenGL texture coordinates [N, 2] (0..1 over the image;
    row 0 of the uploaded image is v = 0)."""
    return ((uv + 0.5) / np.array([photo.width, photo.height])).astype(np.float32)


def mouth_region_mask(lips_uv: np.ndarray, width: int, height: int, grow: float = 0.15) -> np.ndarray:
    """float32 [H, W]: 1 inside the photo's outer-lip polygon (pixels [M, 2]) grown by ``grow`` of
    its width, softened over a pixel."""
    import cv2

    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(lips_uv * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    r = max(1, int(round(grow * float(np.ptp(lips_uv[:, 0])))))
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 1.0)


def build_relief_mesh(scene: ReliefScene, config: MeshConfig = MeshConfig(),
                      hidden: HiddenSideConfig = HiddenSideConfig(),
                      mouth_region: np.ndarray | None = None) -> ReliefMesh:
    """Triangulate the person layer of ``scene`` (see module docstring); ``mouth_region`` float
    [H, W] at photo resolution (``mouth_region_mask``) becomes ``ReliefMesh.mouth_region``."""
    on_person = scene.depth[0, 0].cpu().numpy() < 0.5 * NO_SURFACE_CM
    # The scene marks the photo's outermost pixels "no surface" (the marcher's lookups past the
    # frame must miss); the mesh takes them from their neighbours and reaches the frame's edge.
    on_person[[0, -1], :] = on_person[[1, -2], :]
    on_person[:, [0, -1]] = on_person[:, [1, -2]]
    depth_open = scene.depth_open[0, 0].cpu().numpy().astype(np.float64)
    geo, photo = scene.geo, scene.photo
    step = grid_step(int(on_person.sum()), config)
    band = _face_band(scene, config.face_pad)
    # The step that puts about the budget of vertices on the person, with the face's lines
    # closer: a few rescales of the even estimate (the face's share of the person varies).
    for _ in range(config.fit_rounds):
        fine = max(float(config.min_step_px), step / config.face_refine)
        if band is None:
            ys, xs = _grid_lines(geo.height, step), _grid_lines(geo.width, step)
        else:
            ys = _grid_lines(geo.height, step * config.coarse_factor, band[1], fine)
            xs = _grid_lines(geo.width, step * config.coarse_factor, band[0], fine)
        ys[[0, -1]], xs[[0, -1]] = (-0.5, geo.height - 0.5), (-0.5, geo.width - 0.5)  # the frame's edges
        sub = on_person[np.ix_(np.clip(np.round(ys).astype(int), 0, geo.height - 1),
                               np.clip(np.round(xs).astype(int), 0, geo.width - 1))]
        ratio = sub.sum() / config.vertex_budget
        if abs(ratio - 1.0) < 0.1 or (ratio < 1.0 and fine <= config.min_step_px):
            break
        step = max(float(config.min_step_px), step * float(np.sqrt(ratio)))
    # A cell is drawn where all four corners are on the person. (Drawing cells with any corner on
    # it covers the matte's soft edge better at the photo's view, but in turned views the skirt,
    # at the relief's continued depth, hides more of the face: dlib identity got worse.)
    cell = sub[:-1, :-1] & sub[1:, :-1] & sub[:-1, 1:] & sub[1:, 1:]
    used = np.zeros_like(sub)
    used[:-1, :-1] |= cell
    used[1:, :-1] |= cell
    used[:-1, 1:] |= cell
    used[1:, 1:] |= cell
    index = -np.ones(sub.shape, np.int64)
    index[used] = np.arange(int(used.sum()))
    jj, ii = np.nonzero(used)
    uv_geo = np.stack([xs[ii], ys[jj]], axis=1)
    z = _bilinear(depth_open, uv_geo)
    positions = geo.unproject(uv_geo, z)
    r, c = np.nonzero(cell)
    a, b = index[r, c], index[r, c + 1]
    d, e = index[r + 1, c], index[r + 1, c + 1]
    # Split each cell along the diagonal whose ends are closer in depth (follows creases).
    split_ae = np.abs(z[a] - z[e]) <= np.abs(z[b] - z[d])
    tri_ae = np.concatenate([np.stack([a, b, e], 1), np.stack([a, e, d], 1)])
    tri_bd = np.concatenate([np.stack([a, b, d], 1), np.stack([b, e, d], 1)])
    keep_ae = np.concatenate([split_ae, split_ae])
    triangles = np.where(keep_ae[:, None], tri_ae, tri_bd).astype(np.int32)
    if config.triangle_budget > 0:
        keep = (_bilinear(mouth_region, photo.project(positions)) > 0.0 if mouth_region is not None
                else np.zeros(len(positions), bool))
        positions, triangles = simplify_keeping(positions, triangles, keep, config.triangle_budget,
                                                config.simplify_aggressiveness)
    uv_photo = photo.project(positions)
    mirror_uv, weight, to_photo_x = _hidden_side(scene, positions, uv_photo, hidden)
    border = np.minimum.reduce([uv_photo[:, 0] + 0.5, photo.width - 0.5 - uv_photo[:, 0],
                                uv_photo[:, 1] + 0.5, photo.height - 0.5 - uv_photo[:, 1]])
    fade_px = config.frame_fade_share * min(photo.width, photo.height)
    edge = 1.0 - np.clip(border / fade_px, 0.0, 1.0) if fade_px > 0 else np.zeros(len(border))
    mouth = _bilinear(mouth_region, uv_photo) if mouth_region is not None else np.zeros(len(uv_photo))
    return ReliefMesh(positions.astype(np.float32), _texcoords(mirror_uv, photo),
                      weight.astype(np.float32), to_photo_x.astype(np.float32), mouth.astype(np.float32),
                      edge.astype(np.float32), triangles, step)


def boundary_edges(triangles: np.ndarray) -> set[tuple[int, int]]:
    """The edges (i < j) used by exactly one triangle of int [F, 3]: the mesh's border."""
    edges = np.sort(np.concatenate([triangles[:, [0, 1]], triangles[:, [1, 2]], triangles[:, [2, 0]]]), axis=1)
    unique, count = np.unique(edges, axis=0, return_counts=True)
    return {(int(a), int(b)) for a, b in unique[count == 1]}


def simplify_keeping(positions: np.ndarray, triangles: np.ndarray, keep: np.ndarray, budget: int,
                     aggressiveness: float = MeshConfig().simplify_aggressiveness) -> tuple[np.ndarray, np.ndarray]:
    """Quadric edge-collapse simplification of a mesh (float [V, 3], int [F, 3]) to about
    ``budget`` triangles, leaving every triangle with a ``keep`` vertex (bool [V]) as it is and
    the border where it is (so the kept part and the simplified rest still share their edge).
    Returns (float64 [V', 3], int32 [F', 3]); vertices no triangle uses are dropped."""
    import pyfqmr

    kept = keep[triangles].any(axis=1)
    free = triangles[~kept]
    target = budget - int(kept.sum())
    if target <= 0 or len(free) <= target:
        return positions.astype(np.float64), triangles.astype(np.int32)
    used = np.unique(free)
    local = -np.ones(len(positions), np.int64)
    local[used] = np.arange(len(used))
    simplifier = pyfqmr.Simplify()
    simplifier.setMesh(positions[used].astype(np.float64), local[free].astype(np.int32))
    simplifier.simplify_mesh(target_count=target, aggressiveness=aggressiveness, preserve_border=True, verbose=False)
    new_positions, new_faces, _ = simplifier.getMesh()
    # Border vertices keep their exact coordinates: they join the kept part again by position.
    index_of = {p.tobytes(): i for i, p in zip(used, positions[used].astype(np.float64))}
    ids = np.array([index_of.get(p.tobytes(), -1) for p in np.asarray(new_positions, np.float64)], np.int64)
    moved = ids < 0
    ids[moved] = len(positions) + np.arange(int(moved.sum()))
    all_positions = np.concatenate([positions.astype(np.float64), np.asarray(new_positions, np.float64)[moved]])
    all_triangles = np.concatenate([triangles[kept], ids[np.asarray(new_faces, np.int64)]])
    live = np.unique(all_triangles)
    compact = -np.ones(len(all_positions), np.int64)
    compact[live] = np.arange(len(live))
    return all_positions[live], compact[all_triangles].astype(np.int32)


def _hidden_side(scene: ReliefScene, points: np.ndarray, uv: np.ndarray,
                 config: HiddenSideConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per vertex: the mirror point's photo pixels [V, 2], the fill weight without its view term
    [V] and the head-frame x of the direction to the photo camera [V] (see
    ``relief_renderer._mirror_where_seen_better``, which this follows term by term)."""
    face_fill = scene.face_fill[0, 0].cpu().numpy().astype(np.float64)
    depth_open = scene.depth_open[0, 0].cpu().numpy().astype(np.float64)
    head = scene.head_affine.cpu().numpy().astype(np.float64)
    mirror = scene.mirror_affine.cpu().numpy().astype(np.float64)
    photo, geo = scene.photo, scene.geo
    cover = _bilinear(scene.mirror_cover[0, 0].cpu().numpy().astype(np.float64), uv)
    x_head = points @ head[0, :3] + head[0, 3]
    to_photo = -(points / np.linalg.norm(points, axis=1, keepdims=True)) @ head[0, :3]
    side = np.sign(to_photo)
    q = points @ mirror[:, :3].T + mirror[:, 3]
    q_uv = photo.project(q)
    q_geo = (q_uv + 0.5) * np.array([geo.width / photo.width, geo.height / photo.height]) - 0.5
    seen = 1.0 - config.mirror_hidden_cm(q[:, 2] - _bilinear(depth_open, q_geo))
    mirrored_cover = _bilinear(face_fill, q_uv)
    weight = cover * config.photo_turn(np.abs(to_photo)) * config.past_plane_cm(-side * x_head) * seen * mirrored_cover
    weight = np.where(cover > config.min_face_mask, weight, 0.0)
    return q_uv, weight, to_photo
