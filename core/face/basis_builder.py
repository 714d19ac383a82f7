"""Build the parametric face model on the MediaPipe topology from anatomical rules.

No expression basis for this topology can be downloaded here, so each ARKit-named shape is
written as a rule on the neutral canonical face: the jaw rotates about a hinge axis with smooth
weights, lip contours move with distance falloff, eyelids slide onto the lower lid. The result is
stored as data (``assets/face_model/face_model.npz``) that the engine loads; run
``python tools/build_face_model.py`` to rebuild it.

Head frame (used for every array here): centimetres, x toward the subject's left (image right in
a frontal photo), y down, z away from the camera (into the head). Origin as in MediaPipe's
canonical face model (inside the head, about 7 cm behind the nose tip).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.face import topology as topo
from core.face.arkit import EXPRESSION_NAMES

CANONICAL_FILE = Path(__file__).resolve().parents[2] / "assets" / "face_model" / "canonical_face_468.txt"
IRIS_RADIUS_CM = 0.58


@dataclass(frozen=True)
class BasisRules:
    """Magnitudes of the rule-based shapes, in centimetres and degrees."""

    jaw_open_deg: float = 18.0  # jaw rotation at jawOpen = 1 (about 2.5 cm between the incisors)
    hinge_height_cm: float = 1.5  # hinge axis height above the mouth corners' canonical y = 0 line
    hinge_depth_cm: float = 8.0  # hinge axis depth behind the mouth corners
    jaw_glide_cm: float = 0.6  # forward glide of the jaw at jawOpen = 1
    lip_falloff_cm: float = 1.0  # Gaussian radius for lip-local shapes
    corner_falloff_cm: float = 1.4  # Gaussian radius around a mouth corner
    smile_up_cm: float = 0.8
    smile_out_cm: float = 0.5
    pucker_in_cm: float = 0.7
    funnel_forward_cm: float = 0.6
    blink_fraction: float = 0.95  # fraction of the lid gap closed at eyeBlink = 1
    brow_up_cm: float = 0.7


def load_canonical_mesh() -> np.ndarray:
    """The neutral 478-point face in the head frame. Returns float64 [478, 3] (cm)."""
    pts = np.loadtxt(CANONICAL_FILE, comments="#", dtype=np.float64)
    assert pts.shape == (topo.NUM_MESH_VERTICES, 3), pts.shape
    head = pts * np.array([1.0, -1.0, -1.0])
    irises = []
    for center_idx, upper, lower in (
        (topo.RIGHT_IRIS_CENTER, topo.RIGHT_EYE_UPPER, topo.RIGHT_EYE_LOWER),
        (topo.LEFT_IRIS_CENTER, topo.LEFT_EYE_UPPER, topo.LEFT_EYE_LOWER),
    ):
        ring = head[list(upper) + list(lower)]
        center = ring.mean(axis=0) + np.array([0.0, 0.0, 0.15])  # eyeball surface sits behind lids
        # MediaPipe's ring order: +x, up (-y), -x, down (+y).
        offsets = np.array([[1, 0, 0], [0, -1, 0], [-1, 0, 0], [0, 1, 0]], dtype=np.float64)
        irises.append(np.vstack([center, center + IRIS_RADIUS_CM * offsets]))
    return np.vstack([head] + irises)


def triangles_from_edges(edges: set[tuple[int, int]], num_vertices: int) -> np.ndarray:
    """Faces of a triangulated surface given its edges: every 3-cycle. Returns int32 [F, 3]."""
    neighbours: list[set[int]] = [set() for _ in range(num_vertices)]
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    faces = []
    for a in range(num_vertices):
        for b in neighbours[a]:
            if b <= a:
                continue
            for c in neighbours[a] & neighbours[b]:
                if c > b:
                    faces.append((a, b, c))
    return np.asarray(faces, dtype=np.int32)


def mirror_map(mean: np.ndarray) -> np.ndarray:
    """Index of each vertex's mirror image across the x = 0 plane. Returns int64 [N]."""
    reflected = mean * np.array([-1.0, 1.0, 1.0])
    d = np.linalg.norm(mean[:, None, :] - reflected[None, :, :], axis=-1)
    mirror = d.argmin(axis=1)
    assert np.all(mirror[mirror] == np.arange(len(mean))), "topology is not mirror-symmetric"
    return mirror


