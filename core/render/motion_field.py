"""Analytic parts of the backward displacement field: closing eyelids and rigid head motion.

Both are fields of the point (head frame, cm), so every consumer of ``Deformer.displacement_at``
(the fast height-field warp, the reference per-sample path, a mesh renderer) gets them.

* Eyelids (``EyeLids``): the face model's eyeBlink only narrows the lid gap (the NN mapping blends
  the lids' displacement across the opening). Here the upper lid's margin sweeps down to just past
  the lower lid: the skin between ``skin_above_cm`` above the lid margin and the margin stretches
  down over the eye, most near the margin, not at all at the top (the brow stays); below the moved
  margin the eye and the lower lid stay where they are (the lid edge occludes them).
* Head motion (``HeadRegion``, ``head_motion_matrix``): a small rigid motion of the head about a
  neck pivot, weighted 1 over the head (face, hair, ears) and falling smoothly to 0 down the
  neck, 0 on the torso. Backward: p -> p + w(p) (M^-1 p - p), exact where w = 1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from core.face import topology as topo

HEAD_POSE_CHANNELS = ("yaw", "pitch", "roll", "x", "y", "z")
"""FaceState.head: degrees (yaw about the head's y axis, + toward the subject's left; pitch about x,
+ nods down; roll about z, + tilts toward the subject's left) and cm (head frame)."""


@dataclass(frozen=True)
class LidConfig:
    skin_above_cm: float = 2.5  # the skin above the lid margin that stretches over the eye
    overshoot_cm: float = 0.6  # a shut lid's margin lies this far past the lower lid contour (no sclera sliver) ...
    corner_reach_cm: float = 0.9  # ... tapering to 0 this far past the eye's corners
    depth_full_cm: float = 1.2  # full effect within this head-frame depth of the lid contour ...
    depth_zero_cm: float = 2.2  # ... none beyond this one (the field is 3D; the reference path samples whole rays)
    recess_cm: float = 1.0  # forward motion (mesh renderers): the eye's opening sinks this far behind the
    # closing lid, so the lid skin moved over it wins the depth test instead of interleaving with it


@dataclass(frozen=True)
class HeadRegionConfig:
    """Where the head's rigid motion applies (head frame, cm; y is down, the chin is the lowest vertex)."""

    neck_full_below_chin_cm: float = 0.5  # weight 1 down to this far below the chin ...
    neck_zero_below_chin_cm: float = 7.0  # ... falling smoothly to 0 at this far below it
    radius_full_cm: float = 13.0  # weight 1 within this distance of the head centre ...
    radius_zero_cm: float = 18.0  # ... 0 beyond this one (hair, ears inside; shoulders out)
    centre_behind_ears_cm: float = 0.0  # the head centre: midway between the ear landmarks, this far behind
    pivot_below_ears_cm: float = 3.0  # the neck pivot: below the ear landmarks by this much ...
    pivot_behind_ears_cm: float = 0.5  # ... and this far behind them
    max_translation_cm: float = 1.5  # the largest head translation the fast path allows for ...
    max_rotation_deg: float = 10.0  # ... and rotation (how far past its silhouette the head can move)


EAR_RIGHT, EAR_LEFT = 234, 454  # FaceMesh vertices at the face's sides, in front of the ears


def _smoothstep(t: torch.Tensor) -> torch.Tensor:
    t = t.clamp(0, 1)
    return t * t * (3 - 2 * t)


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Piecewise-linear interpolation (xp increasing), clamped at the ends. [N]."""
    xc = x.clamp(xp[0], xp[-1]).contiguous()
    seg = torch.searchsorted(xp, xc).clamp(1, len(xp) - 1)
    x0, x1 = xp[seg - 1], xp[seg]
    t = ((xc - x0) / (x1 - x0).clamp_min(1e-6)).clamp(0, 1)
    return fp[seg - 1] * (1 - t) + fp[seg] * t


class EyeLids:
    """The subject's two eye openings (head frame), and the backward field that closes them."""

    EYES = ((topo.RIGHT_EYE_UPPER, topo.RIGHT_EYE_LOWER), (topo.LEFT_EYE_UPPER, topo.LEFT_EYE_LOWER))
    """FaceState.blink order: (subject's left, subject's right), as eyeBlinkLeft, eyeBlinkRight."""

    def __init__(self, head_mesh: np.ndarray, device: torch.device, config: LidConfig = LidConfig()):
        self.config = config
        f32 = dict(dtype=torch.float32, device=device)
        self.curves = []  # per eye, in blink order (left, right): x, y_upper, y_lower, z_upper
        for upper, lower in (self.EYES[1], self.EYES[0]):
            up, lo = head_mesh[list(upper)], head_mesh[list(lower)]
            x_lo, x_hi = max(up[:, 0].min(), lo[:, 0].min()), min(up[:, 0].max(), lo[:, 0].max())
            r = config.corner_reach_cm
            x = np.linspace(x_lo - r, x_hi + r, 32)
            yu = np.interp(x, *self._sorted(up[:, 0], up[:, 1]))
            yl = np.interp(x, *self._sorted(lo[:, 0], lo[:, 1]))
            zu = np.interp(x, *self._sorted(up[:, 0], up[:, 2]))
            # The lower line the margin reaches: past the lower lid, tapering to the upper lid
            # just beyond the corners (the photo's sclera reaches into the corners).
            taper = np.clip(np.minimum(x - (x_lo - r), (x_hi + r) - x) / (2 * r), 0, 1)
            yl = np.maximum(yl, yu) + config.overshoot_cm * taper * taper * (3 - 2 * taper)
            self.curves.append(tuple(torch.as_tensor(a, **f32) for a in (x, yu, yl, zu)))

    @staticmethod
    def _sorted(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(x)
        return x[order], y[order]

    def gaps_cm(self) -> np.ndarray:
        """The photo's lid gap at each eye's middle (left, right), cm."""
        return np.array([float((yl - yu).max()) for _, yu, yl, _ in self.curves])

    def backward(self, head: torch.Tensor, closure: tuple[float, float]) -> torch.Tensor:
        """Backward displacement [N, 3] (head frame, cm) at deformed points ``head`` [N, 3] for
        lid closures (left, right) in [0, 1] (1: the upper lid margin on the lower lid)."""
        c = self.config
        out = torch.zeros_like(head)
        for (xs, yu_c, yl_c, zu_c), amount in zip(self.curves, closure):
            if amount <= 0:
                continue
            near = ((head[:, 0] > xs[0]) & (head[:, 0] < xs[-1]) & (head[:, 1] > yu_c.min() - c.skin_above_cm)
                    & (head[:, 1] < yl_c.max()))
            idx = torch.nonzero(near).squeeze(1)
            if not idx.numel():
                continue
            x, y, z = head[idx, 0], head[idx, 1], head[idx, 2]
            yu, yl, zu = _interp(x, xs, yu_c), _interp(x, xs, yl_c), _interp(x, xs, zu_c)
            edge = yu + float(amount) * (yl - yu)  # where the lid margin is now
            top = yu - c.skin_above_cm
            # Between the top of the stretched skin and the moved margin: read the skin above the
            # photo's margin, compressed back to its own height.
            stretched = (y > top) & (y <= edge)
            # Forward, skin at u = (s - top) / H goes to v = u + d u^2 (d = margin travel / H):
            # unmoved at the top (the brow stays), stretched most at the margin. Inverted here.
            h = c.skin_above_cm
            d = ((edge - yu) / h).clamp_min(1e-6)
            v = ((y - top) / h).clamp_min(0)
            u = (torch.sqrt(1 + 4 * d * v) - 1) / (2 * d)
            source = top + u * h
            depth = 1.0 - _smoothstep(((z - zu).abs() - c.depth_full_cm) / (c.depth_zero_cm - c.depth_full_cm))
            out[idx, 1] += torch.where(stretched, (source - y) * depth, torch.zeros_like(y))
        return out


def lid_forward(lids: "EyeLids", head: torch.Tensor, closure: tuple[float, float]) -> torch.Tensor:
    """Forward eyelid motion [N, 3] (head frame, cm) of canonical points ``head`` [N, 3] (for
    renderers that move vertices): lid skin at u = (y - top) / H goes to u + d u^2; the inverse
    of ``EyeLids.backward`` on the lid skin (the eye below the moved margin does not move)."""
    c = lids.config
    out = torch.zeros_like(head)
    for (xs, yu_c, yl_c, zu_c), amount in zip(lids.curves, closure):
        if amount <= 0:
            continue
        x, y, z = head[:, 0], head[:, 1], head[:, 2]
        inside = (x > xs[0]) & (x < xs[-1])
        yu, yl, zu = _interp(x, xs, yu_c), _interp(x, xs, yl_c), _interp(x, xs, zu_c)
        h, top = c.skin_above_cm, yu - c.skin_above_cm
        d = float(amount) * (yl - yu) / h
        u = (y - top) / h
        skin = inside & (u > 0) & (u <= 1)
        depth = 1.0 - _smoothstep(((z - zu).abs() - c.depth_full_cm) / (c.depth_zero_cm - c.depth_full_cm))
        out[:, 1] += torch.where(skin, h * d * u * u * depth, torch.zeros_like(y))
        opening = inside & (u > 1) & (y <= yl + c.overshoot_cm)
        out[:, 2] += torch.where(opening, float(amount) * c.recess_cm * depth, torch.zeros_like(z))
    return out


def head_motion_matrix(pose: tuple[float, ...], pivot: np.ndarray) -> np.ndarray:
    """Forward rigid motion of the head frame, [3, 4] (x' = A[:, :3] x + A[:, 3]): rotation by
    (yaw, pitch, roll) degrees about ``pivot`` [3] (head frame, cm), then translation (x, y, z) cm."""
    yaw, pitch, roll, tx, ty, tz = (float(v) for v in pose)
    a, b, g = np.radians([yaw, pitch, roll])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(g), -np.sin(g), 0], [np.sin(g), np.cos(g), 0], [0, 0, 1]])
    r = ry @ rx @ rz
    t = pivot - r @ pivot + np.array([tx, ty, tz])
    return np.concatenate([r, t[:, None]], axis=1)


