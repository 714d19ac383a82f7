"""Ray marching the layered relief from any camera (the volume-rendering step, Eq. 2 / 7).

The person layer is a height field over the photo's image plane: a world point p is behind the
surface when z(p) >= D(pi(p)), with pi the photo's projection. A ray's first crossing is found by
a fixed number of uniform steps in depth (deterministic, no jitter) followed by regula-falsi
refinement. Rays that miss the person, and the soft matte at its edge, see the background plane.
Beyond the person's silhouette the height field drops to NO_SURFACE, which makes a steep wall
there; a ray that strikes that wall (rather than the surface itself) passes through it, so
that off-axis views do not smear the silhouette's colour along the view direction.

``render_relief`` takes a *surface query* so that the same marcher serves the fast path
(a per-frame deformed height field, see ``deformation.warp_height_field``) and the reference
path (every sample displaced by Eq. 7 before the canonical relief is read).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.geometry.pinhole import (Intrinsics, grid_affine, grid_to_pixels, project_to_grid,
                                   ray_directions_torch, unproject_torch)
from core.preprocess.relief import extend_beyond_frame
from core.preprocess.subject import Subject
from core.render.config import HiddenSideConfig, MarchConfig, RenderConfig, WallConfig
from core.render.camera import ViewCamera

NO_SURFACE_CM = 1.0e4  # height-field value where there is no person (never hit)


@dataclass
class ReliefScene:
    """Per-subject render tensors on one device.

    depth:      float32 [1, 1, h, w]  person-layer depth at geometry resolution, NO_SURFACE outside
    depth_open: float32 [1, 1, h, w]  the same depth without the person gate (defined everywhere)
    geo:        Intrinsics of the geometry grid (photo camera scaled to h x w)
    photo:      Intrinsics of the full-resolution photo
    appearance: float32 [1, 4, H, W]  RGB in [0, 1] + matte alpha
    background: float32 [1, 3, H', W']  background layer continued past the photo's frame
    background_geo: Intrinsics of ``background`` (the photo camera, principal point shifted)
    face_fill:  float32 [1, 1, H, W]  face coverage with eye/mouth holes filled, softened
                (``Relief.face_fill``): a mirror point must lie on it
    mirror_cover: float32 [1, 1, H, W]  ``face_fill`` grown by ``HiddenSideConfig.cover_grow`` of the
                face's width: where the mirror fill may act (past the far cheek's outline the photo
                often has a strip of background inside the person matte, which a view of the far
                side would otherwise see as a smear of background colour)
    mirror_affine: float32 [3, 4]  left/right reflection of camera-frame points about the head's
                symmetry plane (p' = A[:, :3] p + A[:, 3])
    head_affine: float32 [3, 4]  camera frame -> head frame shifted so that the symmetry plane is x = 0
    background_depth: float (cm)
    z_range:    (near, far) depth range of the person layer (cm), with margin for deformation
    """

    depth: torch.Tensor
    depth_open: torch.Tensor
    geo: Intrinsics
    photo: Intrinsics
    appearance: torch.Tensor
    background: torch.Tensor
    background_geo: Intrinsics
    face_fill: torch.Tensor
    mirror_cover: torch.Tensor
    mirror_affine: torch.Tensor
    head_affine: torch.Tensor
    background_depth: float
    z_range: tuple[float, float]

    @staticmethod
    def from_subject(subject: Subject, device: torch.device, march: MarchConfig = MarchConfig(),
                     wall: WallConfig = WallConfig(), hidden: HiddenSideConfig = HiddenSideConfig()) -> "ReliefScene":
        r = subject.relief
        h, w = r.depth.shape
        photo = subject.intrinsics
        geo = photo.resized(w, h)
        alpha_geo = cv2.resize(r.alpha, (w, h), interpolation=cv2.INTER_AREA)
        person = cv2.dilate((alpha_geo > wall.person_alpha_min).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        depth = np.where(person, r.depth, NO_SURFACE_CM).astype(np.float32)
        # A frame of "no surface" so that lookups beyond the photo (border padding) miss the person.
        depth[[0, -1], :] = NO_SURFACE_CM
        depth[:, [0, -1]] = NO_SURFACE_CM
        margin_cm = march.depth_margin_cm
        near = float(r.depth[person].min()) - margin_cm if person.any() else r.background_depth
        far = float(r.depth[person].max()) + margin_cm if person.any() else r.background_depth
        app = np.concatenate([r.appearance.astype(np.float32) / 255.0, r.alpha[..., None]], axis=2)
        # Reflection about the head's symmetry plane x = c (head frame), c the mesh's mean x.
        rot = np.asarray(subject.rotation, np.float64)
        trans = np.asarray(subject.translation, np.float64)
        c = float(subject.head_mesh[:, 0].astype(np.float64).mean())
        m = rot @ np.diag([-1.0, 1.0, 1.0]) @ rot.T
        affine = np.concatenate([m, (trans - m @ trans + 2 * c * rot[:, 0])[:, None]], axis=1)
        head = np.concatenate([rot.T, (-rot.T @ trans - np.array([c, 0.0, 0.0]))[:, None]], axis=1)
        to = lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device)  # noqa: E731
        background, px, py = extend_beyond_frame(r.background)
        background_geo = photo.cropped(-px, -py, background.shape[1], background.shape[0])
        return ReliefScene(
            depth=to(depth)[None, None], depth_open=to(r.depth.astype(np.float32))[None, None], geo=geo, photo=photo,
            appearance=to(app.transpose(2, 0, 1))[None],
            background=to(background.transpose(2, 0, 1) / 255.0)[None], background_geo=background_geo,
            face_fill=to(r.face_fill.astype(np.float32))[None, None],
            mirror_cover=to(grown_cover(r.face_fill, hidden.cover_grow))[None, None],
            mirror_affine=to(affine.astype(np.float32)), head_affine=to(head.astype(np.float32)),
            background_depth=float(r.background_depth), z_range=(near, min(far, r.background_depth - march.background_clearance_cm)),
        )


def grown_cover(face_fill: np.ndarray, grow: float) -> np.ndarray:
    """``face_fill`` float [H, W] grown by ``grow`` of the face's width (a disc), softened like it:
    float32 [H, W] in 0..1 (``ReliefScene.mirror_cover``)."""
    face = face_fill > 0.5
    if not face.any() or grow <= 0:
        return face_fill.astype(np.float32)
    xs = np.nonzero(face.any(axis=0))[0]
    r = max(1, int(round(grow * (xs.max() - xs.min() + 1))))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    grown = cv2.dilate(face.astype(np.uint8), disc).astype(np.float32)
    return np.maximum(cv2.GaussianBlur(grown, (0, 0), 1.0), face_fill).astype(np.float32)


def half_resolution(scene: ReliefScene) -> ReliefScene:
    """The same scene with its height field at half the geometry resolution (for output sizes
    that do not need more): the per-frame warp and the march then touch a quarter of the pixels.
    Appearance, matte and background stay at full resolution."""
    h, w = scene.depth.shape[-2:]
    hh, hw = max(h // 2, 2), max(w // 2, 2)
    open_half = F.interpolate(scene.depth_open, size=(hh, hw), mode="area")
    gated = F.interpolate((scene.depth < 0.5 * NO_SURFACE_CM).float(), size=(hh, hw), mode="area") > 0.5
    depth = torch.where(gated, open_half, torch.full_like(open_half, NO_SURFACE_CM))
    depth[..., [0, -1], :] = NO_SURFACE_CM
    depth[..., :, [0, -1]] = NO_SURFACE_CM
    return dataclasses.replace(scene, depth=depth, depth_open=open_half, geo=scene.geo.resized(hw, hh))


def pixel_rays(camera: ViewCamera, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """World-space ray origin [3] and directions [H*W, 3], scaled so that each direction's world
    z component is 1 (rays are parametrised by world depth)."""
    d_cam = ray_directions_torch(camera.intrinsics, device=device)
    rot = torch.as_tensor(camera.rotation, dtype=torch.float32, device=device)
    d = d_cam.view(-1, 3) @ rot.T
    d = d / d[:, 2:3].clamp_min(1e-3)
    o = torch.as_tensor(camera.position, dtype=torch.float32, device=device)
    return o, d


def sample_image(image: torch.Tensor, grid: torch.Tensor, padding: str = "border") -> torch.Tensor:
    """Bilinear lookup of image [1, C, H, W] at grid coordinates [N, 2] -> [N, C]."""
    out = F.grid_sample(image, grid.view(1, 1, -1, 2), mode="bilinear", padding_mode=padding,
                        align_corners=False)
    return out.view(image.shape[1], -1).T


SurfaceQuery = Callable[[torch.Tensor], torch.Tensor]
"""world points [N, 3] -> signed distance to the surface along z, [N] (>= 0 behind the surface)."""


def height_field_query(depth: torch.Tensor, geo: Intrinsics) -> SurfaceQuery:
    """Surface query of a height field depth [1, 1, h, w] seen from the photo camera."""

    def query(points: torch.Tensor) -> torch.Tensor:
        grid = project_to_grid(points, geo)
        inside = (grid.abs() <= 1).all(dim=1)
        d = sample_image(depth, grid)[:, 0]
        return torch.where(inside, points[:, 2] - d, torch.full_like(d, -1.0))

    return query


def surface_gap(depth: torch.Tensor, geo: Intrinsics, points: torch.Tensor,
                interior_slack_cm: float = WallConfig().interior_slack_cm) -> torch.Tensor:
    """How far (cm, along z) the points [N, 3] lie behind the person surface continued smoothly
    over the silhouette (bilinear over person pixels only, NO_SURFACE pixels left out), less a
    slack where no NO_SURFACE pixel is near. A hit on the surface has a gap near 0 or below; a
    hit on the wall at the silhouette has the wall's height.
    depth: [1, 1, h, w] height field with NO_SURFACE outside the person. Returns [N]."""
    valid = (depth < 0.5 * NO_SURFACE_CM).to(depth.dtype)
    s = sample_image(torch.cat([depth * valid, valid], dim=1), project_to_grid(points, geo))
    gap = points[:, 2] - s[:, 0] / s[:, 1].clamp_min(1e-6)
    # Away from the silhouette (all four neighbours on the person) a hit far behind the surface
    # is a ray that came in through the wall between two march steps; a small gap there is only
    # the march's residual on steep surfaces, which must not let the background through.
    interior = s[:, 1] >= 1.0 - 1e-5
    return torch.where(interior, gap - interior_slack_cm, gap)


def wall_transparency(gap: torch.Tensor, wall: WallConfig = WallConfig()) -> torch.Tensor:
    """Opacity factor in [0, 1] of a hit with surface gap ``gap`` [N] (1 on the surface)."""
    return (1.0 - (gap - wall.start_cm) / wall.span_cm).clamp(0.0, 1.0)


def first_true(flags: torch.Tensor) -> torch.Tensor:
    """Index of the first True along dim 0 of a bool [S, R] (0 where none). A short loop over S:
    much faster on the CPU than argmax over the strided first dimension."""
    first = torch.zeros(flags.shape[1], dtype=torch.long, device=flags.device)
    for step in range(flags.shape[0] - 1, -1, -1):
        first = torch.where(flags[step], step, first)
    return first


def first_crossing(ts: torch.Tensor, f: torch.Tensor):
    """From samples ts [S, R] with values f [S, R] (>= 0 behind the surface): whether each ray
    crosses, the index of its first sample behind, and the bracket (lo, hi, f_lo, f_hi) [R]."""
    behind = f >= 0
    first = first_true(behind)
    prev = (first - 1).clamp_min(0)
    cols = torch.arange(f.shape[1], device=f.device)
    return behind.any(dim=0), first, (ts[prev, cols], ts[first, cols], f[prev, cols], f[first, cols])


def refine_crossing(f_at: Callable[[torch.Tensor], torch.Tensor], lo: torch.Tensor, hi: torch.Tensor,
                    flo: torch.Tensor, fhi: torch.Tensor, iterations: int,
                    config: MarchConfig = MarchConfig()) -> torch.Tensor:
    """Regula falsi (Illinois variant) on brackets [lo, hi] with f(lo) < 0 <= f(hi), all [R];
    returns the crossing t.

    Where the ray meets a steep wall of the height field (the hidden side of the nose, a
    silhouette) f is kinked, and plain regula falsi keeps moving one end only; the Illinois rule
    halves the kept end's f when the same end is kept twice. f is also capped at
    +-``config.secant_cap_cm``: across a silhouette wall it jumps by NO_SURFACE, and the uncapped secant
    would barely move off the far end, so where the crossing lands would depend on the march's
    step phase."""
    def secant(a, b, fa, fb, clamp):
        denom = fb - fa
        w = torch.where(denom.abs() > 1e-6, -fa / denom, torch.full_like(denom, 0.5))
        return a + (b - a) * w.clamp(*clamp)

    def capped(f: torch.Tensor) -> torch.Tensor:
        return f.clamp(-config.secant_cap_cm, config.secant_cap_cm)

    flo, fhi = capped(flo), capped(fhi)
    last = torch.zeros_like(lo, dtype=torch.bool)  # which end moved last: True = hi
    for k in range(iterations):
        tm = secant(lo, hi, flo, fhi, config.secant_clamp)
        fm = capped(f_at(tm))
        behind = fm >= 0
        if k:
            # The same end moves again: the other one has been kept twice, halve its weight.
            flo = torch.where(behind & last, 0.5 * flo, flo)
            fhi = torch.where(~behind & ~last, 0.5 * fhi, fhi)
        hi, fhi = torch.where(behind, tm, hi), torch.where(behind, fm, fhi)
        lo, flo = torch.where(behind, lo, tm), torch.where(behind, flo, fm)
        last = behind
    return secant(lo, hi, flo, fhi, (0.0, 1.0))


def march(query: SurfaceQuery, origin: torch.Tensor, dirs: torch.Tensor, z_range: tuple[float, float],
          steps: int, refine: int = 5, config: MarchConfig = MarchConfig()) -> tuple[torch.Tensor, torch.Tensor]:
    """First surface crossing of each ray (deterministic uniform steps + regula falsi).

    origin [3], dirs [R, 3] with dirs[:, 2] == 1. Returns (t [R], hit bool [R]); the hit point is
    origin + t * dirs, t is the world depth travelled.
    """
    near, far = z_range
    t0 = (near - origin[2]).clamp_min(0.0).expand(dirs.shape[0])
    t1 = (far - origin[2]).clamp_min(0.0).expand(dirs.shape[0])
    frac = torch.linspace(0.0, 1.0, steps, device=dirs.device)
    ts = t0[None] + (t1 - t0)[None] * frac[:, None]  # [S, R]
    pts = origin + ts[..., None] * dirs[None]
    f = query(pts.view(-1, 3)).view(steps, -1)
    hit, first, bracket = first_crossing(ts, f)
    t = refine_crossing(lambda tm: query(origin + tm[:, None] * dirs), *bracket, refine, config)
    return torch.where(hit & (first == 0), t0, t), hit


def _project_coeffs(depth: torch.Tensor, geo: Intrinsics, origin: torch.Tensor, dirs: torch.Tensor):
    """Grid coordinates along rays o + t d (d_z = 1) as (P + Q t) / (o_z + t) + c: per axis (P, Q [R], c).
    ``geo`` must have the size of ``depth`` [1, 1, h, w]."""
    assert depth.shape[-2:] == (geo.height, geo.width), (depth.shape, geo)
    (ax, cx), (ay, cy) = grid_affine(geo)
    return (ax * origin[0], ax * dirs[:, 0], cx), (ay * origin[1], ay * dirs[:, 1], cy)


def march_height_field(depth: torch.Tensor, geo: Intrinsics, origin: torch.Tensor, dirs: torch.Tensor,
                       z_range: tuple[float, float], steps: int, refine: int = 5,
                       config: MarchConfig = MarchConfig()) -> tuple[torch.Tensor, torch.Tensor]:
    """``march`` specialised to a height field seen from the photo camera (the fast path).

    All rays of a pinhole camera share their origin, and with dirs[:, 2] == 1 every ray is at the
    same world depth z_s at step s. The photo projection of step s of every ray is then
    (P + Q t_s) / z_s, so all sample coordinates come from one small matrix product instead of
    per-sample arithmetic. Same result as ``march(height_field_query(depth, geo), ...)``; the
    depth map must have a NO_SURFACE border (lookups outside the photo use border padding).
    """
    near, far = z_range
    oz = origin[2]
    t0 = float((near - oz).clamp_min(0.0))
    t1 = float((far - oz).clamp_min(0.0))
    ts = torch.linspace(t0, t1, steps, device=dirs.device)
    z = oz + ts
    # Per ray: g(t) = (P + Q t) / (oz + t) + c, for x and y.
    (px, qx, cx), (py, qy, cy) = _project_coeffs(depth, geo, origin, dirs)
    pq_x = torch.stack([px.expand_as(qx), qx])  # [2, R]
    pq_y = torch.stack([py.expand_as(qy), qy])
    m = torch.stack([1.0 / z, ts / z], dim=1)  # [S, 2]
    grid = torch.stack([m @ pq_x + cx, m @ pq_y + cy], dim=-1)  # [S, R, 2]
    d = F.grid_sample(depth, grid[None], mode="bilinear", padding_mode="border", align_corners=False)[0, 0]
    f = z[:, None] - d  # [S, R]
    hit, first, bracket = first_crossing(ts[:, None].expand_as(f), f)

    def f_at(t: torch.Tensor) -> torch.Tensor:
        zt = oz + t
        g = torch.stack([(pq_x[0] + pq_x[1] * t) / zt + cx, (pq_y[0] + pq_y[1] * t) / zt + cy], dim=-1)
        dd = F.grid_sample(depth, g.view(1, 1, -1, 2), mode="bilinear", padding_mode="border",
                           align_corners=False).view(-1)
        return zt - dd

    t = refine_crossing(f_at, *bracket, refine, config)
    return torch.where(hit & (first == 0), torch.full_like(t, t0), t), hit


def march_windows(depth: torch.Tensor, geo: Intrinsics, origin: torch.Tensor, dirs: torch.Tensor,
                  lo: torch.Tensor, hi: torch.Tensor, steps: int, refine: int,
                  config: MarchConfig = MarchConfig()) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Like ``march_height_field`` but each ray searches its own depth window [lo, hi] (t units).
    Returns (t, hit, started_behind) [R]: ``started_behind`` marks rays already behind the surface
    at ``lo``, whose first crossing lies before their window."""
    (px, qx, cx), (py, qy, cy) = _project_coeffs(depth, geo, origin, dirs)
    oz = origin[2]

    def f_at(t: torch.Tensor) -> torch.Tensor:  # t [..., R]
        inv = 1.0 / (oz + t)
        g = torch.stack([(px + qx * t) * inv + cx, (py + qy * t) * inv + cy], dim=-1)
        dd = F.grid_sample(depth, g.view(1, 1, -1, 2), mode="bilinear", padding_mode="border",
                           align_corners=False).view(t.shape)
        return oz + t - dd

    frac = torch.linspace(0.0, 1.0, steps, device=dirs.device)[:, None]
    ts = lo[None] + (hi - lo)[None] * frac  # [S, R]
    f = f_at(ts)
    hit, first, bracket = first_crossing(ts, f)
    t = refine_crossing(f_at, *bracket, refine, config)
    return torch.where(first == 0, lo, t), hit, f[0] >= 0


def _step_buckets(first: int, last: int) -> list[int]:
    """Sample counts for groups of fine-march windows: most windows need ``first``, some near
    silhouettes twice that, a few (steep walls) up to ``last``. Few groups: each costs a fixed
    overhead of small tensor operations."""
    return sorted({min(first, last), min(2 * first, last), last})


def march_coarse_to_fine(depth: torch.Tensor, geo: Intrinsics, origin: torch.Tensor, dirs: torch.Tensor,
                         height: int, width: int, z_range: tuple[float, float], steps: int,
                         refine: int = 3, config: MarchConfig = MarchConfig()) -> tuple[torch.Tensor, torch.Tensor]:
    """Two-level march: every second pixel of every second row is marched over the whole depth
    range; every pixel then searches only the window spanned by its coarse neighbours' hits.
    Pixels whose coarse neighbours all missed the person miss it too. A pixel that is already
    behind the surface where its window starts (near a silhouette wall, where neighbours hit at
    very different depths) is marched again over the whole range, as the full march would.
    Returns (t [R], hit [R])."""
    grid_dirs = dirs.view(height, width, 3)
    coarse = grid_dirs[::2, ::2]
    ch, cw = coarse.shape[:2]
    t_c, hit_c = march_height_field(depth, geo, origin, coarse.reshape(-1, 3), z_range, steps,
                                    config.coarse_refine, config)
    near, far = z_range
    t0 = float(max(near - float(origin[2]), 0.0))
    t1 = float(max(far - float(origin[2]), 0.0))
    delta = max((t1 - t0) / max(steps - 1, 1), 1e-6)
    big = 1.0e9
    t_c = t_c.view(1, 1, ch, cw)
    hit_c = hit_c.view(1, 1, ch, cw)
    t_min = -F.max_pool2d(-torch.where(hit_c, t_c, torch.full_like(t_c, big)), 3, 1, 1)
    t_max = F.max_pool2d(torch.where(hit_c, t_c, torch.full_like(t_c, -big)), 3, 1, 1)
    any_hit = F.max_pool2d(hit_c.to(torch.float32), 3, 1, 1) > 0

    def up(x: torch.Tensor) -> torch.Tensor:
        return x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)[0, 0, :height, :width].reshape(-1)

    margin = config.window_margin_steps * delta
    lo = (up(t_min) - margin).clamp(t0, t1)
    hi = (up(t_max) + margin).clamp(t0, t1)
    maybe = up(any_hit)
    t = torch.full((dirs.shape[0],), t1, device=dirs.device)
    hit = torch.zeros(dirs.shape[0], dtype=torch.bool, device=dirs.device)
    # Windows are searched with samples at most ``fine_spacing_steps`` coarse steps apart, so that
    # no thin wall or ridge is stepped over where the coarse neighbours hit at very different
    # depths (silhouettes). Rays are grouped by the sample count they need (most need fine_steps).
    need = torch.ceil((hi - lo) / (config.fine_spacing_steps * delta)).to(torch.long) + 1
    lower = 0
    for cap in _step_buckets(config.fine_steps, steps):
        group = maybe & (need > lower) & (need <= cap) if cap < steps else maybe & (need > lower)
        lower = cap
        idx = torch.nonzero(group).squeeze(1)
        if not idx.numel():
            continue
        tf, hf, early = march_windows(depth, geo, origin, dirs[idx], lo[idx], hi[idx], cap, refine, config)
        t[idx] = tf
        hit[idx] = hf
        redo = idx[early & (lo[idx] > t0)]
        if redo.numel():
            t[redo], hit[redo] = march_height_field(depth, geo, origin, dirs[redo], z_range, steps, refine, config)
    return t, hit


