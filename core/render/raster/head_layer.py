"""The fitted whole head as a layer of the rasterised scene (behind the photo's relief).

The relief is what the photo saw: the face, the hair and the body as a height field. Past about
20 degrees of orbit a height field shows its edges: where the photo's frame cut the head, the
back of the head that was never seen. The fitted MakeHuman head (``core.head``) closes that: it
is drawn a little inside its fitted surface, so that wherever the relief exists it stays in front
(the photo's own pixels win), and the head shows where the relief has nothing: beyond the
photo's frame, behind the ears, the crown and the back of the head.

Its colour: where the photo saw a head vertex (facing the photo's camera, inside the frame, on
the person and on the relief's own surface there) the photo's pixel; elsewhere the seen colours
carried over the mesh by a harmonic fill (the hair's colour runs back over the scalp, the skin's
over the ears and neck), so the seen and unseen parts meet without a seam.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from core.head import surface
from core.head.drive import ExpressionBinding
from core.head.fit import FittedHead
from core.head.template import REGION_NAMES
from core.render.config import Ramp
from core.render.relief_renderer import ReliefScene


@dataclass(frozen=True)
class HeadLayerConfig:
    inset_cm: float = 0.5  # drawn this far inside the fitted surface: the relief wins where both exist
    seen_facing: Ramp = Ramp(0.15, 0.25)  # cos(normal, direction to the photo camera): seen from here on
    seen_depth_cm: float = 1.5  # a vertex is seen where the relief's surface lies within this of it
    seen_alpha: float = 0.5  # ... and the person matte there is at least this
    frame_margin_px: float = 2.0  # photo pixels closer than this to the frame count as unseen
    hidden_regions: tuple[str, ...] = ("inside",)  # not drawn (the mouth bag, nostrils, eye sockets)
    hair_regions: tuple[str, ...] = ("scalp", "back")  # filled with the hair's colour, the rest with the skin's
    hair_band: tuple[float, float] = (0.05, 0.45)  # the hair sample: the person this far above the face box (x its height)
    relief_regions: tuple[str, ...] = ("face",)  # not drawn where the photo shows the face (FaceMesh's
    # coverage, ``ReliefScene.face_fill``): the relief is the face there in every view (the fitted face
    # would poke through it at the lids and the far cheek); beyond it (under the chin, the temples,
    # the side of the head) it is drawn, behind the relief, for the views that see past the relief
    relief_face_fill: float = 0.5  # ... from this face coverage on
    photo_regions: tuple[str, ...] = ("ears",)  # not drawn where the photo saw them well (``seen``): the
    # relief draws the photo's own ear there, and a fitted ear beside it would be a second one
    ahead_cm: float = 0.3  # in front of the relief by more than this on the person: hidden near the photo's view
    covered_regions: tuple[str, ...] = ("neck",)  # not drawn where the photo shows something well in front
    covered_cm: float = 2.5  # ... by this much (a collar, a scarf, a hand): it would poke out beside it
    background_alpha: float = 0.1  # facing the photo's camera inside the frame on less matte than this:
    # the photo shows background there, so near the photo's view the fitted head (an ear, a crown
    # wider than the hair) is not drawn there (``HeadLayer.contradicted``; turned views show it)
    fill_shade: tuple[float, float] = (0.55, 0.45)  # unseen colour x (a + b cos(normal, view)): a rounded look


@dataclass
class HeadLayer:
    """The head mesh for the rasteriser (world = the photo's camera frame, cm).

    positions: float32 [V, 3]  inset surface, canonical (photo expression)
    texcoords: float32 [V, 2]  photo texture coordinates (0..1)
    seen:      float32 [V]     how much the photo's pixel is used (0..1)
    colours:   float32 [V, 3]  the fill colour where unseen (0..1)
    triangles: int32 [F, 3]
    offsets:   float32 [V, 3]  world offset of each drawn vertex from the fitted surface (the inset)
    normals:   float32 [V, 3]  outward unit normals (world), for the unseen parts' shading
    contradicted: float32 [V]  1 where the photo contradicts the fitted head: it shows background there,
               or the person behind it (hidden near the photo's view, like the relief's fade at the
               frame: see ``FrameFadeConfig``)
    """

    positions: np.ndarray
    texcoords: np.ndarray
    seen: np.ndarray
    colours: np.ndarray
    triangles: np.ndarray
    offsets: np.ndarray
    normals: np.ndarray
    contradicted: np.ndarray


def _harmonic_fill(values: np.ndarray, known: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """values [V, C] kept where ``known`` [V] (bool), the rest solved harmonic over the mesh graph."""
    n = len(values)
    if known.all() or not known.any():
        return values if known.all() else np.broadcast_to(values.mean(axis=0), values.shape).copy()
    lap = surface.graph_laplacian(n, triangles).tocsr()
    unknown = np.nonzero(~known)[0]
    kn = np.nonzero(known)[0]
    a = lap[unknown][:, unknown]
    b = -lap[unknown][:, kn] @ values[kn]
    out = values.copy()
    # Vertices in a part of the mesh no known vertex reaches get the mean colour.
    a = a + scipy.sparse.identity(len(unknown), format="csr") * 1e-6
    out[unknown] = scipy.sparse.linalg.spsolve(a.tocsc(), b).reshape(len(unknown), -1)
    return out


def _hair_colour(appearance: np.ndarray, face_uv: np.ndarray, config: HeadLayerConfig) -> np.ndarray | None:
    """Median RGB [3] (0..1) of the person just above the face's photo box, or None where the
    photo shows nothing there (cropped at the forehead)."""
    (x0, y0), (x1, y1) = face_uv.min(axis=0), face_uv.max(axis=0)
    h = y1 - y0
    top, bottom = int(max(y0 - config.hair_band[1] * h, 0)), int(max(y0 - config.hair_band[0] * h, 0))
    band = appearance[top:bottom, int(max(x0, 0)):int(max(x1, 0))]
    person = band[..., 3] > 0.5
    return np.median(band[person][:, :3], axis=0) if person.sum() >= 20 else None


def _region_colours(sampled: np.ndarray, seen: np.ndarray, hairy: np.ndarray, triangles: np.ndarray,
                    hair: np.ndarray | None) -> np.ndarray:
    """Fill colours [V, 3]: the hair regions from what the photo saw of them (or the hair sample
    where it saw none), the others from the seen skin; each carried over the mesh harmonically."""
    out = np.empty_like(sampled)
    for group in (hairy, ~hairy):
        known = seen & group
        values = sampled.copy()
        if group is hairy and hair is not None and known.sum() < 3:
            known = group & ~seen  # nothing of the hair seen: the hair sample everywhere
            values[known] = hair
        filled = _harmonic_fill(values, known, triangles) if known.any() else np.broadcast_to(
            sampled[seen].mean(axis=0) if seen.any() else sampled.mean(axis=0), sampled.shape)
        out[group] = filled[group]
    return out


def build_head_layer(scene: ReliefScene, head: FittedHead, rotation: np.ndarray, translation: np.ndarray,
                     config: HeadLayerConfig = HeadLayerConfig()) -> HeadLayer:
    """The head layer of a subject: ``head`` in the head frame, ``rotation``/``translation`` head ->
    world (the subject's pose)."""
    world = head.vertices.astype(np.float64) @ rotation.T + translation
    normals = surface.vertex_normals(world, head.triangles)
    offsets = -config.inset_cm * normals
    photo, geo = scene.photo, scene.geo
    uv = photo.project(world)
    to_camera = -world / np.linalg.norm(world, axis=1, keepdims=True)
    facing = config.seen_facing((normals * to_camera).sum(axis=1))
    m = config.frame_margin_px
    inside = (uv[:, 0] >= m) & (uv[:, 0] <= photo.width - 1 - m) & (uv[:, 1] >= m) & (uv[:, 1] <= photo.height - 1 - m)
    appearance = scene.appearance[0].permute(1, 2, 0).cpu().numpy()  # [H, W, 4] 0..1
    maps = uv.astype(np.float32)
    sampled = cv2.remap(appearance, maps[:, 0:1], maps[:, 1:2], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)[:, 0]
    g = (uv + 0.5) * np.array([geo.width / photo.width, geo.height / photo.height]) - 0.5
    depth = scene.depth_open[0, 0].cpu().numpy()
    relief_z = cv2.remap(depth, g[:, 0:1].astype(np.float32), g[:, 1:2].astype(np.float32), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)[:, 0]
    on_surface = np.abs(world[:, 2] - relief_z) < config.seen_depth_cm
    seen = facing * inside * on_surface * (sampled[:, 3] >= config.seen_alpha)
    hairy = np.isin(head.regions, [REGION_NAMES.index(r) for r in config.hair_regions])
    colours = _region_colours(sampled[:, :3].astype(np.float64), seen > 0.5, hairy, head.triangles,
                              _hair_colour(appearance, uv[head.regions == REGION_NAMES.index("face")], config))
    hidden = np.isin(head.regions, [REGION_NAMES.index(r) for r in config.hidden_regions])
    on_person = inside & (sampled[:, 3] >= config.seen_alpha)
    covered = (np.isin(head.regions, [REGION_NAMES.index(r) for r in config.covered_regions]) & on_person
               & (relief_z < world[:, 2] - config.covered_cm))
    face_fill = cv2.remap(scene.face_fill[0, 0].cpu().numpy().astype(np.float32), maps[:, 0:1], maps[:, 1:2],
                          cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)[:, 0]
    on_relief = (np.isin(head.regions, [REGION_NAMES.index(r) for r in config.relief_regions]) & inside
                 & (face_fill >= config.relief_face_fill))
    # In front of the relief where the photo shows the person (an ear the photo saw edge-on, whose
    # photo pixels the relief keeps behind it): near the photo's view it would hide them.
    ahead = on_person & (world[:, 2] - config.inset_cm < relief_z - config.ahead_cm)
    contradicted = (((normals * to_camera).sum(axis=1) > 0) & inside & (sampled[:, 3] < config.background_alpha)) | ahead
    # The photo's own ear, where it saw it well: the fitted one beside it would be a second ear.
    photo_owned = np.isin(head.regions, [REGION_NAMES.index(r) for r in config.photo_regions]) & (seen > 0.5)
    keep = (~(hidden | covered | on_relief | photo_owned)[head.triangles].all(axis=1)
            & ~(hidden | covered)[head.triangles].any(axis=1))
    tex = ((uv + 0.5) / np.array([photo.width, photo.height])).astype(np.float32)
    triangles = _facing_winding(head.triangles[keep], uv, world, normals)
    return HeadLayer((world + offsets).astype(np.float32), tex, seen.astype(np.float32),
                     np.clip(colours, 0, 1).astype(np.float32), triangles.astype(np.int32),
                     offsets.astype(np.float32), normals.astype(np.float32), contradicted.astype(np.float32))


def _facing_winding(triangles: np.ndarray, uv: np.ndarray, world: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """The triangles wound like the relief's: a triangle facing the camera has a positive signed
    area in pixel coordinates (u right, v down), so the rasteriser culls the same side of both."""
    to_camera = -world[triangles].mean(axis=1)
    facing = (normals[triangles].mean(axis=1) * to_camera).sum(axis=1) > 0
    p = uv[triangles]
    area = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
    agree = np.mean((area > 0) == facing)
    return triangles if agree >= 0.5 else triangles[:, [0, 2, 1]]


class MovingHead:
    """The head layer's vertices for a frame: the fitted skin moved by the expression binding."""

    def __init__(self, layer: HeadLayer, binding: ExpressionBinding, rotation: np.ndarray):
        self.layer = layer
        self.binding = binding
        self._rotation_t = np.asarray(rotation, np.float32).T

    def positions(self, dv: np.ndarray) -> np.ndarray:
        """[V, 3] world vertices for the face mesh's displacement ``dv`` [478, 3] (head frame, cm)."""
        moved = self.binding.skin_displacement(np.asarray(dv, np.float32)).astype(np.float32)
        return self.layer.positions + moved @ self._rotation_t
