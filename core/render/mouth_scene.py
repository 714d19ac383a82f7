"""The inner mouth as a small 3D scene (LipaintNet's role, paper 4.4).

Per subject, in the head frame: an upper dental arch fixed to the skull and a lower arch and
tongue that follow the jaw, each arch with individual crowns (incisors, canine, premolars, first
molar on each side) on a curved arch, a gum band over each row. Sizes are an adult's scaled by the
subject's mouth width; the arches sit behind the photo's inner lips.

Per frame: the jaw's rigid motion is fitted (Kabsch) to the chin vertices of the deformed face
mesh, so the lower arch turns about the face model's own hinge; every vertex is lit once on the
CPU (``shade``: front key light, light dying off with depth behind the lips' opening, as far in
as the photo's own light lets it (``photo_fill``), the cheeks' and the upper lip's shadows, a wet
highlight on the teeth). The lit mesh is then rasterised with
per-vertex colours: by OpenGL (``RasterRenderer.render_mouth``) or by ``rasterise``, the plain
numpy reference (used by the ray-marcher path, and by the tests against the OpenGL one), both
supersampled and box-filtered so edges do not stair-step.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from core.face import topology as topo
from core.geometry.pinhole import Intrinsics
from core.preprocess.mouth_colours import MouthColours
from core.render.camera import ViewCamera
from core.render.config import MouthGeometryConfig, MouthShadingConfig

INCISOR, CANINE, POSTERIOR = 0, 1, 2
TEETH, GUM, TONGUE = 0, 1, 2  # materials


@dataclass(frozen=True)
class ToothShape:
    """An adult crown (cm): mesio-distal width, visible crown height, labio-lingual thickness."""

    width: float
    height: float
    thickness: float
    kind: int


# From the midline outward, one side (mean adult crown sizes, rounded).
UPPER_TEETH = (ToothShape(0.86, 1.05, 0.70, INCISOR), ToothShape(0.66, 0.90, 0.62, INCISOR),
               ToothShape(0.78, 1.00, 0.80, CANINE), ToothShape(0.70, 0.82, 0.90, POSTERIOR),
               ToothShape(0.66, 0.76, 0.90, POSTERIOR), ToothShape(1.00, 0.70, 1.05, POSTERIOR))
LOWER_TEETH = (ToothShape(0.53, 0.90, 0.58, INCISOR), ToothShape(0.59, 0.92, 0.60, INCISOR),
               ToothShape(0.68, 1.00, 0.72, CANINE), ToothShape(0.70, 0.82, 0.78, POSTERIOR),
               ToothShape(0.71, 0.78, 0.82, POSTERIOR), ToothShape(1.10, 0.72, 1.00, POSTERIOR))
# Crown rings from the cervical end (0, inside the gum below 0) to the incisal edge (1).
_RING_LEVELS = np.array([-0.15, 0.0, 0.3, 0.55, 0.75, 0.88, 0.96, 1.0])
SUPERELLIPSE_EXPONENT = 3.2  # a crown's cross-section: between an ellipse (2) and a box
# Chin vertices (jaw weight 1, well below the lips) whose motion is the jaw's.
_JAW_BELOW_MOUTH_CM = 1.8


@dataclass(frozen=True)
class MouthMesh:
    """The mouth interior at the photo's jaw position, head frame.

    vertices float32 [V, 3] cm;  normals float32 [V, 3] unit;  triangles int32 [F, 3]
    jaw bool [V] (follows the jaw);  material uint8 [V] (TEETH, GUM, TONGUE)
    occlusion float32 [V] in (0, 1] (static ambient occlusion: cervical ends, gaps, the arch's back)
    """

    vertices: np.ndarray
    normals: np.ndarray
    triangles: np.ndarray
    jaw: np.ndarray
    material: np.ndarray
    occlusion: np.ndarray


# ----------------------------------------------------------------------------- geometry
class _Builder:
    def __init__(self):
        self.v, self.f, self.jaw, self.mat, self.occ = [], [], [], [], []
        self.n = 0

    def add(self, vertices: np.ndarray, faces: np.ndarray, jaw: bool, material: int, occlusion: np.ndarray):
        self.v.append(vertices)
        self.f.append(faces + self.n)
        self.jaw.append(np.full(len(vertices), jaw))
        self.mat.append(np.full(len(vertices), material, np.uint8))
        self.occ.append(occlusion)
        self.n += len(vertices)

    def build(self) -> MouthMesh:
        v = np.concatenate(self.v).astype(np.float64)
        f = np.concatenate(self.f).astype(np.int32)
        return MouthMesh(v.astype(np.float32), vertex_normals(v, f).astype(np.float32), f,
                         np.concatenate(self.jaw), np.concatenate(self.mat),
                         np.concatenate(self.occ).astype(np.float32))


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals [V, 3] of a mesh wound counter-clockwise seen from outside."""
    a, b, c = (vertices[triangles[:, k]] for k in range(3))
    face = np.cross(b - a, c - a)
    out = np.zeros_like(vertices)
    for k in range(3):
        np.add.at(out, triangles[:, k], face)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class Arch:
    """A dental arch z = front_z + k x^2 (head frame), walked by arc length from the midline."""

    def __init__(self, front_z: float, curvature: float, reach_cm: float = 4.0):
        self.front_z, self.k = front_z, curvature
        x = np.linspace(0.0, reach_cm, 400)
        seg = np.hypot(np.diff(x), np.diff(curvature * x**2))
        self._x, self._s = x, np.concatenate([[0.0], np.cumsum(seg)])

    def at(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Signed arc length s [N] (negative: the subject's right) -> points (x, z) [N, 2], unit
        tangents [N, 2] (toward +s) and unit outward (labial) normals [N, 2]."""
        s = np.asarray(s, np.float64)
        x = np.sign(s) * np.interp(np.abs(s), self._s, self._x)
        z = self.front_z + self.k * x**2
        tangent = np.stack([np.ones_like(x), 2 * self.k * x], axis=1)
        tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
        normal = np.stack([2 * self.k * x, -np.ones_like(x)], axis=1)  # toward -z (the front), outward
        normal /= np.linalg.norm(normal, axis=1, keepdims=True)
        return np.stack([x, z], axis=1), tangent, normal


def _crown_profile(kind: int, level: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half-width and half-thickness factors of a crown at ``level`` (0 cervical .. 1 edge)."""
    t = np.clip(level, 0.0, 1.0)
    if kind == INCISOR:
        width = 0.80 + 0.20 * t
        width = width * np.where(t > 0.85, np.sqrt(np.clip(1 - ((t - 0.85) / 0.15) ** 2 * 0.35, 0, 1)), 1.0)
        thick = 1.0 - 0.78 * t**1.3
    elif kind == CANINE:
        width = np.where(t < 0.6, 0.82 + 0.3 * t, 1.0 - 1.9 * np.clip(t - 0.6, 0.0, None) ** 1.4)
        thick = 1.0 - 0.5 * t
    else:
        width = (0.86 + 0.14 * t) * np.where(t > 0.8, np.sqrt(np.clip(1 - ((t - 0.8) / 0.2) ** 2 * 0.45, 0, 1)), 1.0)
        thick = (0.9 + 0.1 * t) * np.where(t > 0.8, np.sqrt(np.clip(1 - ((t - 0.8) / 0.2) ** 2 * 0.4, 0, 1)), 1.0)
    return np.maximum(width, 0.12), np.maximum(thick, 0.15)


def _ring_faces(rings: int, points: int) -> np.ndarray:
    """Quads between consecutive rings of ``points`` vertices, two triangles each [F, 3]."""
    faces = []
    for r in range(rings - 1):
        for p in range(points):
            a, b = r * points + p, r * points + (p + 1) % points
            c, d = a + points, b + points
            faces += [(a, b, d), (a, d, c)]
    return np.array(faces, np.int32)


def tooth_mesh(shape: ToothShape, scale: float, centre: np.ndarray, tangent: np.ndarray, normal: np.ndarray,
               edge_y: float, upper: bool, config: MouthGeometryConfig,
               lean_along: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One crown: vertices [n, 3], triangles [m, 3] (outward), occlusion [n].

    centre: (x, z) of the crown's front face on the arch;  tangent / normal: unit (x, z) along and
    out of the arch;  edge_y: the incisal edge's y (head frame, y down); upper: the crown hangs
    down from the skull (else it stands up from the jaw);  lean_along: how far (cm) the cervical
    end lies along ``tangent`` from the edge (the crown's angulation)."""
    pts = config.ring_points
    w, h, th = shape.width * scale, shape.height * scale, shape.thickness * scale
    angle = np.linspace(0.0, 2 * np.pi, pts, endpoint=False)
    # Front crowns are flat-faced, the back ones rounded (a box-like molar reads as a block).
    e = 2.0 / (SUPERELLIPSE_EXPONENT if shape.kind != POSTERIOR else config.posterior_superellipse)
    ca, sa = np.cos(angle), np.sin(angle)
    ux, uy = np.sign(ca) * np.abs(ca) ** e, np.sign(sa) * np.abs(sa) ** e  # along, out (unit superellipse)
    down = 1.0 if upper else -1.0  # direction from the cervical end to the edge in y
    verts = []
    for level in _RING_LEVELS:
        fw, ft = _crown_profile(shape.kind, np.array([level]))
        half_w, half_t = 0.5 * (w - config.tooth_gap_cm) * fw[0], 0.5 * th * ft[0]
        lean = config.labial_tilt_cm * scale * (1.0 - np.clip(level, 0, 1))
        mid = centre - normal * (half_t + lean) + tangent * lean_along * (1.0 - np.clip(level, 0, 1))
        xz = mid[None] + ux[:, None] * half_w * tangent[None] + uy[:, None] * half_t * normal[None]
        y = np.full(pts, edge_y - down * h * (1.0 - level))
        verts.append(np.stack([xz[:, 0], y, xz[:, 1]], axis=1))
    tip = centre - normal * (0.5 * th * _crown_profile(shape.kind, np.array([1.0]))[1][0])
    tip_y = edge_y + down * (0.04 * scale if shape.kind == CANINE else 0.0)
    verts = np.concatenate(verts + [np.array([[tip[0], tip_y, tip[1]]])])
    faces = _ring_faces(len(_RING_LEVELS), pts)
    last = (len(_RING_LEVELS) - 1) * pts
    cap = np.array([(last + p, last + (p + 1) % pts, len(verts) - 1) for p in range(pts)], np.int32)
    faces = np.concatenate([faces, cap])
    # Ring order must wind outward: seen from outside a quad (a, b, d) runs counter-clockwise when
    # the rings advance toward the edge in -y (upper teeth advance in +y: flip).
    if _winding_sign(verts, faces) < 0:
        faces = faces[:, ::-1]
    levels = np.concatenate([np.repeat(_RING_LEVELS, pts), [1.0]])
    occlusion = 0.55 + 0.45 * np.clip(levels / 0.45, 0.0, 1.0)  # the cervical third is in the gum's shade
    return verts, faces, occlusion


def _winding_sign(verts: np.ndarray, faces: np.ndarray) -> float:
    """Positive when the faces' normals point away from the vertices' centroid on the whole."""
    a, b, c = (verts[faces[:, k]] for k in range(3))
    n = np.cross(b - a, c - a)
    return float(((a + b + c) / 3 - verts.mean(axis=0)).ravel() @ n.ravel())


def _arch_positions(teeth: tuple[ToothShape, ...], scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Arc-length centres [2 * n] (right side negative) and their shapes' indices."""
    widths = np.array([t.width for t in teeth]) * scale
    right_edges = np.concatenate([[0.0], np.cumsum(widths)])
    centres = 0.5 * (right_edges[:-1] + right_edges[1:])
    index = np.arange(len(teeth))
    return np.concatenate([-centres[::-1], centres]), np.concatenate([index[::-1], index])


def _gum_band(arch: Arch, extent: float, cervical_y, height: float, forward: float,
              upper: bool, samples: int = 48, papilla=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The gum over a row: a band along the arch from the crowns' cervical line toward the roots,
    a little in front of the crowns. ``cervical_y``: a number, or a function of the arc length
    [N] -> y [N]; ``papilla``: None or a function of the arc length -> how far (cm) the gum's
    margin reaches toward the edges there. Vertices [n, 3], triangles, occlusion [n]."""
    s = np.linspace(-extent, extent, samples)
    xz, _, normal = arch.at(s)
    toward_root = -1.0 if upper else 1.0  # y direction from the crowns toward the roots
    base = cervical_y(s) if callable(cervical_y) else np.full(samples, cervical_y)
    margin = papilla(s) if papilla is not None else np.zeros(samples)
    rows = ((0.0, -0.02), (0.35, forward), (1.0, forward * 0.5))  # (share of height, forward)
    verts = []
    for share, out in rows:
        p = xz + normal * out
        y = base + toward_root * height * share - toward_root * margin * (1.0 - share / 0.35 if share < 0.35 else 0.0)
        verts.append(np.stack([p[:, 0], y, p[:, 1]], axis=1))
    verts = np.concatenate(verts)
    faces = []
    for r in range(len(rows) - 1):
        for k in range(samples - 1):
            a, b = r * samples + k, r * samples + k + 1
            faces += [(a, b, b + samples), (a, b + samples, a + samples)]
    faces = np.array(faces, np.int32)
    # Outward = toward the front (-z) at the midline.
    a, b, c = (verts[faces[:, k]] for k in range(3))
    mid = np.abs(verts[faces[:, 0], 0]) < 0.5
    if np.cross(b - a, c - a)[mid, 2].mean() > 0:
        faces = faces[:, ::-1]
    occlusion = np.concatenate([np.full(samples, 0.75), np.full(samples, 1.0), np.full(samples, 0.85)])
    return verts, faces, occlusion


def _tongue(front: np.ndarray, config: MouthGeometryConfig, scale: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dome on the floor of the mouth; ``front``: (y, z) of its tip's top. Vertices, faces, occlusion."""
    g = config
    nu, nw = g.tongue_grid
    u = np.linspace(-1.0, 1.0, nu)[None, :]
    w = np.linspace(0.0, 1.0, nw)[:, None]
    half = 0.5 * g.tongue_width_cm * scale * np.sqrt(np.clip(np.sin(np.pi / 2 * np.minimum(w / 0.35, 1.0)), 0.05, 1))
    x = u * half
    dome = np.sqrt(np.clip(1.0 - u**2, 0.0, 1.0))
    top = front[0] - g.tongue_rise_cm * scale * w  # y (down) of the top along its length
    y = top + g.tongue_height_cm * scale * (1.0 - dome)
    z = front[1] + g.tongue_length_cm * scale * w + 0.15 * scale * (1.0 - dome)
    verts = np.stack([x, y, z], axis=-1).reshape(-1, 3)
    faces = []
    for r in range(nw - 1):
        for k in range(nu - 1):
            a, b = r * nu + k, r * nu + k + 1
            faces += [(a, b, b + nu), (a, b + nu, a + nu)]
    faces = np.array(faces, np.int32)
    a, b, c = (verts[faces[:, k]] for k in range(3))
    if np.cross(b - a, c - a)[:, 1].mean() > 0:  # outward = up (-y)
        faces = faces[:, ::-1]
    # Its sides lie in the shade of the teeth and cheeks: they fade into the cavity, no hard edge.
    occlusion = (1.0 - g.tongue_side_shade * np.abs(u) ** 2 * np.ones_like(w)).reshape(-1)
    return verts, faces, occlusion


def mouth_scale(head: np.ndarray, config: MouthGeometryConfig = MouthGeometryConfig()) -> float:
    """The subject's mouth width (inner lip corners of ``head`` [478, 3]) against the canonical."""
    width = float(np.linalg.norm(head[topo.INNER_CORNER_LEFT] - head[topo.INNER_CORNER_RIGHT]))
    return float(np.clip(width / config.reference_mouth_width_cm, *config.scale_limits))


def build_mouth_mesh(head: np.ndarray, config: MouthGeometryConfig = MouthGeometryConfig()) -> MouthMesh:
    """The mouth interior behind the inner lips of the photo's face ``head`` [478, 3] (head frame)."""
    g = config
    s = mouth_scale(head, g)
    cx = 0.5 * (head[topo.INNER_CORNER_LEFT, 0] + head[topo.INNER_CORNER_RIGHT, 0])
    upper_lip, lower_lip = head[topo.UPPER_LIP_INNER_MID], head[topo.LOWER_LIP_INNER_MID]
    upper_edge = upper_lip[1] + g.upper_show_cm * s
    lower_edge = lower_lip[1] - g.lower_show_cm * s
    upper_front = upper_lip[2] + g.upper_behind_lip_cm * s
    upper_arch = Arch(upper_front, g.upper_arch_curvature / s)
    edge_thickness = UPPER_TEETH[0].thickness * s * 0.5 * _crown_profile(INCISOR, np.array([1.0]))[1][0]
    lower_front = upper_front + 2 * edge_thickness + g.overjet_cm * s
    lower_arch = Arch(lower_front, g.lower_arch_curvature / s)
    b = _Builder()
    for arch, teeth, edge, upper, steps, angles in (
            (upper_arch, UPPER_TEETH, upper_edge, True, g.upper_edge_steps_cm, g.upper_angulation_deg),
            (lower_arch, LOWER_TEETH, lower_edge, False, g.lower_edge_steps_cm, g.lower_angulation_deg)):
        centres, index = _arch_positions(teeth, s)
        xz, tangent, normal = arch.at(centres)
        xz[:, 0] += cx
        reach = np.abs(centres).max()
        toward_edge = 1.0 if upper else -1.0  # y direction from the gum to the edges
        # The edges' line: rising toward the back (the smile arc), each crown a little short of it.
        arc = lambda a: edge - g.smile_arc / s * np.asarray(a) ** 2  # noqa: E731  (both rows rise: they meet)
        for k, i in enumerate(index):
            shape = teeth[i]
            lean = np.sign(centres[k]) * np.tan(np.radians(angles[i])) * shape.height * s
            v, f, occ = tooth_mesh(shape, s, xz[k], tangent[k], normal[k],
                                   float(arc(centres[k])) - toward_edge * steps[i] * s, upper, g, lean)
            occ = occ * (1.0 - g.arch_back_shade * (abs(centres[k]) / reach) ** 2)  # the arch's back, in the cheeks
            b.add(v, f, not upper, TEETH, occ)
        heights = np.array([t.height for t in teeth]) * s
        bounds = np.concatenate([[0.0], np.cumsum(np.array([t.width for t in teeth]) * s)])
        widths = np.diff(bounds)

        def papilla(a: np.ndarray, bounds=bounds, widths=widths) -> np.ndarray:
            """Between crowns the gum reaches down (1 at a boundary, 0 at a crown's middle)."""
            a = np.abs(a)
            k = np.clip(np.searchsorted(bounds, a) - 1, 0, len(widths) - 1)
            d = np.minimum(a - bounds[k], bounds[k + 1] - a) / widths[k]
            return g.gum_papilla_cm * s * np.cos(np.pi * np.clip(d, 0.0, 0.5)) ** 2 * (a < bounds[-1])

        gv, gf, go = _gum_band(arch, reach + 0.3 * s, lambda a, arc=arc, h=heights.mean(): arc(a) - toward_edge * h,
                               g.gum_height_cm * s, g.gum_forward_cm * s, upper, g.gum_samples, papilla)
        gv[:, 0] += cx
        b.add(gv, gf, not upper, GUM, go)
    tip_z = lower_front + LOWER_TEETH[0].thickness * s + g.tongue_behind_teeth_cm * s
    tv, tf, to = _tongue(np.array([lower_edge + g.tongue_below_edge_cm * s, tip_z]), g, s)
    tv[:, 0] += cx
    b.add(tv, tf, True, TONGUE, to)
    return b.build()


# ----------------------------------------------------------------------------- per frame
def jaw_vertices(head: np.ndarray, jaw_weight: np.ndarray) -> np.ndarray:
    """Indices of the face-mesh vertices that move with the jaw alone (jaw weight 1, well below the
    mouth): the chin. head [478, 3] (any pose of the face), jaw_weight [N]."""
    mouth_y = 0.5 * (head[topo.INNER_CORNER_LEFT, 1] + head[topo.INNER_CORNER_RIGHT, 1])
    n = min(len(jaw_weight), len(head))
    pick = np.nonzero((jaw_weight[:n] > 0.999) & (head[:n, 1] > mouth_y + _JAW_BELOW_MOUTH_CM))[0]
    return pick if len(pick) >= 3 else np.array([topo.CHIN, 18, 200, 199, 175])


def rigid_fit(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rotation [3, 3] and translation [3] minimising |R source + t - target| (Kabsch)."""
    ms, mt = source.mean(axis=0), target.mean(axis=0)
    u, _, vt = np.linalg.svd((source - ms).T @ (target - mt))
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return r, mt - r @ ms


@dataclass(frozen=True)
class LitMouth:
    """One frame's mouth interior, ready to rasterise: world positions float32 [V, 3], lit
    colours float32 [V, 3] (0..255), the mesh's triangles, and the cavity colour [3]."""

    positions: np.ndarray
    colours: np.ndarray
    triangles: np.ndarray
    cavity: np.ndarray


def _smoothstep(a: float, b: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - a) / (b - a), 0.0, 1.0)
    return t * t * (3 - 2 * t)


class MouthScene:
    """The subject's mouth interior: ``light`` poses and lights it for a frame."""

    def __init__(self, head_init: np.ndarray, jaw_weight: np.ndarray, colours: MouthColours,
                 geometry: MouthGeometryConfig = MouthGeometryConfig(),
                 shading: MouthShadingConfig = MouthShadingConfig()):
        """head_init [478, 3]: the photo's face (head frame); jaw_weight [N]: the face model's."""
        self.head_init = np.asarray(head_init, np.float64)
        self.mesh = build_mouth_mesh(self.head_init, geometry)
        self.shading = shading
        self._jaw_ids = jaw_vertices(self.head_init, np.asarray(jaw_weight))
        albedo = np.stack([colours.teeth, colours.gum, colours.tongue]).astype(np.float64)
        self.albedo = albedo[self.mesh.material]  # [V, 3]
        self.fill = photo_fill(colours.skin, shading)
        self.cavity = np.asarray(colours.cavity, np.float32)

    def jaw_pose(self, head_now: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The jaw's rigid motion (head frame) from the photo's face to ``head_now`` [478, 3]."""
        ids = self._jaw_ids
        return rigid_fit(self.head_init[ids], np.asarray(head_now, np.float64)[ids])

    def posed(self, head_now: np.ndarray, jaw: tuple[np.ndarray, np.ndarray] | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Head-frame positions and normals [V, 3] with the lower arch and tongue on the jaw
        (``jaw``: its rigid motion, rotation [3, 3] and translation [3]; None: ``jaw_pose(head_now)``)."""
        m = self.mesh
        r, t = self.jaw_pose(head_now) if jaw is None else jaw
        v = m.vertices.astype(np.float64)
        n = m.normals.astype(np.float64)
        v = np.where(m.jaw[:, None], v @ r.T + t, v)
        n = np.where(m.jaw[:, None], n @ r.T, n)
        return v, n

    def light(self, head_now: np.ndarray, rotation: np.ndarray, translation: np.ndarray,
              camera: ViewCamera, jaw: tuple[np.ndarray, np.ndarray] | None = None) -> LitMouth:
        """Pose and light the interior for the deformed face ``head_now`` [478, 3] (head frame),
        the head's pose (rotation [3, 3], translation [3]: head -> world) and the view; ``jaw``
        the jaw's rigid motion (head frame; None: fitted to ``head_now``'s chin)."""
        head_now = np.asarray(head_now, np.float64)
        v, n = self.posed(head_now, jaw)
        colours = shade(v, n, self.albedo, self.mesh.occlusion, self.mesh.material, head_now,
                        (np.asarray(camera.position, np.float64) - translation) @ rotation, self.shading, self.cavity,
                        self.fill)
        world = v @ np.asarray(rotation, np.float64).T + translation
        return LitMouth(world.astype(np.float32), colours.astype(np.float32), self.mesh.triangles, self.cavity)


def photo_fill(skin_rgb: np.ndarray, config: MouthShadingConfig = MouthShadingConfig()) -> float:
    """How brightly the photo lights the face, as the light it lets into the mouth: the CIELAB L*
    of the photo's skin colour (float [3], RGB 0..255) over ``config.reference_skin_lightness``,
    clamped to ``config.fill_limits``. 1: the lighting constants as they are."""
    rgb = np.clip(np.asarray(skin_rgb, np.float32).reshape(1, 1, 3) / 255.0, 0.0, 1.0)
    lightness = float(cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB)[0, 0, 0])
    return float(np.clip(lightness / config.reference_skin_lightness, *config.fill_limits))


def shade(v: np.ndarray, n: np.ndarray, albedo: np.ndarray, occlusion: np.ndarray, material: np.ndarray,
          head_now: np.ndarray, eye: np.ndarray, config: MouthShadingConfig = MouthShadingConfig(),
          cavity: np.ndarray | None = None, fill: float = 1.0) -> np.ndarray:
    """Lit colours [V, 3] (0..255) of interior points v [V, 3] with normals n [V, 3] (head frame),
    albedo [V, 3] (0..255), static occlusion [V], for the deformed face ``head_now`` [478, 3] and
    the eye (camera position, head frame [3]). Deep points fade to ``cavity`` [3] (the unlit back
    of the mouth), never darker. ``fill`` (``photo_fill``) scales the ambient light and how deep
    the light reaches: a brightly lit photo lights its mouth further in."""
    c = config
    light = np.asarray(c.light_direction, np.float64)
    light /= np.linalg.norm(light)
    lambert = np.clip(n @ light, 0.0, 1.0)
    # Light enters through the lips' opening: it dies off with depth behind the opening.
    inner = head_now[list(topo.inner_lip_polygon())]
    depth = np.clip(v[:, 2] - inner[:, 2].min(), 0.0, None)
    inside = np.exp(-depth / (c.depth_falloff_cm * fill))
    # Beyond the inner lip corners the cheeks shade the arch.
    left, right = head_now[topo.INNER_CORNER_LEFT], head_now[topo.INNER_CORNER_RIGHT]
    cx, half = 0.5 * (left[0] + right[0]), 0.5 * abs(left[0] - right[0])
    cheek = 1.0 - c.cheek_shadow * _smoothstep(half + c.cheek_ramp_cm[0], half + c.cheek_ramp_cm[1], np.abs(v[:, 0] - cx))
    # The upper lip's shadow just below it (the light comes from above the front).
    upper = head_now[list(topo.LIP_INNER_UPPER)]
    order = np.argsort(upper[:, 0])
    lip_y = np.interp(v[:, 0], upper[order, 0], upper[order, 1])
    lip = 1.0 - c.lip_shadow * (1.0 - _smoothstep(0.0, c.lip_shadow_band_cm, v[:, 1] - lip_y))
    light_here = occlusion * inside * cheek * lip
    out = albedo * ((c.ambient * fill + c.diffuse * lambert) * light_here)[:, None]
    if cavity is not None:
        out += np.asarray(cavity, np.float64)[None] * (1.0 - inside)[:, None]
    view = eye[None] - v
    view /= np.maximum(np.linalg.norm(view, axis=1, keepdims=True), 1e-9)
    half_vec = view + light[None]
    half_vec /= np.maximum(np.linalg.norm(half_vec, axis=1, keepdims=True), 1e-9)
    spec = c.specular * np.clip(np.sum(n * half_vec, axis=1), 0.0, 1.0) ** c.shininess * light_here
    out += 255.0 * (spec * (material == TEETH))[:, None]
    return np.clip(out, 0.0, 255.0)


# ----------------------------------------------------------------------------- rasterising
def box_camera(camera: ViewCamera, box: tuple[int, int, int, int], supersample: int) -> ViewCamera:
    """The camera of the output pixels ``box`` (x0, y0, x1, y1), ``supersample`` x finer: sub-pixel
    K of output pixel j has centre j - 0.5 + (K mod s + 0.5) / s, so an s x s box filter of its
    image gives the output pixels."""
    k, s = camera.intrinsics, supersample
    x0, y0, x1, y1 = box
    inner = Intrinsics(k.focal_px * s, (k.cx - x0 + 0.5) * s - 0.5, (k.cy - y0 + 0.5) * s - 0.5,
                       (x1 - x0) * s, (y1 - y0) * s)
    return replace(camera, intrinsics=inner)


def downsample(image: np.ndarray, supersample: int) -> np.ndarray:
    """Box filter of s x s blocks: float32 [h * s, w * s, 3] -> [h, w, 3]."""
    if supersample == 1:
        return image.astype(np.float32)
    h, w = image.shape[0] // supersample, image.shape[1] // supersample
    return cv2.resize(image.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)


def rasterise(lit: LitMouth, camera: ViewCamera) -> np.ndarray:
    """The plain reference rasteriser: z-buffered triangles with perspective-correct per-vertex
    colours over the cavity colour, sampled at pixel centres. float32 [H, W, 3] (0..255) for
    ``camera.intrinsics``' whole image."""
    k = camera.intrinsics
    out = np.empty((k.height, k.width, 3), np.float32)
    out[:] = lit.cavity
    cam = camera.world_to_camera(lit.positions.astype(np.float64))
    z = cam[:, 2]
    tri = lit.triangles[(z[lit.triangles] > 1e-3).all(axis=1)]
    if len(tri) == 0:
        return out
    uv = k.project(cam)
    p = uv[tri]  # [T, 3, 2]
    # Back faces are culled (every part is a closed crown or a sheet seen from its front): a face
    # turned toward the camera runs clockwise in pixel coordinates (y down), negative area here.
    signed = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
    front = signed < 0
    tri, p = tri[front], p[front]
    # Rows of each triangle's bounding box, then each row's span inside the triangle.
    lo_y = np.clip(np.ceil(p[:, :, 1].min(axis=1)), 0, k.height).astype(np.int64)
    hi_y = np.clip(np.floor(p[:, :, 1].max(axis=1)) + 1, 0, k.height).astype(np.int64)
    rows = np.maximum(hi_y - lo_y, 0)
    t_row = np.repeat(np.arange(len(tri)), rows)
    y_row = lo_y[t_row] + np.arange(rows.sum()) - np.repeat(np.cumsum(rows) - rows, rows)
    x_lo, x_hi = _row_spans(p[t_row], y_row.astype(np.float64))
    x_lo = np.clip(np.ceil(x_lo - 1e-9), 0, k.width).astype(np.int64)
    x_hi = np.clip(np.floor(x_hi + 1e-9) + 1, 0, k.width).astype(np.int64)
    count = np.maximum(x_hi - x_lo, 0)
    keep = count > 0
    t_row, y_row, x_lo, count = t_row[keep], y_row[keep], x_lo[keep], count[keep]
    which = np.repeat(t_row, count)
    px = np.repeat(x_lo, count) + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    py = np.repeat(y_row, count)
    a, b, c = p[which, 0], p[which, 1], p[which, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    ok = np.abs(area) > 1e-12
    inv = np.where(ok, 1.0 / np.where(ok, area, 1.0), 0.0)
    w1 = ((px - a[:, 0]) * (c[:, 1] - a[:, 1]) - (py - a[:, 1]) * (c[:, 0] - a[:, 0])) * inv
    w2 = ((b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (b[:, 1] - a[:, 1]) * (px - a[:, 0])) * inv
    w0 = 1.0 - w1 - w2
    inside = ok & (w0 >= -1e-9) & (w1 >= -1e-9) & (w2 >= -1e-9)
    which, px, py = which[inside], px[inside], py[inside]
    if len(which) == 0:
        return out
    bary = np.stack([w0[inside], w1[inside], w2[inside]], axis=1)
    inv_z = 1.0 / z[tri[which]]  # [P, 3]
    persp = bary * inv_z
    depth = persp.sum(axis=1)  # 1/z at the pixel: larger is nearer
    persp /= depth[:, None]
    pixel = py * k.width + px
    order = np.lexsort((-depth, pixel))
    pixel, persp, which = pixel[order], persp[order], which[order]
    first = np.concatenate([[True], pixel[1:] != pixel[:-1]])
    colour = np.einsum("pk,pkc->pc", persp[first], lit.colours[tri[which[first]]])
    out.reshape(-1, 3)[pixel[first]] = colour
    return out


def _row_spans(tri: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x range [lo, hi] where the row at height y [R] crosses each triangle [R, 3, 2]."""
    lo = np.full(len(y), np.inf)
    hi = np.full(len(y), -np.inf)
    for i, j in ((0, 1), (1, 2), (2, 0)):
        a, b = tri[:, i], tri[:, j]
        dy = b[:, 1] - a[:, 1]
        crosses = (np.minimum(a[:, 1], b[:, 1]) <= y) & (y <= np.maximum(a[:, 1], b[:, 1])) & (np.abs(dy) > 1e-12)
        t = np.where(crosses, (y - a[:, 1]) / np.where(crosses, dy, 1.0), 0.0)
        x = a[:, 0] + t * (b[:, 0] - a[:, 0])
        lo = np.where(crosses, np.minimum(lo, x), lo)
        hi = np.where(crosses, np.maximum(hi, x), hi)
    return lo, hi


def draw_interior(lit: LitMouth, camera: ViewCamera, box: tuple[int, int, int, int], supersample: int,
                  raster=None, soften_px: float = 0.0) -> np.ndarray:
    """The lit interior seen from ``camera`` inside the output ``box``: float32 [h, w, 3] (0..255).
    ``raster``: a ``RasterRenderer`` (OpenGL) or None for the numpy reference; ``soften_px``: a
    Gaussian blur (output pixels) after the box filter, where few samples leave edges stepped."""
    fine = box_camera(camera, box, supersample)
    image = raster.render_mouth(fine, lit) if raster is not None else rasterise(lit, fine)
    image = downsample(image, supersample)
    return cv2.GaussianBlur(image, (0, 0), soften_px) if soften_px > 0 else image


def contact_shade(mask: np.ndarray, pixels_per_cm: float, config: MouthShadingConfig = MouthShadingConfig()) -> np.ndarray:
    """Soft dark contact where the lips meet what is behind them: 1 deep inside the mask (float32
    [h, w] in 0..1), down to ``contact_floor`` at its edge and in slivers (closed lips)."""
    sigma = max(config.contact_cm * pixels_per_cm, 0.5)
    band = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma)
    return config.contact_floor + (1.0 - config.contact_floor) * _smoothstep(0.5, 0.95, band)