def _mirror_where_seen_better(scene: ReliefScene, app: torch.Tensor, src: torch.Tensor,
                              dirs: torch.Tensor, hit_z: torch.Tensor,
                              config: HiddenSideConfig = HiddenSideConfig()) -> torch.Tensor:
    """Hidden-side fill: when the photo saw the head turned and this view looks at the far half
    of the face, take that half's colour from its left/right mirror point on the near half.

    The point under each hit (on the photo ray through ``src``, at the hit's depth ``hit_z``
    [n]) is reflected about the head's symmetry plane and projected into the photo, so the mirror
    position is a smooth function of the surface point, also on the steep strips that a grazing
    region occupies in the photo (the relief's own depth there jumps within a pixel: read at
    ``src`` it would make neighbouring hits mirror from far apart). Where the expression moves the
    face, ``hit_z`` is the moved point's depth, not the canonical one: off by the displacement's
    depth component (a few mm at the jaw). The weight is a product of smooth ramps: how far the
    photo saw the head turned, how far this view turns toward the far side, how far the point lies
    on the far side of the symmetry plane, whether the mirror point is in front in the photo, and a
    feathered face mask."""
    cover = sample_image(scene.mirror_cover, src)[:, 0]  # [n]
    cand = torch.nonzero(cover > config.min_face_mask).squeeze(1)
    if cand.numel() == 0:
        return app
    g = src[cand]
    ph = scene.photo
    z = hit_z[cand]
    p = unproject_torch(grid_to_pixels(g, ph.width, ph.height), z, ph)
    rot = scene.head_affine[:, :3]
    x_head = p @ scene.head_affine[0, :3] + scene.head_affine[0, 3]  # signed distance to the plane
    # Unit vectors toward the photo camera and toward this view, in the head frame (x component).
    to_photo = -(p / p.norm(dim=1, keepdim=True)) @ rot[0]
    view = dirs[cand] / dirs[cand].norm(dim=1, keepdim=True)
    to_view = -view @ rot[0]
    side = torch.sign(to_photo)
    turned = config.photo_turn(to_photo.abs())
    toward = config.view_turn(side * (to_photo - to_view))
    far = config.past_plane_cm(-side * x_head)
    w = cover[cand] * turned * toward * far
    keep = w > config.min_weight
    if not bool(keep.any()):
        return app
    sel, w, p = cand[keep], w[keep], p[keep]
    a = scene.mirror_affine
    q = p @ a[:, :3].T + a[:, 3]
    gq = project_to_grid(q, ph)
    zq = sample_image(scene.depth_open, gq)[:, 0]
    seen = 1.0 - config.mirror_hidden_cm(q[:, 2] - zq)
    mirrored = sample_image(torch.cat([scene.appearance[:, :3], scene.face_fill], dim=1), gq)
    ws = w * seen * mirrored[:, 3]
    app = app.clone()
    app[sel, :3] = app[sel, :3] * (1 - ws[:, None]) + mirrored[:, :3] * ws[:, None]
    return app