def mirror_field(field: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """The left/right mirror of a displacement field [N, 3]."""
    return field[mirror] * np.array([-1.0, 1.0, 1.0])


def _gauss(mean: np.ndarray, anchor: np.ndarray, sigma: float) -> np.ndarray:
    d2 = ((mean - anchor) ** 2).sum(axis=-1)
    return np.exp(-0.5 * d2 / sigma**2)


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _polygon_contains(poly_xy: np.ndarray, pts_xy: np.ndarray) -> np.ndarray:
    """Even-odd rule point-in-polygon. poly [M, 2], pts [N, 2] -> bool [N]."""
    inside = np.zeros(len(pts_xy), dtype=bool)
    x, y = pts_xy[:, 0], pts_xy[:, 1]
    for i in range(len(poly_xy)):
        x0, y0 = poly_xy[i]
        x1, y1 = poly_xy[(i + 1) % len(poly_xy)]
        crosses = (y0 > y) != (y1 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
        inside ^= crosses & (x < xc)
    return inside


class _Anatomy:
    """Regions and weights of the neutral face that the rules refer to."""

    def __init__(self, mean: np.ndarray, rules: BasisRules):
        self.mean = mean
        n = len(mean)
        corners = mean[[topo.MOUTH_CORNER_RIGHT, topo.MOUTH_CORNER_LEFT]]
        self.mouth_y = float(corners[:, 1].mean())
        self.mouth_center = mean[list(topo.LIP_INNER_UPPER + topo.LIP_INNER_LOWER)].mean(axis=0)
        xy = mean[:, :2]
        in_front = mean[:, 2] < self.mouth_center[2] + 2.5
        upper_poly = mean[list(topo.LIP_OUTER_UPPER) + list(reversed(topo.LIP_INNER_UPPER))][:, :2]
        lower_poly = mean[list(topo.LIP_OUTER_LOWER) + list(reversed(topo.LIP_INNER_LOWER))][:, :2]
        self.upper_lip = _polygon_contains(upper_poly, xy) & in_front
        self.lower_lip = _polygon_contains(lower_poly, xy) & in_front
        self.upper_lip[list(topo.LIP_OUTER_UPPER + topo.LIP_INNER_UPPER)] = True
        self.lower_lip[list(topo.LIP_OUTER_LOWER + topo.LIP_INNER_LOWER)] = True
        corner_ids = [topo.MOUTH_CORNER_RIGHT, topo.MOUTH_CORNER_LEFT,
                      topo.INNER_CORNER_RIGHT, topo.INNER_CORNER_LEFT]
        self.upper_lip[corner_ids] = False
        self.lower_lip[corner_ids] = False
        self.corners = np.zeros(n, dtype=bool)
        self.corners[corner_ids] = True

        # Jaw weight: 1 on the lower lip and chin, 0 on the upper lip and above the mouth,
        # a smooth ramp on the cheeks between.
        below = mean[:, 1] - self.mouth_y  # positive below the mouth line
        jaw = _smoothstep(-0.3, 1.6, below)
        jaw[self.lower_lip] = 1.0
        jaw[self.upper_lip] = 0.0
        jaw[self.corners] = 0.5
        # The part of the face behind the jaw line (near the ears) stays with the skull.
        jaw *= 1.0 - _smoothstep(5.5, 7.0, np.abs(mean[:, 0])) * _smoothstep(-1.0, 1.5, -below)
        self.jaw_weight = jaw
        self.lips = self.upper_lip | self.lower_lip | self.corners
        self.hinge = np.array([0.0, self.mouth_y - rules.hinge_height_cm,
                               self.mouth_center[2] + rules.hinge_depth_cm])


def _rotation_x(deg: float) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]])


