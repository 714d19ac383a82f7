"""Feature blending of the inner mouth (paper Eq. 12-13), in image space.

The inner-lip polygon of the deformed mesh, for each frame of the mask window, is seen from the
current camera and the masks are averaged (Eq. 13); the mouth layer is blended in with that mask
(Eq. 12). The layer is the 3D interior (``core.render.mouth_scene``: teeth, gums, tongue, lit and
rasterised supersampled, by OpenGL when the engine has it, else by the numpy reference), the
photo's own teeth (``core.render.mouth``) over it where the photo showed them, and a soft dark
contact along the lips' edge (so closed lips show a dark line, never a light one).
"""
from __future__ import annotations

import numpy as np

from core.expression.track import FaceState, FrameFaces
from core.face import topology as topo
from core.face.face_model import FaceModel
from core.preprocess.mouth_colours import MouthColours
from core.preprocess.subject import Subject
from core.render import mouth as mouth_model
from core.render import mouth_scene
from core.render.camera import ViewCamera
from core.render.config import FastPathConfig, MouthConfig
from core.render.deformation import moved_head_pose
from core.render.motion_field import head_motion_matrix

_LIP_POLYGON = list(topo.inner_lip_polygon())
_UPPER_IN_POLY, _LOWER_IN_POLY = mouth_model.FACING_UPPER, mouth_model.FACING_LOWER