def inverse_motion(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a [3, 4] rigid motion, [3, 4]."""
    r, t = matrix[:, :3], matrix[:, 3]
    return np.concatenate([r.T, (-r.T @ t)[:, None]], axis=1)


class HeadRegion:
    """Weight of the head's rigid motion at head-frame points: 1 over the head, smoothly 0 down the
    neck and away from the head; the pivot of the motion."""

    def __init__(self, head_mesh: np.ndarray, config: HeadRegionConfig = HeadRegionConfig()):
        self.config = config
        ears = 0.5 * (head_mesh[EAR_RIGHT] + head_mesh[EAR_LEFT])
        self.chin_y = float(head_mesh[topo.CHIN, 1])
        self.centre = ears + np.array([0.0, 0.0, config.centre_behind_ears_cm])
        self.pivot = ears + np.array([0.0, config.pivot_below_ears_cm, config.pivot_behind_ears_cm])
        self.top_y = float(head_mesh[:, 1].min())

    def weight(self, head: torch.Tensor) -> torch.Tensor:
        """[N] in [0, 1] at head-frame points [N, 3]."""
        c = self.config
        below = head[:, 1] - self.chin_y
        w_neck = 1.0 - _smoothstep((below - c.neck_full_below_chin_cm)
                                   / (c.neck_zero_below_chin_cm - c.neck_full_below_chin_cm))
        centre = torch.as_tensor(self.centre, dtype=head.dtype, device=head.device)
        r = (head - centre).norm(dim=1)
        w_far = 1.0 - _smoothstep((r - c.radius_full_cm) / (c.radius_zero_cm - c.radius_full_cm))
        return w_neck * w_far

    def support_corners(self) -> np.ndarray:
        """The 8 corners [8, 3] (head frame) of a box holding the weight's support. The backward
        field is zero wherever the weight is, so this is all the motion can change."""
        c = self.config
        reach = c.radius_zero_cm
        lo = self.centre - reach
        hi = np.array([self.centre[0] + reach, self.chin_y + c.neck_zero_below_chin_cm, self.centre[2] + reach])
        return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