def build_expression_basis(mean: np.ndarray, mirror: np.ndarray,
                           rules: BasisRules = BasisRules()) -> tuple[np.ndarray, np.ndarray]:
    """All shapes of ``EXPRESSION_NAMES`` as displacement fields.

    Returns (basis float64 [K, N, 3] in cm, jaw_weight float64 [N]).
    """
    an = _Anatomy(mean, rules)
    n = len(mean)
    zero = np.zeros((n, 3))
    lip_w = np.where(an.lips, 1.0, 0.0)
    # Smooth lip-region weight: 1 on the lips, Gaussian falloff around them.
    lip_pts = mean[an.lips]
    d_lip = np.min(np.linalg.norm(mean[:, None] - lip_pts[None], axis=-1), axis=1)
    lip_region = np.exp(-0.5 * (d_lip / rules.lip_falloff_cm) ** 2)
    lip_region[an.lips] = 1.0
    upper_region = lip_region * (mean[:, 1] <= an.mouth_y + 0.05) * (1 - an.jaw_weight)
    upper_region[an.upper_lip] = 1.0
    lower_region = lip_region * an.jaw_weight
    lower_region[an.lower_lip] = 1.0
    left_half = _smoothstep(-0.6, 0.6, mean[:, 0])  # 1 on the subject's left (+x)
    c_left = mean[topo.MOUTH_CORNER_LEFT]
    corner_left = _gauss(mean, c_left, rules.corner_falloff_cm)
    mouth_w = np.abs(c_left[0] - an.mouth_center[0])
    cheek_left = _gauss(mean, c_left + np.array([1.8, -1.6, -0.3]), 1.6)
    shapes: dict[str, np.ndarray] = {}

    # Jaw: rotation about the hinge axis, weighted.
    rotated = (mean - an.hinge) @ _rotation_x(rules.jaw_open_deg).T + an.hinge
    jaw_open = (rotated - mean) * an.jaw_weight[:, None]
    jaw_open[:, 2] -= rules.jaw_glide_cm * an.jaw_weight  # the condyle glides forward
    shapes["jawOpen"] = jaw_open
    shapes["jawForward"] = np.outer(an.jaw_weight, [0.0, 0.0, -0.6])
    shapes["jawLeft"] = np.outer(an.jaw_weight * (1 - _smoothstep(5.0, 7.0, np.abs(mean[:, 0]))),
                                 [0.6, 0.0, 0.0])

    # mouthClose: with the jaw open, brings the lower lip back up to the upper lip.
    close = -jaw_open * lower_region[:, None]
    close += np.outer(upper_region, [0.0, 0.15, 0.0])
    shapes["mouthClose"] = close

    to_center = an.mouth_center - mean
    to_center[:, 1:] = 0.0
    to_center_x = np.sign(to_center[:, 0]) * np.minimum(np.abs(to_center[:, 0]) / mouth_w, 1.0)
    corner_both = corner_left + _gauss(mean, mean[topo.MOUTH_CORNER_RIGHT], rules.corner_falloff_cm)
    funnel = np.outer(lip_region, [0.0, 0.0, -rules.funnel_forward_cm])
    funnel[:, 0] += to_center_x * corner_both * 0.45
    funnel += np.outer(upper_region * lip_w, [0.0, -0.3, 0.0]) + np.outer(lower_region * lip_w, [0.0, 0.45, 0.0])
    shapes["mouthFunnel"] = funnel
    pucker = np.outer(lip_region, [0.0, 0.0, -0.5])
    pucker[:, 0] += to_center_x * np.maximum(corner_both, lip_region * np.abs(to_center_x)) * rules.pucker_in_cm
    shapes["mouthPucker"] = pucker

    shapes["mouthLeft"] = np.outer(np.maximum(lip_region, corner_both * 0.8), [0.8, 0.0, 0.0])
    shapes["mouthSmileLeft"] = (np.outer(corner_left, [rules.smile_out_cm, -rules.smile_up_cm, 0.35])
                                + np.outer(cheek_left, [0.0, -0.35, -0.15]))
    shapes["mouthFrownLeft"] = np.outer(corner_left, [0.1, 0.6, 0.0])
    shapes["mouthDimpleLeft"] = np.outer(corner_left, [0.3, 0.0, 0.4])
    shapes["mouthStretchLeft"] = (np.outer(corner_left, [0.6, 0.25, 0.1])
                                  + np.outer(lower_region * left_half * lip_w, [0.0, 0.2, 0.0]))
    shapes["mouthRollLower"] = np.outer(lower_region * lip_w, [0.0, -0.25, 0.4])
    shapes["mouthRollUpper"] = np.outer(upper_region * lip_w, [0.0, 0.25, 0.4])
    chin_w = _gauss(mean, mean[topo.CHIN] + np.array([0.0, -1.5, 0.0]), 2.0) * an.jaw_weight
    shapes["mouthShrugLower"] = np.outer(lower_region, [0.0, -0.4, -0.2]) + np.outer(chin_w, [0.0, -0.2, 0.0])
    shapes["mouthShrugUpper"] = np.outer(upper_region, [0.0, -0.3, -0.15])
    press = np.outer(upper_region * lip_w * left_half, [0.0, 0.15, 0.1])
    press += np.outer(lower_region * lip_w * left_half, [0.0, -0.15, 0.1])
    shapes["mouthPressLeft"] = press
    shapes["mouthLowerDownLeft"] = np.outer(lower_region * left_half * (1 - 0.5 * an.corners), [0.0, 0.5, 0.0])
    shapes["mouthUpperUpLeft"] = np.outer(upper_region * left_half * (1 - 0.5 * an.corners), [0.0, -0.5, 0.0])

    # Eyes: the upper lid slides down onto the lower lid; skin above follows with falloff.
    blink = zero.copy()
    upper_ids = np.array(topo.LEFT_EYE_UPPER[1:-1])
    lower_ids = np.array(topo.LEFT_EYE_LOWER[1:-1])
    gap = mean[lower_ids] - mean[upper_ids]
    eye_center = mean[list(topo.LEFT_EYE_UPPER + topo.LEFT_EYE_LOWER)].mean(axis=0)
    meet = 0.8 * rules.blink_fraction  # the upper lid travels most of the gap
    for k in range(len(upper_ids)):
        w = _gauss(mean, mean[upper_ids[k]], 0.35)
        w *= mean[:, 1] <= mean[upper_ids[k], 1] + 0.05  # only the lid and the skin above it
        blink += np.outer(w, gap[k] * meet)
    blink[upper_ids] = gap * meet
    blink[lower_ids] = -gap * (rules.blink_fraction - meet)
    blink *= (np.linalg.norm(mean - eye_center, axis=1) < 2.2)[:, None]
    blink[[topo.LEFT_IRIS_CENTER, *topo.LEFT_IRIS_RING]] = 0.0
    shapes["eyeBlinkLeft"] = blink

    inner_brows = list(topo.LEFT_BROW_UPPER[-2:] + topo.LEFT_BROW_LOWER[-2:])
    brow_inner = np.zeros(n)
    for i in inner_brows:
        brow_inner = np.maximum(brow_inner, _gauss(mean, mean[i], 1.0))
    brow_inner = np.maximum(brow_inner, brow_inner[mirror])
    shapes["browInnerUp"] = np.outer(brow_inner, [0.0, -rules.brow_up_cm, 0.0])
    brow_left = np.zeros(n)
    for i in topo.LEFT_BROW_UPPER + topo.LEFT_BROW_LOWER:
        brow_left = np.maximum(brow_left, _gauss(mean, mean[i], 0.9))
    shapes["browDownLeft"] = np.outer(brow_left, [-0.1, 0.45, 0.0])
    puff = _gauss(mean, c_left + np.array([1.6, -0.4, 0.8]), 1.5)
    puff = np.maximum(puff, puff[mirror])
    shapes["cheekPuff"] = np.outer(puff, [0.0, 0.0, -0.5]) + np.sign(mean[:, [0]]) * np.outer(puff, [0.4, 0, 0])

    # Right-hand shapes are exact mirrors of the left-hand ones.
    for name in list(shapes):
        if name.endswith("Left"):
            shapes[name[:-4] + "Right"] = mirror_field(shapes[name], mirror)
    # Shapes that should be symmetric are made exactly so.
    for name in ("jawOpen", "jawForward", "mouthClose", "mouthFunnel", "mouthPucker",
                 "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
                 "browInnerUp", "cheekPuff"):
        shapes[name] = 0.5 * (shapes[name] + mirror_field(shapes[name], mirror))

    missing = set(EXPRESSION_NAMES) - set(shapes)
    assert not missing, f"no rule for {sorted(missing)}"
    basis = np.stack([shapes[name] for name in EXPRESSION_NAMES])
    return basis, an.jaw_weight


def build_face_model(edges: set[tuple[int, int]], rules: BasisRules = BasisRules()) -> dict[str, np.ndarray]:
    """Everything stored in ``face_model.npz``, given MediaPipe's tesselation edges."""
    mean = load_canonical_mesh()
    mirror = mirror_map(mean)
    basis, jaw_weight = build_expression_basis(mean, mirror, rules)
    triangles = triangles_from_edges(edges, topo.NUM_MESH_VERTICES)
    return {
        "mean": mean.astype(np.float32),
        "basis": basis.astype(np.float32),
        "names": np.array(EXPRESSION_NAMES),
        "triangles": triangles,
        "mirror": mirror.astype(np.int32),
        "jaw_weight": jaw_weight.astype(np.float32),
    }