class MouthCompositor:
    """Per-subject lip geometry and mouth layers; ``lip_polygons`` then ``composite`` per frame."""

    def __init__(self, subject: Subject, model: FaceModel, colours: MouthColours,
                 seal_field: np.ndarray, config: MouthConfig = MouthConfig(),
                 head_pivot: np.ndarray | None = None, fast: FastPathConfig = FastPathConfig()):
        """seal_field: float [478, 3] head-frame displacement that closes the photo's lip gap;
        head_pivot: [3] head frame, the pivot of the head's rigid motion (``Deformer.head_region``);
        fast: the fast paths (``FastPathConfig.lip_polygons_kept``)."""
        self.subject = subject
        self.head_pivot = np.zeros(3) if head_pivot is None else np.asarray(head_pivot, np.float64)
        self.config = config
        self.fast = fast
        self.colours = colours
        self.head_init = subject.head_mesh.astype(np.float64)
        self._lip_init = self.head_init[_LIP_POLYGON]
        self._lip_basis = model.basis[:, _LIP_POLYGON, :].astype(np.float64)  # [K, M, 3]
        self._lip_seal = np.asarray(seal_field, np.float64)[_LIP_POLYGON]
        self.photo_mouth = mouth_model.PhotoMouth.from_subject(subject, config.photo_teeth)
        self.scene = mouth_scene.MouthScene(self.head_init, model.jaw_weight, colours, config.geometry, config.shading)
        # The chin under the mandible's own expressions only (``MouthGeometryConfig.jaw_expressions``).
        self._jaw_ids = mouth_scene.jaw_vertices(self.head_init, model.jaw_weight)
        self._jaw_coeffs = np.array([model.names.index(n) for n in config.geometry.jaw_expressions], np.int64)
        self._jaw_basis = model.basis[self._jaw_coeffs][:, self._jaw_ids, :].astype(np.float64)  # [J, C, 3]
        self.raster = None  # a RasterRenderer draws the interior with OpenGL; None: the numpy reference
        # Inner-lip polygons of recent faces (a face is in n windows in a row): key -> [M, 3].
        self._polygons: dict[tuple, np.ndarray] = {}

    def to_world(self, head: np.ndarray) -> np.ndarray:
        """Head-frame points [N, 3] -> world (the photo's camera frame), cm."""
        return head @ self.subject.rotation.T + self.subject.translation

    def head_pose(self, head_motion: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        """The head frame's pose (rotation [3, 3], translation [3]: head -> world) after the head's
        rigid motion (``FaceState.head``); the mouth moves rigidly with the head."""
        s = self.subject
        if not any(head_motion):
            return np.asarray(s.rotation, np.float64), np.asarray(s.translation, np.float64)
        return moved_head_pose(np.asarray(s.rotation, np.float64), np.asarray(s.translation, np.float64),
                               head_motion_matrix(head_motion, self.head_pivot))

    def jaw_motion(self, face: FaceState) -> tuple[np.ndarray, np.ndarray]:
        """The mandible's rigid motion (rotation [3, 3], translation [3], head frame) from the
        photo's face to ``face``: fitted to the chin as the jaw's own expressions move it, so a
        smile or a pout (which move the chin's soft tissue) leaves the teeth where they are."""
        delta = (face.beta - self.subject.beta_init).astype(np.float64)[self._jaw_coeffs]
        source = self.head_init[self._jaw_ids]
        return mouth_scene.rigid_fit(source, source + np.einsum("j,jvc->vc", delta, self._jaw_basis))

    def lip_polygon(self, face: FaceState) -> np.ndarray:
        """The deformed inner-lip polygon of ``face``, world frame [M, 3]."""
        delta = (face.beta - self.subject.beta_init).astype(np.float64)
        head = self._lip_init + np.einsum("k,kvc->vc", delta, self._lip_basis) + face.seal * self._lip_seal
        # Lips that are pushed past each other are closed, not inside out.
        upper, lower = head[_UPPER_IN_POLY], head[_LOWER_IN_POLY]
        crossed = lower[:, 1] < upper[:, 1]  # y is down
        if crossed.any():
            mid = 0.5 * (upper[crossed] + lower[crossed])
            head[_UPPER_IN_POLY[crossed]] = mid
            head[_LOWER_IN_POLY[crossed]] = mid
        rotation, translation = self.head_pose(face.head)
        return head @ rotation.T + translation

    def lip_polygons(self, faces: FrameFaces) -> list[np.ndarray]:
        """World-frame inner-lip polygons of the mask window (Eq. 13), the current one last. The
        polygons of the last ``fast.lip_polygons_kept`` faces are kept and reused (0: none)."""
        keep = self.fast.lip_polygons_kept
        if not keep:
            return [self.lip_polygon(face) for face in faces.window]
        out = []
        for face in faces.window:
            key = (face.beta.tobytes(), face.seal, face.head)
            polygon = self._polygons.get(key)
            if polygon is None:
                polygon = self._polygons[key] = self.lip_polygon(face)
                while len(self._polygons) > keep:
                    del self._polygons[next(iter(self._polygons))]  # the oldest
            out.append(polygon)
        return out

    def composite(self, rgb: np.ndarray, hit_depth: np.ndarray, polygons: list[np.ndarray],
                  vertices: np.ndarray, camera: ViewCamera, head: tuple[float, ...] = (0.0,) * 6,
                  mouth_surface: np.ndarray | None = None,
                  jaw: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
        """Eq. 12 in image space: rgb <- rgb * (1 - M) + mouth * M, in place.

        rgb: float32 [S, S, 3] in 0..255, or uint8 [S, S, 3]: then only the mouth's box is blended
        in float32 and rounded back (as ``np.clip(rgb + 0.5, 0, 255).astype(np.uint8)`` rounds the
        float image; the pixels outside it are untouched, so both give the same uint8 image);  hit_depth: float32 [S, S] world z of the person hit (cm,
        +inf = missed);  vertices: float [478, 3] the deformed mesh, head frame;  head: the
        frame's head motion (``FaceState.head``);  mouth_surface: float32 [S, S] or None, how much
        the surface in view is the mouth's own (lips, opening): the interior shows only there (in
        side views the lip polygon reaches past the lips);  jaw: the mandible's motion (``jaw_motion``;
        None: fitted to the deformed chin). Returns M, float32 [S, S]."""
        rotation, translation = self.head_pose(head)

        def to_world(points: np.ndarray) -> np.ndarray:
            return points @ rotation.T + translation

        size = camera.intrinsics.width
        head_now = np.asarray(vertices, np.float64)
        cfg = self.config.mask
        # The mask's edge is as soft as the photo's own edges here (a photo pixel spans this many).
        photo_px = camera.intrinsics.focal_px / self.subject.intrinsics.focal_px
        soften = cfg.edge_photo_px * max(photo_px, 1.0)
        mask, current, (bx0, by0, bx1, by1) = mouth_model.averaged_mask(polygons, camera, cfg, soften)
        # The mouth is hidden where something (the nose, a turned cheek) is clearly in front of it,
        # and beyond the head's silhouette (in side views the lip polygon can reach past it).
        lips_z = to_world(head_now[_LIP_POLYGON])[:, 2].min()
        region = mask[by0:by1, bx0:bx1]  # a view: the mask is zero outside it
        hits = hit_depth[by0:by1, bx0:bx1]
        region *= np.isfinite(hits) & (hits >= lips_z - cfg.occluder_margin_cm)
        if mouth_surface is not None:
            region *= np.clip(mouth_surface[by0:by1, bx0:bx1], 0.0, 1.0)
        ys, xs = np.nonzero(region > cfg.threshold)
        if len(ys) == 0:
            return mask
        ys, xs = ys + by0, xs + bx0
        pad = cfg.box_pad_px
        box = (max(xs.min() - pad, 0), max(ys.min() - pad, 0), min(xs.max() + pad + 1, size),
               min(ys.max() + pad + 1, size))
        if jaw is None:
            jaw = self.scene.jaw_pose(head_now)
        lit = self.scene.light(head_now, rotation, translation, camera, jaw)
        shading = self.config.shading
        if self.raster is not None:
            inner = mouth_scene.draw_interior(lit, camera, box, shading.supersample, self.raster)
        else:
            inner = mouth_scene.draw_interior(lit, camera, box, shading.reference_supersample, None,
                                              shading.reference_soften_px)
        x0, y0, x1, y1 = box
        # The drawn interior darkens where the lips meet it (the photo's own teeth carry their own).
        lips_depth = float(camera.world_to_camera(to_world(head_now[_LIP_POLYGON]))[:, 2].mean())
        contact = mouth_scene.contact_shade(current[y0:y1, x0:x1], camera.intrinsics.focal_px / max(lips_depth, 1e-3),
                                            shading)[..., None]
        inner *= contact
        pm = self.photo_mouth
        if not pm.empty:
            s = self.subject
            photo_rgb, photo_a = mouth_model.photo_mouth_layers(
                pm, camera, s.intrinsics, rotation, translation, self.head_init, jaw, box,
                self.config.geometry.photo_teeth_depth_cm, photo_pose=(s.rotation, s.translation),
                config=self.config.photo_teeth, where=mask[y0:y1, x0:x1] > cfg.threshold,
                lift_cm=mouth_model.lower_sheet_lift(self.head_init, head_now, jaw))
            # Lips closing over the photo's teeth: where they meet, the teeth are in their shadow
            # too (the closed lips' line is dark, not a line of teeth; a photo's closed mouth
            # shows its own dark slit there).
            closing = 1.0 - min(mouth_model._widest_gap(camera.project(polygons[-1])) / cfg.open_px, 1.0)
            if closing > 0 and pm.shows_teeth:
                photo_rgb = photo_rgb * ((1.0 - closing) + closing * contact)
            inner = inner * (1 - photo_a[..., None]) + photo_rgb * photo_a[..., None]
        m = mask[y0:y1, x0:x1, None]
        blended = rgb[y0:y1, x0:x1].astype(np.float32) * (1 - m) + inner * m
        if rgb.dtype == np.uint8:
            blended = np.clip(blended + 0.5, 0, 255)
        rgb[y0:y1, x0:x1] = blended
        return mask
