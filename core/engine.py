"""The engine: one prepared subject, rendered frame by frame.

The viewer and the command line talk to it only through ``Engine.render(FrameRequest)``. A
request is a frozen description of one frame; the engine orchestrates the stages for it:

    expression track (core.expression.track)  request -> the face of this frame and the n before
    deformation (core.render.deformation)     face -> vertex displacements -> 3D field (Eq. 5-6)
    raster (core.render.raster)               fast path: the person mesh moved by the deformation,
                                              rasterised over the background with OpenGL
    surface (core.render.surface)             ray-marcher paths: deformed height field, or Eq. 7
                                              per sample (the reference)
    ray marching (core.render.relief_renderer) the person layer over the background (Eq. 2, 7)
    mouth (core.render.mouth_compositor)      inner mouth blended with the averaged mask (Eq. 12-13)

It keeps the last frame's result, so a frame that would come out identical (silence at a still
camera) is not rendered again.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import torch

from core.device import resolve_device
from core.expression.track import ExpressionConfig, ExpressionTrack, FaceState, FrameFaces
from core.face import topology as topo
from core.face.arkit import NUM_EXPRESSIONS
from core.face.face_model import FaceModel, load_face_model
from core.frame_worker import EngineRecipe
from core.options import DEFAULT_RENDERER, RENDERERS
from core.preprocess.subject import Subject
from core.preprocess.mouth_colours import MouthColours
from core.render.camera import ViewCamera, head_framing, photo_framing, view_camera
from core.render.config import RenderConfig
from core.render.deformation import Deformer, FrameDeformation
from core.render.motion_field import inverse_motion
from core.render.mouth import lip_seal_field
from core.render.mouth_compositor import MouthCompositor
from core.render.raster.eye_texture import EyeTexture
from core.render.raster.gl_renderer import BackgroundPlane, RasterRenderer, RasterUnavailable
from core.render.raster.head_layer import HeadLayerConfig, MovingHead, build_head_layer
from core.render.raster.relief_mesh import MeshConfig, build_relief_mesh, mouth_region_mask
from core.render.raster.surface import DeformedMesh, PhotoLips
from core.render.relief_renderer import ReliefScene, render_relief
from core.render.surface import FastSurface, ReferenceSurface
from core.request import FrameRequest

__all__ = ["FPS", "RENDERERS", "Engine", "FrameRequest", "RenderResult"]

FPS = 25


@dataclass
class RenderResult:
    image: np.ndarray  # uint8 [S, S, 3]
    mouth_mask: np.ndarray  # float32 [S, S], the averaged mask used for blending
    seconds: dict[str, float] = field(default_factory=dict)


class Engine:
    """Renders one subject. Thread-safe: one render at a time."""

    def __init__(self, subject: Subject, device: str | torch.device = "auto", model: FaceModel | None = None,
                 config: RenderConfig = RenderConfig(), expression: ExpressionConfig = ExpressionConfig(),
                 renderer: str = DEFAULT_RENDERER, mesh: MeshConfig = MeshConfig(),
                 head: HeadLayerConfig | None = HeadLayerConfig()):
        if renderer not in RENDERERS:
            raise ValueError(f"renderer must be one of {RENDERERS}, not {renderer!r}")
        self.subject = subject
        self.config = config
        self.model = model or load_face_model()
        self.device = resolve_device(device)
        # How to build this engine again in another process (``core.frame_worker``).
        self.recipe = EngineRecipe(subject, str(self.device), config, expression, renderer, mesh, head, model)
        self.driver = np.zeros((0, NUM_EXPRESSIONS), np.float32)
        self.track = ExpressionTrack(subject.beta_init, config=expression)
        self.scene = ReliefScene.from_subject(subject, self.device, config.march, config.wall, config.hidden_side)
        self.deformer = Deformer(subject, self.model, self.device, config.deformation)
        self.reference = ReferenceSurface(self.scene, self.deformer, config.march, config.wall)
        # Closes the photo's own lip gap where the audio seals the lips.
        self.seal_field = lip_seal_field(subject.head_mesh.astype(np.float64), config.mouth.mask.seal_falloff_cm)
        colours = MouthColours.from_array(subject.relief.mouth_colours)
        self.mouth = MouthCompositor(subject, self.model, colours, self.seal_field, config.mouth,
                                     head_pivot=self.deformer.head_region.pivot, fast=config.fast_paths)
        self.pivot = np.asarray(subject.translation, np.float64)
        photo = subject.intrinsics
        uv = photo.project(subject.mesh.astype(np.float64))
        self.face_box_px = (float(uv[:, 0].min()), float(uv[:, 1].min()), float(uv[:, 0].max()), float(uv[:, 1].max()))
        focus_px = tuple(photo.project(self.pivot[None])[0])
        self.framings = {"photo": photo_framing(photo, focus_px), "head": head_framing(photo, self.face_box_px)}
        self._lock = threading.Lock()
        self._last: tuple[tuple, RenderResult] | None = None
        self.raster: RasterRenderer | None = None
        if renderer != "march":
            self._start_raster(renderer, mesh, head)
        self.renderer = "raster" if self.raster is not None else "march"

    @cached_property
    def fast(self) -> FastSurface:
        """The ray marcher's fast surface (the warped height field), built when first needed: a
        rasterising engine never builds it unless asked for the marcher (a few seconds saved)."""
        return FastSurface(self.scene, self.deformer, self.config.march)

    def _start_raster(self, renderer: str, mesh_config: MeshConfig, head_config: HeadLayerConfig | None) -> None:
        photo = self.subject.intrinsics
        lips = photo.project(self.subject.mesh[list(topo.outer_lip_polygon())].astype(np.float64))
        mesh = build_relief_mesh(self.scene, mesh_config, self.config.hidden_side,
                                 mouth_region_mask(lips, photo.width, photo.height))
        self.head = None
        head_layer = None
        if head_config is not None:
            from core.head.drive import expression_binding
            from core.head.fit import fit_subject_head

            fitted = fit_subject_head(self.subject)
            rot = np.asarray(self.subject.rotation, np.float64)
            head_layer = build_head_layer(self.scene, fitted, rot, np.asarray(self.subject.translation, np.float64),
                                          head_config)
            self.head = MovingHead(head_layer, expression_binding(fitted, self.subject.head_mesh, self.model.triangles), rot)
        scene = self.scene
        background = BackgroundPlane(
            np.clip(scene.background[0].permute(1, 2, 0).cpu().numpy() * 255.0 + 0.5, 0, 255).astype(np.uint8),
            scene.background_geo, scene.background_depth)
        appearance = scene.appearance[0].permute(1, 2, 0).cpu().numpy()
        try:
            self.raster = RasterRenderer(mesh, appearance, background, scene.head_affine[0, :3].cpu().numpy(),
                                         self.config.hidden_side, head=head_layer,
                                         head_shade=head_config.fill_shade if head_config else HeadLayerConfig().fill_shade,
                                         photo=self.scene.photo, speed=self.config.fast_paths)
        except RasterUnavailable as err:
            if renderer == "raster":
                raise
            print(f"OpenGL is not available, rendering with the ray marcher: {err}", file=sys.stderr)
            return
        self.mesh = DeformedMesh(mesh.positions, self.deformer, self.subject.beta_init,
                                 PhotoLips(self.subject.mesh.astype(np.float64), photo))
        self.eyes = EyeTexture(self.scene, self.deformer)
        rest_dv = np.zeros((len(self.subject.head_mesh), 3), np.float32)
        # Each vertex's weight in the head's motion, at rest (``Deformer.move_points_array``).
        self._motion_weights = (self.deformer.head_weight_array(self.mesh.positions(rest_dv)),
                                self.deformer.head_weight_array(self.head.positions(rest_dv)) if self.head else None)
        self.mouth.raster = self.raster  # the mouth interior is drawn by OpenGL too
        self._mesh_key: tuple | None = None

    def close(self) -> None:
        """Release the OpenGL renderer (its thread and context); the engine can still render
        with the ray marcher afterwards."""
        with self._lock:
            if self.raster is not None:
                self.raster.close()
                self.raster = None
                self.mouth.raster = None
                self.renderer = "march"

    # ----------------------------------------------------------------- driver
    def set_driver(self, coefficients: np.ndarray) -> None:
        """Per-frame beta_t^audio, float [T, NUM_EXPRESSIONS] at 25 fps."""
        with self._lock:
            self.track = self.track.with_driver(coefficients)
            self.driver = np.asarray(coefficients)

    @property
    def num_frames(self) -> int:
        return self.track.num_frames

    # ----------------------------------------------------------------- render
    def camera(self, request: FrameRequest) -> ViewCamera:
        return view_camera(request.pose, self.pivot, self.subject.intrinsics, request.size,
                           self.framings[request.framing])

    def render(self, request: FrameRequest) -> np.ndarray:
        """uint8 [size, size, 3]."""
        return self.render_frame(request).image

    def render_frame(self, request: FrameRequest) -> RenderResult:
        with self._lock, torch.no_grad():
            return self._render(request)

    def _render(self, request: FrameRequest) -> RenderResult:
        times: dict[str, float] = {}
        t0 = time.perf_counter()
        cam = self.camera(request)
        faces = self.track.frame(request)
        faces = FrameFaces(self._resolve_eyes(faces.current, cam), faces.recent)
        polygons = self.mouth.lip_polygons(faces)
        key = (request.pose, cam.intrinsics, request.reference) + faces.current.key() + (
            np.concatenate(polygons).round(5).tobytes(),)
        if self._last is not None and self._last[0] == key:
            last = self._last[1]
            return RenderResult(last.image.copy(), last.mouth_mask.copy(), {"total": 0.0})
        if self.raster is not None and not request.reference:
            return self._render_raster(cam, faces.current, polygons, key, times, t0)
        frame = self._deform(faces.current)
        if request.reference:
            surface = self.reference.prepare(frame)
        else:
            surface = self.fast.prepare(faces.current, frame, request.size, request.pose.clamped().zoom)
        times["deform"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        raw = render_relief(surface.scene, cam, surface.query, surface.source_of, surface.steps,
                            refine=surface.refine, gap_of=surface.gap_of, config=self.config)
        times["march"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        rgb = (raw.rgb.clamp(0, 1) * 255.0).permute(1, 2, 0).cpu().numpy()
        mask = self.mouth.composite(rgb, raw.hit_depth.cpu().numpy(), polygons,
                                    frame.vertices.cpu().numpy(), cam, faces.current.head,
                                    jaw=self.mouth.jaw_motion(faces.current))
        times["mouth"] = time.perf_counter() - t2
        image = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        times["total"] = time.perf_counter() - t0
        self._last = (key, RenderResult(image, mask, times))
        return RenderResult(image.copy(), mask.copy(), times)

    def _render_raster(self, cam: ViewCamera, face: FaceState, polygons: list[np.ndarray], key: tuple,
                       times: dict[str, float], t0: float) -> RenderResult:
        """The fast path: the deformed person mesh rasterised with OpenGL. The expression moves
        the vertices through the folded NN mapping and the head's rigid motion moves them forward
        (``Deformer.move_points_array``); the eyelids and the gaze change what the eyes' surface
        shows: the photo's eye regions are redrawn through the same eye field as
        ``displacement_at`` (``EyeTexture``)."""
        dv = self.deformer.vertex_displacement_array(face.beta, self._seal(face))
        positions = head_positions = None
        if face.key() != self._mesh_key:
            motion = self.deformer.head_motion(face.head)
            move = self.deformer.move_points_array
            positions = move(self.mesh.positions(dv), motion, self._motion_weights[0])
            if self.head is not None:
                head_positions = move(self.head.positions(dv), motion, self._motion_weights[1])
            self._mesh_key = face.key()
        times["deform"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        raw = self.raster.render(cam, positions, head_positions, self.eyes.update(face.blink, face.gaze))
        times["raster"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        jaw = self.mouth.jaw_motion(face)
        if self.config.fast_paths.uint8_frame:  # the frame stays uint8; the mouth's box is blended in float
            image = raw.rgb
            mask = self.mouth.composite(image, raw.hit_depth, polygons, self.subject.head_mesh + dv, cam, face.head,
                                        raw.mouth_surface, jaw)
        else:
            rgb = raw.rgb.astype(np.float32)
            mask = self.mouth.composite(rgb, raw.hit_depth, polygons, self.subject.head_mesh + dv, cam, face.head,
                                        raw.mouth_surface, jaw)
            image = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        times["mouth"] = time.perf_counter() - t2
        times["total"] = time.perf_counter() - t0
        self._last = (key, RenderResult(image, mask, times))
        return RenderResult(image.copy(), mask.copy(), times)

    def _resolve_eyes(self, face: FaceState, cam: ViewCamera) -> FaceState:
        """The face with its gaze final: turned toward ``cam`` when it looks at the camera, and
        the upper lids lowered a little where the eyes look down."""
        gaze = face.gaze
        if face.gaze_at_camera:
            r, t = np.asarray(self.subject.rotation, np.float64), np.asarray(self.subject.translation, np.float64)
            target = r.T @ (np.asarray(cam.position, np.float64) - t)  # the camera, head frame
            motion = self.deformer.head_motion(face.head)
            if motion is not None:  # where the camera is for the moved head's eyes
                inv = inverse_motion(motion)
                target = inv[:, :3] @ target + inv[:, 3]
            turn = self.deformer.gaze.look_at(target, r.T @ -t)
            gaze = tuple(a + b for a, b in zip(gaze, turn))
        if not any(gaze) and not face.gaze_at_camera:
            return face
        follow = self.deformer.gaze.lid_closure(gaze)
        blink = (max(face.blink[0], follow[0]), max(face.blink[1], follow[1]))
        return replace(face, gaze=tuple(round(g, 4) for g in gaze), gaze_at_camera=False, blink=blink)

    def _seal(self, face: FaceState) -> np.ndarray | None:
        """The lip seal's vertex displacement [478, 3] (head frame, cm), None when open."""
        return face.seal * self.seal_field if face.seal > 0 else None

    def _deform(self, face: FaceState) -> FrameDeformation:
        return self.deformer.frame(face.beta, extra=self._seal(face), lids=face.blink, head=face.head, gaze=face.gaze)

