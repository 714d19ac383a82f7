"""The engine: one prepared subject, rendered frame by frame.

The viewer and the command line talk to it only through ``Engine.render(FrameRequest)``. A
request is a frozen description of one frame (camera, which expression, the motion parameters);
the engine holds the subject's tensors, the expression driver (Audio2Exp output or a CSV) and a
small cache of the last frame's deformation, so that orbiting a paused head does not recompute it.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from core.audio.motion import MotionParams, mouth_mask
from core.device import resolve_device
from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS
from core.face.face_model import FaceModel, load_face_model
from core.face import topology as topo
from core.geometry.pinhole import project_to_grid
from core.preprocess.subject import Subject
from core.render import mouth as mouth_model
from core.render.mouth import lip_seal_field
from core.render.camera import OrbitPose, ViewCamera, view_camera
from core.render.deformation import Deformer, FrameDeformation, warp_height_field, warp_plan
from core.render.relief_renderer import (NO_SURFACE_CM, ReliefScene, half_resolution, height_field_query,
                                         render_relief, sample_image, surface_gap)

FPS = 25
SEAL_PRESS_START, SEAL_PRESS_FULL = 0.03, 0.15  # mouthPress from the audio -> lip seal 0..1
_JAW, _CLOSE = EXPRESSION_INDEX["jawOpen"], EXPRESSION_INDEX["mouthClose"]
_PRESS_L, _PRESS_R = EXPRESSION_INDEX["mouthPressLeft"], EXPRESSION_INDEX["mouthPressRight"]
# Positions, in topo.inner_lip_polygon(), of facing upper/lower inner-lip vertices (corners excluded).
_UPPER_IN_POLY = np.arange(1, len(topo.LIP_INNER_UPPER) - 1)
_LOWER_IN_POLY = np.array([list(topo.inner_lip_polygon()).index(v) for v in topo.LIP_INNER_LOWER[1:-1]])
STEP_CM = 0.5  # ray-march step in depth (fast path)
REFERENCE_STEP_CM = 0.1


@dataclass(frozen=True)
class FrameRequest:
    """Everything that decides one rendered frame.

    pose:         orbit offset from the photo's camera
    size:         output height and width in pixels
    frame_index:  video frame of the loaded driver (floor(audio time * 25)); None = use coefficients
    coefficients: beta_t^audio for this frame ([NUM_EXPRESSIONS] floats); None with no frame_index
                  means silence (all zero)
    motion:       alpha_m and lambda_exp (paper 4.3)
    mask_window:  n of Eq. 13 (1 = no averaging)
    reference:    render with the plain reference path (per-sample deformation; slow)
    """

    pose: OrbitPose = OrbitPose()
    size: int = 256
    frame_index: int | None = None
    coefficients: tuple[float, ...] | None = None
    motion: MotionParams = MotionParams()
    mask_window: int = 7
    reference: bool = False


@dataclass
class RenderResult:
    image: np.ndarray  # uint8 [S, S, 3]
    mouth_mask: np.ndarray  # float32 [S, S], the averaged mask used for blending
    seconds: dict[str, float] = field(default_factory=dict)


class Engine:
    """Renders one subject. Thread-safe: one render at a time."""

    def __init__(self, subject: Subject, device: str | torch.device = "auto", model: FaceModel | None = None):
        self.subject = subject
        self.model = model or load_face_model()
        self.device = resolve_device(device)
        self.scene = ReliefScene.from_subject(subject, self.device)
        self.deformer = Deformer(subject, self.model, self.device)
        self.driver = np.zeros((0, NUM_EXPRESSIONS), np.float32)
        self._driven = mouth_mask()
        self._lock = threading.Lock()
        self._warp_key: tuple | None = None
        self._warp: tuple[torch.Tensor, torch.Tensor] | None = None
        self._history: list[tuple[np.ndarray, float]] = []  # (beta, seal) of recent coefficient requests
        self._last_key: tuple | None = None
        self._last_result: RenderResult | None = None
        self.pivot = np.asarray(subject.translation, np.float64)
        self.focus_px = tuple(subject.intrinsics.project(self.pivot[None])[0])
        self._head_init = subject.head_mesh.astype(np.float64)
        lip_ids = list(topo.inner_lip_polygon())
        self._lip_init = self._head_init[lip_ids]
        self._lip_basis = self.model.basis[:, lip_ids, :].astype(np.float64)  # [K, M, 3]
        self._seal_field = lip_seal_field(self._head_init)  # closes the photo's own lip gap
        self._lip_seal = self._seal_field[lip_ids]
        self._photo_mouth = mouth_model.PhotoMouth.from_subject(subject)
        self._colours = self._mouth_colours()
        # Geometry levels: full resolution, and half for outputs no larger than half of it.
        self._levels = [self.scene, half_resolution(self.scene)]
        self._warp_boxes = [self._deformation_box(level) for level in self._levels]
        self._warp_plans = [warp_plan(self.deformer, level.depth_open, level.geo, box)
                            for level, box in zip(self._levels, self._warp_boxes)]

    # ----------------------------------------------------------------- driver
    def set_driver(self, coefficients: np.ndarray) -> None:
        """Per-frame beta_t^audio, float [T, NUM_EXPRESSIONS] at 25 fps."""
        coefficients = np.asarray(coefficients, np.float32)
        assert coefficients.ndim == 2 and coefficients.shape[1] == NUM_EXPRESSIONS, coefficients.shape
        with self._lock:
            self.driver = coefficients
            self._history.clear()

    @property
    def num_frames(self) -> int:
        return len(self.driver)

    def audio_coefficients(self, request: FrameRequest, offset: int = 0) -> np.ndarray:
        """beta_t^audio of the request's frame (or ``offset`` frames before it)."""
        if request.frame_index is not None and len(self.driver):
            k = int(np.clip(request.frame_index - offset, 0, len(self.driver) - 1))
            return self.driver[k]
        if request.coefficients is not None:
            return np.asarray(request.coefficients, np.float32)
        return np.zeros(NUM_EXPRESSIONS, np.float32)

    def expression(self, request: FrameRequest, offset: int = 0) -> np.ndarray:
        """beta after the motion parameters, [NUM_EXPRESSIONS]. Where the audio presses the lips
        together (bilabials), mouthClose cancels the jaw's opening at the lips."""
        beta = request.motion.apply(self.audio_coefficients(request, offset), self.subject.beta_init,
                                    driven=self._driven)
        seal = self.lip_seal(request, offset)
        if seal > 0:
            beta[_CLOSE] = max(beta[_CLOSE], seal * beta[_JAW])
        return np.clip(beta, -0.5, 2.0).astype(np.float32)

    def lip_seal(self, request: FrameRequest, offset: int = 0) -> float:
        """How firmly the lips should meet in this frame, 0..1: a bilabial closure (/p b m/ press
        the lips) is a hard articulatory target, so the renderer honours it even over the jaw's
        coarticulated opening and the photo's own open mouth. Scales with alpha_m up to 0.5."""
        audio = self.audio_coefficients(request, offset)
        press = 0.5 * float(audio[_PRESS_L] + audio[_PRESS_R])
        t = min(max((press - SEAL_PRESS_START) / (SEAL_PRESS_FULL - SEAL_PRESS_START), 0.0), 1.0)
        return t * t * (3 - 2 * t) * min(1.0, 2.0 * request.motion.alpha_m)

    # ----------------------------------------------------------------- render
    def camera(self, request: FrameRequest) -> ViewCamera:
        return view_camera(request.pose, self.pivot, self.subject.intrinsics, request.size, self.focus_px)

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
        beta = self.expression(request)
        seal = self.lip_seal(request)
        # A frame that would come out identical to the last one (silence at a still camera) is
        # not rendered again: same camera, expression, mask history and path.
        polygons = self._mask_polygons(request, beta, seal)
        key = (request.pose, request.size, request.reference, beta.tobytes(), seal,
               np.concatenate(polygons).round(5).tobytes())
        if key == self._last_key and self._last_result is not None:
            return RenderResult(self._last_result.image.copy(), self._last_result.mouth_mask.copy(), {"total": 0.0})
        frame = self.deformer.frame(beta, extra=seal * self._seal_field if seal > 0 else None)
        gap_of = None
        if request.reference:
            query, source_of, gap_of = self._reference_surface(frame)
            steps = self._steps(REFERENCE_STEP_CM)
        else:
            level = 1 if 2 * request.size * request.pose.zoom <= self.scene.geo.width else 0
            depth, source = self._warped(beta, seal, frame, level)
            query = depth
            scene = self._levels[level]
            geo = scene.geo

            def source_of(points: torch.Tensor) -> torch.Tensor:
                return sample_image(source, project_to_grid(points, geo))

            steps = self._steps(STEP_CM)
        times["deform"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        raw = render_relief(self.scene if request.reference else scene, cam, query, source_of, steps,
                            refine=6 if request.reference else 3, gap_of=gap_of)
        times["march"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        rgb = (raw.rgb.clamp(0, 1) * 255.0).permute(1, 2, 0).cpu().numpy()
        mask = self._blend_mouth(rgb, raw.hit_depth.cpu().numpy(), polygons, frame, cam, request.size)
        times["mouth"] = time.perf_counter() - t2
        image = np.clip(rgb + 0.5, 0, 255).astype(np.uint8)
        times["total"] = time.perf_counter() - t0
        self._last_key, self._last_result = key, RenderResult(image, mask, times)
        return RenderResult(image.copy(), mask.copy(), times)

    def _steps(self, step_cm: float) -> int:
        near, far = self.scene.z_range
        return int(np.clip(np.ceil((far - near) / step_cm), 16, 400))

    def _warped(self, beta: np.ndarray, seal: float, frame: FrameDeformation, level: int):
        key = (level, beta.tobytes(), seal)
        if key != self._warp_key:
            s = self._levels[level]
            self._warp = warp_height_field(self.deformer, frame, s.depth, s.depth_open, s.geo, s.photo,
                                           self._warp_boxes[level], NO_SURFACE_CM, plan=self._warp_plans[level])
            self._warp_key = key
        return self._warp

    def _reference_surface(self, frame: FrameDeformation):
        """Eq. 7 literally: every sample p reads the canonical relief at p + dp(p)."""
        s, deformer = self.scene, self.deformer
        canonical = height_field_query(s.depth, s.geo)

        def query(points: torch.Tensor) -> torch.Tensor:
            moved = points + deformer.displacement_at_reference(points, frame)
            return canonical(moved)

        def source_of(points: torch.Tensor) -> torch.Tensor:
            return project_to_grid(points + deformer.displacement_at_reference(points, frame), s.photo)

        def gap_of(points: torch.Tensor) -> torch.Tensor:
            return surface_gap(s.depth, s.geo, points + deformer.displacement_at_reference(points, frame))

        return query, source_of, gap_of

    # ----------------------------------------------------------------- mouth
    def _to_world(self, head: np.ndarray) -> np.ndarray:
        return head @ self.subject.rotation.T + self.subject.translation

    def _lip_polygon_world(self, beta: np.ndarray, seal: float) -> np.ndarray:
        """The deformed inner-lip polygon for ``beta``, world frame [M, 3] (only those vertices)."""
        delta = (beta - self.subject.beta_init).astype(np.float64)
        head = self._lip_init + np.einsum("k,kvc->vc", delta, self._lip_basis) + seal * self._lip_seal
        # Lips that are pushed past each other are closed, not inside out.
        upper, lower = head[_UPPER_IN_POLY], head[_LOWER_IN_POLY]
        crossed = lower[:, 1] < upper[:, 1]  # y is down
        if crossed.any():
            mid = 0.5 * (upper[crossed] + lower[crossed])
            head[_UPPER_IN_POLY[crossed]] = mid
            head[_LOWER_IN_POLY[crossed]] = mid
        return self._to_world(head)

    def _mask_polygons(self, request: FrameRequest, beta: np.ndarray, seal: float) -> list[np.ndarray]:
        """World-frame inner-lip polygons of the last n frames (Eq. 13), the current one last."""
        n = max(1, int(request.mask_window))
        if request.frame_index is not None and len(self.driver):
            past = [(self.expression(request, offset=back), self.lip_seal(request, offset=back))
                    for back in range(n - 1, 0, -1) if request.frame_index - back >= 0]
        else:
            past = self._history[-(n - 1):] if n > 1 else []
            self._history = (self._history + [(beta, seal)])[-16:]
        return [self._lip_polygon_world(b, z) for b, z in past] + [self._lip_polygon_world(beta, seal)]

    def _blend_mouth(self, rgb: np.ndarray, hit_depth: np.ndarray, polygons: list[np.ndarray],
                     frame: FrameDeformation, cam: ViewCamera, size: int) -> np.ndarray:
        """Eq. 12 in image space: rgb <- rgb * (1 - M) + mouth * M, in place. Returns M."""
        head_now = frame.vertices.cpu().numpy().astype(np.float64)
        mask = mouth_model.averaged_mask(polygons, cam)
        # The mouth is hidden where something (the nose, a turned cheek) is clearly in front of it.
        lips_z = self._to_world(head_now[list(topo.inner_lip_polygon())])[:, 2].min()
        mask *= (hit_depth >= lips_z - 1.0) | ~np.isfinite(hit_depth)
        ys, xs = np.nonzero(mask > 1e-3)
        if len(ys) == 0:
            return mask
        box = (max(xs.min() - 2, 0), max(ys.min() - 2, 0), min(xs.max() + 3, size), min(ys.max() + 3, size))
        pm = self._photo_mouth
        inner = mouth_model.draw_mouth_interior(self._head_init, head_now, self._to_world, cam, self._colours, box)
        if not pm.empty:
            photo_rgb, photo_a = mouth_model.photo_mouth_layers(
                pm, cam, self.subject.intrinsics, self.subject.rotation, self.subject.translation,
                self._head_init, head_now, box)
            inner = inner * (1 - photo_a[..., None]) + photo_rgb * photo_a[..., None]
        x0, y0, x1, y1 = box
        m = mask[y0:y1, x0:x1, None]
        rgb[y0:y1, x0:x1] = rgb[y0:y1, x0:x1] * (1 - m) + inner * m
        return mask

    def _mouth_colours(self) -> mouth_model.MouthColours:
        s = self.subject
        h, w = s.relief.appearance.shape[:2]
        uv = s.intrinsics.project(s.mesh.astype(np.float64))
        outer = np.zeros((h, w), np.uint8)
        cv2.fillPoly(outer, [np.round(uv[list(topo.outer_lip_polygon())]).astype(np.int32)], 1)
        ring = (outer > 0) & ~s.relief.mouth_mask
        crop = s.relief.mouth_crop
        photo_mouth = crop[crop[..., 3] > 0][:, :3].astype(np.float32) if crop.size else None
        return mouth_model.MouthColours.from_photo(photo_mouth, s.relief.appearance[ring].astype(np.float32))

    def _deformation_box(self, scene: ReliefScene) -> tuple[int, int, int, int]:
        """Geometry pixels the deformation can reach: the mapping grid's projection."""
        geo = scene.geo
        corners = self.deformer.grid_box_corners()
        uv = geo.project(corners)
        x0, y0 = np.floor(uv.min(axis=0)).astype(int) - 1
        x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + 2
        return (max(x0, 0), max(y0, 0), min(x1, geo.width), min(y1, geo.height))
