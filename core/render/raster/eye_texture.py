"""The eyes for the rasteriser: the photo's eye regions redrawn for each frame's lids and gaze.

The lids' closing and the eyes' turn change what the eye's surface shows, not where it is
(``motion_field.EyeLids``, ``motion_field.EyeGaze``). Every relief fragment takes its colour
from the photo at its canonical point's projection, so the same change can be made once per
frame in the texture itself: for each photo pixel in a box around each eye, the canonical
surface point on its ray (the relief's depth) reads the photo where the backward eye field
sends it (``Deformer.eye_backward``, the field the ray marcher and the reference path read;
``EyeTexture.backward`` is its numpy twin on these fixed points, tested against it).

Two boxes per eye: the lid box (from the stretched skin under the brow to below the lower lid;
each texel the mean of supersample^2 points, so the moving lid edge is smooth) and the smaller
gaze box (the eye opening; the turn is a smooth slide, one point per texel). The texture keeps
what was uploaded last: ``update`` returns only the rectangles that must change.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.geometry.pinhole import Intrinsics
from core.render.deformation import Deformer
from core.render.raster.gl_renderer import TexturePatch
from core.render.relief_renderer import ReliefScene

Box = tuple[int, int, int, int]  # photo pixels x0, y0, x1, y1 (end exclusive)
REST = ((0.0, 0.0), (0.0, 0.0, 0.0, 0.0))  # (lids, gaze) of the photo's own eyes


@dataclass(frozen=True)
class EyeTextureConfig:
    margin_px: int = 3  # the boxes reach this far (photo pixels) past where the eye field acts
    supersample: int = 2  # a lid box texel is the mean of supersample^2 points (a smooth lid edge)


@dataclass
class _Points:
    """Fixed surface points of one box and what the eye field needs of them, once.

    samples: texel sub-samples per texel; own: float32 [S * n, 2] each point's own photo pixel;
    active: indices of the points the field can reach, and for those: head [m, 3] (head frame),
    lids (``EyeLids.plan`` per eye), gaze_weights [m, 2] (``EyeGaze.weights``)
    """

    samples: int
    own: np.ndarray
    active: np.ndarray
    head: np.ndarray
    lids: list
    gaze_weights: np.ndarray


class EyeTexture:
    """Per subject: the eye boxes of the photo, their canonical surface points, and the redraw."""

    def __init__(self, scene: ReliefScene, deformer: Deformer, config: EyeTextureConfig = EyeTextureConfig()):
        self.deformer = deformer
        self.photo = scene.photo
        appearance = scene.appearance[0].permute(1, 2, 0).cpu().numpy().astype(np.float32)  # [H, W, 4]
        self._rgb = np.ascontiguousarray(appearance[..., :3])
        self._alpha = appearance[..., 3]
        self._depth = scene.depth_open.cpu()
        self._geo = scene.geo
        self._rotation = deformer.rotation.cpu().numpy().astype(np.float32)  # head -> world
        self._translation = deformer.translation.cpu().numpy().astype(np.float32)
        m = config.margin_px
        self.lid_boxes = [self._box(c, m) for c in deformer.eye_region_corners()]
        self.gaze_boxes = [self._box(c, m) for c in deformer.eye_region_corners(lids=False)]
        self._lid_points = [self._points(b, config.supersample) for b in self.lid_boxes]
        self._gaze_points = [self._points(b, 1) for b in self.gaze_boxes]
        self.shown = REST  # what the texture shows now
        self._shown_full = [False, False]  # per eye: does the texture show a lid box redraw?

    # ------------------------------------------------------------------ set-up
    def _box(self, corners: np.ndarray, margin: int) -> Box:
        """Photo pixel box holding the projection of world ``corners`` [8, 3], grown by ``margin``."""
        uv = self.photo.project(np.asarray(corners, np.float64))
        x0, y0 = np.floor(uv.min(axis=0)).astype(int) - margin
        x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + margin + 1
        return (max(int(x0), 0), max(int(y0), 0), min(int(x1), self.photo.width), min(int(y1), self.photo.height))

    def _points(self, box: Box, supersample: int) -> _Points:
        x0, y0, x1, y1 = box
        offsets = (np.arange(supersample) + 0.5) / supersample - 0.5
        us, vs = np.meshgrid(np.arange(x0, x1, dtype=np.float64), np.arange(y0, y1, dtype=np.float64))
        uv = np.concatenate([np.stack([us.ravel() + dx, vs.ravel() + dy], axis=1) for dy in offsets for dx in offsets])
        # The relief's depth at these points (the geometry grid is coarser than the photo).
        geo = self._geo
        g = (uv + 0.5) * np.array([geo.width / self.photo.width, geo.height / self.photo.height]) - 0.5
        grid = torch.as_tensor((g + 0.5) / np.array([geo.width, geo.height]) * 2 - 1, dtype=torch.float32)
        depth = F.grid_sample(self._depth, grid.view(1, 1, -1, 2), mode="bilinear", padding_mode="border",
                              align_corners=False).view(-1).numpy().astype(np.float64)
        world = torch.as_tensor(self.photo.unproject(uv, depth), dtype=torch.float32)
        d = self.deformer
        head = d.to_head(world.to(d.device))
        weights = d.gaze.weights(head).cpu().numpy()
        lids = [tuple(a.cpu().numpy() for a in eye) for eye in d.lids.plan(head)]
        reach = weights.max(axis=1) > 0
        for idx, *_ in lids:
            reach[idx] = True
        active = np.nonzero(reach)[0]
        position = np.full(len(uv), -1, np.int64)
        position[active] = np.arange(len(active))  # a point's place among the active ones
        lids = [(position[idx], *rest) for idx, *rest in lids]
        return _Points(supersample * supersample, uv.astype(np.float32), active, head.cpu().numpy()[active], lids,
                       weights[active])

    # ------------------------------------------------------------------ per frame
    def backward(self, points: _Points, lids: tuple[float, float], gaze: tuple[float, ...]) -> np.ndarray:
        """``Deformer.eye_backward`` at the active points, in numpy: [m, 3] head frame (cm)."""
        out = np.zeros_like(points.head)
        lid_y = np.zeros(len(points.head), np.float32)
        for (idx, y, yu, yl, depth), amount in zip(points.lids, lids):
            if amount > 0 and len(idx):
                lid_y[idx] += self.deformer.lids.lid_shift(y, yu, yl, depth, amount)
        out[:, 1] = lid_y
        if any(gaze):
            shift = -(points.gaze_weights @ self.deformer.gaze.shifts(gaze).astype(np.float32))
            out += np.where(lid_y[:, None] != 0, 0.0, shift)  # a lid over the eye shows the lid, not the turn
        return out

    def draw(self, box: Box, points: _Points, lids: tuple[float, float], gaze: tuple[float, ...]) -> np.ndarray:
        """The box's RGB float32 [h, w, 3] with the lids and gaze."""
        x0, y0, x1, y1 = box
        if (lids[0] <= 0 and lids[1] <= 0) and not any(gaze):
            return self._rgb[y0:y1, x0:x1]
        source = (points.head + self.backward(points, lids, gaze)) @ self._rotation.T + self._translation
        k: Intrinsics = self.photo
        uv = points.own.copy()
        uv[points.active] = source[:, :2] / source[:, 2:3] * np.float32(k.focal_px) + np.array([k.cx, k.cy], np.float32)
        h, w, n = y1 - y0, x1 - x0, points.samples
        rgb = cv2.remap(self._rgb, uv[:, 0].reshape(n * h, w), uv[:, 1].reshape(n * h, w), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
        return rgb.reshape(n, h, w, 3).mean(axis=0) if n > 1 else rgb

    def _patch(self, box: Box, rgb: np.ndarray) -> TexturePatch:
        x0, y0, x1, y1 = box
        rgba = np.concatenate([rgb, self._alpha[y0:y1, x0:x1, None]], axis=2)
        return TexturePatch(x0, y0, np.clip(rgba * 255.0 + 0.5, 0, 255).astype(np.uint8))

    def update(self, lids: tuple[float, float], gaze: tuple[float, ...]) -> list[TexturePatch]:
        """The rectangles to upload so that the texture shows lid closures ``lids`` (left,
        right) and ``gaze`` (``motion_field.GAZE_CHANNELS``); none when it already does."""
        lids, gaze = tuple(float(v) for v in lids), tuple(float(v) for v in gaze)
        if (lids, gaze) == self.shown:
            return []
        self.shown = (lids, gaze)
        out = []
        for e in range(2):
            lid_box, gaze_box = self.lid_boxes[e], self.gaze_boxes[e]
            if lids[0] > 0 or lids[1] > 0:
                out.append(self._patch(lid_box, self.draw(lid_box, self._lid_points[e], lids, gaze)))
                self._shown_full[e] = True
                continue
            turned = self.draw(gaze_box, self._gaze_points[e], lids, gaze)
            if self._shown_full[e]:  # the lid box still shows the blink: the photo's, with the turned eye
                x0, y0, x1, y1 = lid_box
                rgb = self._rgb[y0:y1, x0:x1].copy()
                gx0, gy0, gx1, gy1 = gaze_box
                rgb[gy0 - y0:gy1 - y0, gx0 - x0:gx1 - x0] = turned
                out.append(self._patch(lid_box, rgb))
                self._shown_full[e] = False
            else:
                out.append(self._patch(gaze_box, turned))
        return out
