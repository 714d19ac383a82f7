"""The person surface of one frame, ready to be ray-marched: fast path or reference path.

Fast path: the person height field is deformed once per frame in the photo's view
(``deformation.warp_height_field``; with the head moving, ``warp_head_motion`` then undoes its
rigid motion on top), at full geometry resolution or at half of it for outputs that do not need
more; the march then needs no per-sample deformation. Reference path: Eq. 7
literally, every ray sample p reads the canonical relief at p + dp(p).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from core.expression.track import FaceState
from core.render.config import MarchConfig, WallConfig
from core.render.deformation import (Deformer, FrameDeformation, rays_near_person, warp_head_motion,
                                    warp_height_field, warp_plan)
from core.geometry.pinhole import project_to_grid, ray_directions_torch
from core.render.relief_renderer import (NO_SURFACE_CM, ReliefScene, SurfaceQuery, half_resolution,
                                         height_field_query, sample_image, surface_gap)


@dataclass
class SurfacePass:
    """What ``render_relief`` marches for one frame.

    scene:     the geometry level marched (its ``geo`` is the height field's camera)
    query:     a deformed height field [1, 1, h, w] (fast) or a surface query callable (reference)
    source_of: world hit points [N, 3] -> grid coordinates [N, 2] into the full-resolution appearance
    gap_of:    world hit points [N, 3] -> surface gap [N] (cm), reference path only
    steps, refine: uniform march steps and crossing refinements
    """

    scene: ReliefScene
    query: SurfaceQuery | torch.Tensor
    source_of: Callable[[torch.Tensor], torch.Tensor]
    gap_of: Callable[[torch.Tensor], torch.Tensor] | None
    steps: int
    refine: int


def march_steps(scene: ReliefScene, step_cm: float, config: MarchConfig) -> int:
    """Uniform steps that cover the scene's depth range at ``step_cm``, within the config's limits."""
    near, far = scene.z_range
    return int(np.clip(np.ceil((far - near) / step_cm), config.min_steps, config.max_steps))


class FastSurface:
    """Geometry levels (full and half resolution) with their warp plans; the last warp is kept,
    so that orbiting a still face does not deform it again."""

    def __init__(self, scene: ReliefScene, deformer: Deformer, config: MarchConfig = MarchConfig()):
        self.deformer = deformer
        self.config = config
        self.levels = [scene, half_resolution(scene)]
        # Per level: the box the deformation can reach with the head still, and with it moving.
        self.boxes = {(i, moves): deformation_box(deformer, level, moves)
                      for i, level in enumerate(self.levels) for moves in (False, True)}
        # With the head moving, only rays near the person can meet it (the box is mostly background).
        self.only = {key: (rays_near_person(self.levels[key[0]].depth, box, NO_SURFACE_CM,
                                            reach_px(deformer, self.levels[key[0]])) if key[1] else None)
                     for key, box in self.boxes.items()}
        self.head_rays = {key[0]: ray_directions_torch(self.levels[key[0]].geo, box, self.levels[key[0]].depth.device)
                          .view(-1, 3)[self.only[key]] for key, box in self.boxes.items() if key[1]}
        self.plans = {key: warp_plan(deformer, self.levels[key[0]].depth_open, self.levels[key[0]].geo, box)
                      for key, box in self.boxes.items() if not key[1]}
        self.steps = march_steps(scene, config.step_cm, config)
        self._warp_key: tuple | None = None
        self._warp: tuple[torch.Tensor, torch.Tensor] | None = None

    def level_for(self, size: int, zoom: float) -> int:
        """Half resolution (1) when the output, zoomed, needs no more than half of the geometry
        (``zoom`` as the camera applies it, i.e. clamped)."""
        return 1 if 2 * size * zoom <= self.levels[0].geo.width else 0

    def prepare(self, face: FaceState, frame: FrameDeformation, size: int, zoom: float) -> SurfacePass:
        level = self.level_for(size, zoom)
        key = (level,) + face.key()
        if key != self._warp_key:
            s = self.levels[level]
            if not frame.head_moves:
                self._warp = warp_height_field(self.deformer, frame, s.depth, s.depth_open, s.geo, s.photo,
                                               self.boxes[(level, False)], NO_SURFACE_CM, self.config.warp_iterations,
                                               plan=self.plans[(level, False)])
            else:
                # The expression with the head still, then the head's rigid motion on top.
                still = dataclasses.replace(frame, head_motion=None, head_inverse=None, camera_inverse=None)
                opened = s.depth_open.clone()
                depth, source = warp_height_field(self.deformer, still, s.depth, s.depth_open, s.geo, s.photo,
                                                  self.boxes[(level, False)], NO_SURFACE_CM,
                                                  self.config.warp_iterations, plan=self.plans[(level, False)],
                                                  open_out=opened)
                self._warp = warp_head_motion(self.deformer, frame, depth, opened, source, s.geo,
                                              self.boxes[(level, True)], self.only[(level, True)], NO_SURFACE_CM,
                                              self.config.head_warp_iterations, rays=self.head_rays[level])
            self._warp_key = key
        depth, source = self._warp
        scene = self.levels[level]

        def source_of(points: torch.Tensor) -> torch.Tensor:
            return sample_image(source, project_to_grid(points, scene.geo))

        return SurfacePass(scene, depth, source_of, None, self.steps, self.config.refine)


class ReferenceSurface:
    """Eq. 7 literally: every sample p reads the canonical relief at p + dp(p)."""

    def __init__(self, scene: ReliefScene, deformer: Deformer, config: MarchConfig = MarchConfig(),
                 wall: WallConfig = WallConfig()):
        self.scene = scene
        self.deformer = deformer
        self.config = config
        self.wall = wall
        self.canonical = height_field_query(scene.depth, scene.geo)
        self.steps = march_steps(scene, config.reference_step_cm, config)

    def prepare(self, frame: FrameDeformation) -> SurfacePass:
        s, deformer, canonical = self.scene, self.deformer, self.canonical

        def moved(points: torch.Tensor) -> torch.Tensor:
            return points + deformer.displacement_at_reference(points, frame)

        def query(points: torch.Tensor) -> torch.Tensor:
            return canonical(moved(points))

        def source_of(points: torch.Tensor) -> torch.Tensor:
            return project_to_grid(moved(points), s.photo)

        def gap_of(points: torch.Tensor) -> torch.Tensor:
            return surface_gap(s.depth, s.geo, moved(points), self.wall.interior_slack_cm)

        return SurfacePass(s, query, source_of, gap_of, self.steps, self.config.reference_refine)


def deformation_box(deformer: Deformer, scene: ReliefScene, head_moves: bool = False) -> tuple[int, int, int, int]:
    """Geometry pixels (x0, y0, x1, y1) the deformation can reach: the projection of
    ``deformer.reach_box_corners`` (the mapping grid; the head region when the head moves)."""
    geo = scene.geo
    uv = geo.project(deformer.reach_box_corners(head_moves))
    x0, y0 = np.floor(uv.min(axis=0)).astype(int) - 1
    x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + 2
    return (max(x0, 0), max(y0, 0), min(x1, geo.width), min(y1, geo.height))


def reach_px(deformer: Deformer, scene: ReliefScene) -> int:
    """How far (geometry pixels) a moving head can carry the person past its silhouette."""
    c = deformer.head_region.config
    reach_cm = c.max_translation_cm + np.radians(c.max_rotation_deg) * c.radius_full_cm
    depth_cm = float(deformer.translation[2])
    return int(np.ceil(scene.geo.focal_px * reach_cm / depth_cm)) + 1