@dataclass
class ReliefImage:
    """Raw render: rgb float32 [3, H, W] in [0, 1]; hit_depth float32 [H, W] (cm, world z of the
    person hit, +inf where the ray missed the person)."""

    rgb: torch.Tensor
    hit_depth: torch.Tensor


def render_relief(scene: ReliefScene, camera: ViewCamera, query: SurfaceQuery | torch.Tensor,
                  source_of: Callable[[torch.Tensor], torch.Tensor], steps: int, refine: int = 5,
                  gap_of: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  config: RenderConfig = RenderConfig()) -> ReliefImage:
    """Render the person layer over the background plane.

    query:      surface query (see SurfaceQuery), or a height-field depth [1, 1, h, w] at the
                scene's geometry resolution (then the fast ``march_height_field`` is used)
    source_of:  world hit points [N, 3] -> grid coordinates [N, 2] into the full-resolution
                appearance (where the canonical colour of that point is)
    gap_of:     world hit points [N, 3] -> ``surface_gap`` [N] (cm) for a callable ``query``; with
                a depth tensor the gap comes from that tensor. Hits on the silhouette wall
                (large gap) are made transparent.
    config:     march, wall and hidden-side settings
    """
    device = scene.depth.device
    k = camera.intrinsics
    origin, dirs = pixel_rays(camera, device)
    if isinstance(query, torch.Tensor):
        t, hit = march_coarse_to_fine(query, scene.geo, origin, dirs, k.height, k.width, scene.z_range, steps, refine,
                                      config.march)
    else:
        t, hit = march(query, origin, dirs, scene.z_range, steps, refine, config.march)
    # Background plane.
    tb = (scene.background_depth - origin[2]).clamp_min(0.0)
    bg = sample_image(scene.background, project_to_grid(origin + tb * dirs, scene.background_geo))  # [R, 3]
    rgb = bg
    hit_depth = torch.full((dirs.shape[0],), float("inf"), device=device)
    idx = torch.nonzero(hit).squeeze(1)
    if idx.numel():
        pts = origin + t[idx, None] * dirs[idx]
        src = source_of(pts)
        app = sample_image(scene.appearance, src)  # [n, 4]
        app = _mirror_where_seen_better(scene, app, src, dirs[idx], pts[:, 2], config.hidden_side)
        alpha = app[:, 3:4]
        if isinstance(query, torch.Tensor):
            gap = surface_gap(query, scene.geo, pts, config.wall.interior_slack_cm)
            alpha = alpha * wall_transparency(gap, config.wall)[:, None]
        elif gap_of is not None:
            alpha = alpha * wall_transparency(gap_of(pts), config.wall)[:, None]
        rgb = rgb.clone()
        rgb[idx] = app[:, :3] * alpha + bg[idx] * (1 - alpha)
        hit_depth[idx] = pts[:, 2]
    return ReliefImage(rgb.T.reshape(3, k.height, k.width), hit_depth.view(k.height, k.width))
