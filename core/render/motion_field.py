"""Analytic parts of the backward displacement field: closing eyelids and rigid head motion.

Both are fields of the point (head frame, cm), so every consumer of ``Deformer.displacement_at``
(the fast height-field warp, the reference per-sample path, a mesh renderer) gets them.

* Eyelids (``EyeLids``): the face model's eyeBlink only narrows the lid gap (the NN mapping blends
  the lids' displacement across the opening). Here the upper lid's margin sweeps down to just past
  the lower lid: the lashes and the margin move down whole, the skin between ``skin_above_cm``
  above the margin and the lashes stretches down over the eye, most near the lashes, not at all at
  the top (the brow stays); below the moved margin the eye and the lower lid stay where they are
  (the lid edge occludes them). The lid slides over the eyeball: renderers change what the eye's
  surface shows, no vertex moves.
* Gaze (``EyeGaze``): the eyeball turns under its lids, so its surface stays and what is painted
  on it slides: inside each eye opening the iris (and the sclera beside it) read from where they
  were before the turn. The slide is whole over the iris, falls smoothly to nothing at the eye's
  corners (the sclera on one side narrows, on the other it widens) and at the lid margins (the lids
  stay). A shift never takes the iris past the corners.
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
"""FaceState.head: degrees (yaw about the head's y axis, + turns the face toward the subject's right; pitch about x,
+ nods down; roll about z, + tilts toward the subject's left) and cm (head frame)."""


@dataclass(frozen=True)
class LidConfig:
    skin_above_cm: float = 2.5  # the skin above the lid margin that stretches over the eye ...
    lash_band_cm: float = 0.18  # ... above the margin's own band (lashes, lid rim), which moves down whole
    overshoot_cm: float = 0.2  # a shut lid's margin lies this far past the lower lid contour (no sclera sliver) ...
    corner_reach_cm: float = 0.9  # ... tapering to 0 this far past the eye's corners
    depth_full_cm: float = 1.2  # full effect within this head-frame depth of the lid contour ...
    depth_zero_cm: float = 2.2  # ... none beyond this one (the field is 3D; the reference path samples whole rays)


@dataclass(frozen=True)
class GazeConfig:
    """The eye's turn seen on the face (head frame, cm; angles in degrees)."""

    eyeball_radius_cm: float = 1.2  # the iris moves by r sin(angle) across the face
    iris_margin_cm: float = 0.08  # the slide is whole up to this far beyond the iris's rim
    lid_band_cm: float = 0.12  # it falls to nothing over this band inside the lid margins
    max_share: float = 0.65  # the iris moves at most this share of the sclera beside it
    max_vertical_cm: float = 0.15  # and at most this far up or down (the lids cover the rest)
    depth_cm: float = 1.0  # points this far (head z) from the iris centre are the eye's surface ...
    depth_zero_cm: float = 1.8  # ... none beyond this one
    max_look_deg: float = 30.0  # the eyes turn toward the camera by at most this much
    lid_follow: float = 0.25  # looking down lowers the upper lids by this closure per unit of
    # max_vertical_cm the iris moves down


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


def lid_skin_source(v, travel, band_start: float):
    """The closing lid's skin, in units of the stretched skin's height H from its top: forward,
    skin at u goes to u + D min(u / a, 1)^2 (D = ``travel``, the margin's travel / H; a =
    ``band_start``: from there to the margin, u = a .. 1, the band moves down whole). Returns
    the u shown at the moved position ``v`` (the inverse; monotone for any D >= 0). Torch
    tensors or numpy arrays."""
    if isinstance(v, torch.Tensor):
        d, v, sqrt, where = travel.clamp_min(1e-6), v.clamp_min(0), torch.sqrt, torch.where
    else:  # numpy (the rasteriser's eye texture)
        d, v, sqrt, where = np.maximum(travel, 1e-6), np.maximum(v, 0), np.sqrt, np.where
    k = d / (band_start * band_start)
    stretched = (sqrt(1 + 4 * k * v) - 1) / (2 * k)
    return where(v >= band_start + d, v - d, stretched)


class EyeLids:
    """The subject's two eye openings (head frame), and the backward field that closes them."""

    EYES = ((topo.RIGHT_EYE_UPPER, topo.RIGHT_EYE_LOWER), (topo.LEFT_EYE_UPPER, topo.LEFT_EYE_LOWER))
    """FaceState.blink order: (subject's left, subject's right), as eyeBlinkLeft, eyeBlinkRight."""
    CURVE_SAMPLES = 32  # each lid curve is sampled this many times, evenly in x

    def __init__(self, head_mesh: np.ndarray, device: torch.device, config: LidConfig = LidConfig()):
        self.config = config
        f32 = dict(dtype=torch.float32, device=device)
        self.curves = []  # per eye, in blink order (left, right): x, y_upper, y_lower, z_upper
        for upper, lower in (self.EYES[1], self.EYES[0]):
            up, lo = head_mesh[list(upper)], head_mesh[list(lower)]
            x_lo, x_hi = max(up[:, 0].min(), lo[:, 0].min()), min(up[:, 0].max(), lo[:, 0].max())
            r = config.corner_reach_cm
            x = np.linspace(x_lo - r, x_hi + r, self.CURVE_SAMPLES)
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

    def plan(self, head: torch.Tensor) -> list[tuple[torch.Tensor, ...]]:
        """What the lid map needs of the points ``head`` [N, 3], whatever the closure: per eye
        (blink order) the indices of the points it may reach and, there, the point's y, the
        photo's upper margin y, the line a shut margin reaches and the depth weight (0..1)."""
        c = self.config
        out = []
        for xs, yu_c, yl_c, zu_c in self.curves:
            near = ((head[:, 0] > xs[0]) & (head[:, 0] < xs[-1]) & (head[:, 1] > yu_c.min() - c.skin_above_cm)
                    & (head[:, 1] < yl_c.max()))
            idx = torch.nonzero(near).squeeze(1)
            x, y, z = head[idx, 0], head[idx, 1], head[idx, 2]
            yu, yl, zu = _interp(x, xs, yu_c), _interp(x, xs, yl_c), _interp(x, xs, zu_c)
            depth = 1.0 - _smoothstep(((z - zu).abs() - c.depth_full_cm) / (c.depth_zero_cm - c.depth_full_cm))
            out.append((idx, y, yu, yl, depth))
        return out

    def lid_shift(self, y, yu, yl, depth, amount: float):
        """The backward y displacement (cm) of a lid closed by ``amount`` at points with the
        ``plan`` quantities (torch tensors or numpy arrays, [M] each)."""
        c = self.config
        edge = yu + float(amount) * (yl - yu)  # where the lid margin is now
        top = yu - c.skin_above_cm
        # Between the top of the stretched skin and the moved margin: read the skin above the
        # photo's margin, compressed back to its own height.
        stretched = (y > top) & (y <= edge)
        source = top + c.skin_above_cm * lid_skin_source((y - top) / c.skin_above_cm, (edge - yu) / c.skin_above_cm,
                                                         1.0 - c.lash_band_cm / c.skin_above_cm)
        return (source - y) * depth * stretched

    def backward(self, head: torch.Tensor, closure: tuple[float, float]) -> torch.Tensor:
        """Backward displacement [N, 3] (head frame, cm) at deformed points ``head`` [N, 3] for
        lid closures (left, right) in [0, 1] (1: the upper lid margin on the lower lid)."""
        out = torch.zeros_like(head)
        for (idx, y, yu, yl, depth), amount in zip(self.plan(head), closure):
            if amount > 0 and idx.numel():
                out[idx, 1] += self.lid_shift(y, yu, yl, depth, amount)
        return out


GAZE_CHANNELS = ("left_h", "left_v", "right_h", "right_v")
"""FaceState.gaze: per eye (subject's left, right) the eye's turn relative to the photo's gaze,
degrees: h + toward the subject's left, v + up."""


class EyeGaze:
    """The subject's two eyes (irises, openings) and the slide of what the eyeball shows."""

    def __init__(self, head_mesh: np.ndarray, device: torch.device, config: GazeConfig = GazeConfig()):
        self.config = config
        self.device = device
        f32 = dict(dtype=torch.float32, device=device)
        self.eyes = []  # per eye, in FaceState.gaze order (left, right)
        for (upper, lower), centre_id, ring in ((EyeLids.EYES[1], topo.LEFT_IRIS_CENTER, topo.LEFT_IRIS_RING),
                                                (EyeLids.EYES[0], topo.RIGHT_IRIS_CENTER, topo.RIGHT_IRIS_RING)):
            up, lo = head_mesh[list(upper)], head_mesh[list(lower)]
            centre = head_mesh[centre_id].astype(np.float64)
            ring_pts = head_mesh[list(ring)]
            radius = float(np.abs(ring_pts[:, 0] - centre[0]).max())  # the horizontal ring points
            x_lo, x_hi = max(up[:, 0].min(), lo[:, 0].min()), min(up[:, 0].max(), lo[:, 0].max())
            x = np.linspace(x_lo, x_hi, 48)
            yu = np.interp(x, *EyeLids._sorted(up[:, 0], up[:, 1]))
            yl = np.maximum(np.interp(x, *EyeLids._sorted(lo[:, 0], lo[:, 1])), yu)
            sclera = max(min(centre[0] - x_lo, x_hi - centre[0]) - radius, 0.0)
            self.eyes.append(dict(centre=centre, radius=radius, x_lo=float(x_lo), x_hi=float(x_hi),
                                  max_h=config.max_share * sclera,
                                  curves=tuple(torch.as_tensor(a, **f32) for a in (x, yu, yl))))

    def weights(self, head: torch.Tensor) -> torch.Tensor:
        """How much of each eye's slide a head-frame point [N, 3] takes, [N, 2] in 0..1 (eyes
        in FaceState.gaze order): 1 over the iris, 0 outside the eye opening."""
        c = self.config
        out = torch.zeros(len(head), 2, dtype=head.dtype, device=head.device)
        for e, eye in enumerate(self.eyes):
            xs, yu_c, yl_c = eye["curves"]
            cx, cy, cz = (float(v) for v in eye["centre"])
            # Only points in the eye opening's box can take any of the slide.
            near = ((head[:, 0] > eye["x_lo"]) & (head[:, 0] < eye["x_hi"]) & (head[:, 1] > float(yu_c.min()))
                    & (head[:, 1] < float(yl_c.max())) & ((head[:, 2] - cz).abs() < c.depth_zero_cm))
            idx = torch.nonzero(near).squeeze(1)
            if not idx.numel():
                continue
            x, y, z = head[idx, 0], head[idx, 1], head[idx, 2]
            yu, yl = _interp(x, xs, yu_c), _interp(x, xs, yl_c)
            plateau = eye["radius"] + c.iris_margin_cm
            reach = torch.where(x < cx, torch.full_like(x, cx - eye["x_lo"]), torch.full_like(x, eye["x_hi"] - cx))
            w_x = 1.0 - _smoothstep(((x - cx).abs() - plateau) / (reach - plateau).clamp_min(1e-3))
            w_y = _smoothstep(torch.minimum(y - yu, yl - y) / c.lid_band_cm)
            w_z = 1.0 - _smoothstep(((z - cz).abs() - c.depth_cm) / (c.depth_zero_cm - c.depth_cm))
            out[idx, e] = w_x * w_y * w_z
        return out

    def shifts(self, gaze: tuple[float, ...]) -> np.ndarray:
        """Each eye's iris shift across the face, [2, 3] head frame (cm), for ``gaze``
        (``GAZE_CHANNELS``). Bounded so the iris stays inside the opening (soft limit)."""
        c = self.config
        out = np.zeros((2, 3))
        for e, eye in enumerate(self.eyes):
            h, v = np.radians(gaze[2 * e]), np.radians(gaze[2 * e + 1])
            dx = c.eyeball_radius_cm * np.sin(h)
            dy = -c.eyeball_radius_cm * np.sin(v)  # y is down
            out[e, 0] = eye["max_h"] * np.tanh(dx / eye["max_h"]) if eye["max_h"] > 0 else 0.0
            out[e, 1] = c.max_vertical_cm * np.tanh(dy / c.max_vertical_cm)
        return out

    def lid_closure(self, gaze: tuple[float, ...]) -> tuple[float, float]:
        """The upper lids' extra closure (left, right) that looking down brings."""
        shifts = self.shifts(gaze)
        c = self.config
        return tuple(float(c.lid_follow * max(shifts[e, 1], 0.0) / c.max_vertical_cm) for e in range(2))

    def backward(self, head: torch.Tensor, gaze: tuple[float, ...]) -> torch.Tensor:
        """Backward displacement [N, 3] (head frame, cm) at points ``head`` [N, 3]: each reads the
        eyeball's surface where it was before the turn."""
        shifts = torch.as_tensor(self.shifts(gaze), dtype=head.dtype, device=head.device)
        return -(self.weights(head) @ shifts)

    def look_at(self, target_head: np.ndarray, photo_camera_head: np.ndarray) -> tuple[float, ...]:
        """The gaze (``GAZE_CHANNELS``) that turns each eye from the photo's camera toward
        ``target_head`` [3]; both points in the head frame (cm). The photo's gaze is taken to
        look at its camera. Each turn is limited to ``max_look_deg``."""
        c = self.config
        out = []
        for eye in self.eyes:
            centre = eye["centre"] + np.array([0.0, 0.0, c.eyeball_radius_cm])  # the eyeball's centre
            angles = []
            for point in (target_head, photo_camera_head):
                d = np.asarray(point, np.float64) - centre
                angles.append((np.degrees(np.arctan2(d[0], -d[2])), np.degrees(np.arctan2(-d[1], np.hypot(d[0], d[2])))))
            h, v = (np.clip(angles[0][i] - angles[1][i], -c.max_look_deg, c.max_look_deg) for i in range(2))
            out += [float(h), float(v)]
        return tuple(out)


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

    def weight_array(self, head: np.ndarray) -> np.ndarray:
        """``weight`` in numpy (the rasteriser's vertices, on the CPU), float32 [N]."""
        c = self.config

        def smooth(t):
            t = np.clip(t, 0.0, 1.0)
            return t * t * (3 - 2 * t)

        head = np.asarray(head, np.float32)
        below = head[:, 1] - np.float32(self.chin_y)
        w_neck = 1.0 - smooth((below - c.neck_full_below_chin_cm) / (c.neck_zero_below_chin_cm - c.neck_full_below_chin_cm))
        r = np.linalg.norm(head - self.centre.astype(np.float32), axis=1)
        w_far = 1.0 - smooth((r - c.radius_full_cm) / (c.radius_zero_cm - c.radius_full_cm))
        return (w_neck * w_far).astype(np.float32)

    def support_corners(self) -> np.ndarray:
        """The 8 corners [8, 3] (head frame) of a box holding the weight's support. The backward
        field is zero wherever the weight is, so this is all the motion can change."""
        c = self.config
        reach = c.radius_zero_cm
        lo = self.centre - reach
        hi = np.array([self.centre[0] + reach, self.chin_y + c.neck_zero_below_chin_cm, self.centre[2] + reach])
        return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
