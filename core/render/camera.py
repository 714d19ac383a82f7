"""Orbit camera (pure maths, pyglm + numpy; no UI imports).

World frame = the photo's camera frame (x right, y down, z forward, cm). The orbit is a turntable
about the head centre: yaw turns about the world's vertical axis, pitch about the camera's side
axis, zoom moves the camera toward the head. At yaw = pitch = 0 and zoom = 1 the camera *is*
the photo's camera, so the first frame looks like the photo.

Signs: positive yaw moves the camera toward the subject's left (their left cheek turns to the
viewer); positive pitch raises the camera (looking down at the head).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from pyglm import glm
import numpy as np

from core.geometry.pinhole import Intrinsics

YAW_LIMIT_DEG = 60.0
PITCH_LIMIT_DEG = 35.0
ZOOM_LIMITS = (0.5, 3.0)


@dataclass(frozen=True)
class OrbitPose:
    """Offset of the viewing camera from the photo's camera."""

    yaw_deg: float = 0.0
    pitch_deg: float = 0.0
    zoom: float = 1.0

    def clamped(self) -> "OrbitPose":
        return OrbitPose(
            float(np.clip(self.yaw_deg, -YAW_LIMIT_DEG, YAW_LIMIT_DEG)),
            float(np.clip(self.pitch_deg, -PITCH_LIMIT_DEG, PITCH_LIMIT_DEG)),
            float(np.clip(self.zoom, *ZOOM_LIMITS)),
        )

    def dragged(self, dx_px: float, dy_px: float, deg_per_px: float = 0.3) -> "OrbitPose":
        """Pose after a mouse drag (right drag turns the head toward its left side... as seen)."""
        return OrbitPose(self.yaw_deg - dx_px * deg_per_px, self.pitch_deg + dy_px * deg_per_px,
                         self.zoom).clamped()

    def zoomed(self, wheel_steps: float, factor: float = 1.1) -> "OrbitPose":
        return OrbitPose(self.yaw_deg, self.pitch_deg, self.zoom * factor**wheel_steps).clamped()


@dataclass(frozen=True)
class ViewCamera:
    """A pinhole camera in the world: x_world = rotation @ x_cam + position.

    rotation: float64 [3, 3] camera -> world;  position: float64 [3] (cm)
    intrinsics: output image intrinsics (pixels)
    """

    rotation: np.ndarray
    position: np.ndarray
    intrinsics: Intrinsics

    def world_to_camera(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] world -> [N, 3] camera frame."""
        return (points - self.position) @ self.rotation

    def project(self, points: np.ndarray) -> np.ndarray:
        """[N, 3] world -> [N, 2] output pixels."""
        return self.intrinsics.project(self.world_to_camera(points))


def orbit_rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Camera -> world rotation of the turntable orbit, float64 [3, 3]."""
    m = glm.rotate(glm.dmat4(1.0), glm.radians(-yaw_deg), glm.dvec3(0.0, 1.0, 0.0))
    m = glm.rotate(m, glm.radians(-pitch_deg), glm.dvec3(1.0, 0.0, 0.0))
    return np.array(glm.dmat3(m), dtype=np.float64)


FRAMINGS = ("head", "photo")  # "head": head and shoulders; "photo": the photo's largest square
DEFAULT_FRAMING = "head"


@dataclass(frozen=True)
class FramingConfig:
    """The head-and-shoulders framing (``framing="head"``)."""

    face_share: float = 0.45  # the face (forehead-to-chin landmarks) fills this share of the frame height ...
    face_centre_height: float = 0.45  # ... with its centre this far down the frame (below 0.5: room for the shoulders)


@dataclass(frozen=True)
class Framing:
    """The square of the photo (photo pixels, may be fractional) that the view at zoom 1 shows."""

    x0: float
    y0: float
    side: float


def photo_framing(photo: Intrinsics, focus_px: tuple[float, float]) -> Framing:
    """The largest square of the photo, centred on ``focus_px`` (the head) where the photo allows,
    on whole photo pixels (a view as large as the square then shows the photo's own pixels, not
    a resampling shifted by a fraction of one)."""
    side = min(photo.width, photo.height)
    x0 = float(np.clip(round(focus_px[0] - side / 2), 0, photo.width - side))
    y0 = float(np.clip(round(focus_px[1] - side / 2), 0, photo.height - side))
    return Framing(x0, y0, side)


def head_framing(photo: Intrinsics, face_box_px: tuple[float, float, float, float],
                 config: FramingConfig = FramingConfig()) -> Framing:
    """A square in which the face (box x0, y0, x1, y1 in photo pixels) fills ``face_share`` of
    the height, centred on it; never larger than the photo's largest square and kept inside the
    photo (a photo cropped tighter than that shows the face larger)."""
    fx0, fy0, fx1, fy1 = face_box_px
    side = float(min((fy1 - fy0) / config.face_share, min(photo.width, photo.height)))
    cx, cy = 0.5 * (fx0 + fx1), 0.5 * (fy0 + fy1)
    x0 = float(np.clip(cx - side / 2, 0, photo.width - side))
    y0 = float(np.clip(cy - config.face_centre_height * side, 0, photo.height - side))
    return Framing(x0, y0, side)


def output_intrinsics(photo: Intrinsics, size: int, framing: Framing) -> Intrinsics:
    """Intrinsics of a size x size view of the photo's camera showing ``framing``'s square."""
    return photo.cropped(framing.x0, framing.y0, framing.side, framing.side).resized(size, size)


def view_camera(pose: OrbitPose, pivot: np.ndarray, photo: Intrinsics, size: int, framing: Framing) -> ViewCamera:
    """The viewing camera for ``pose``, orbiting ``pivot`` (world, cm)."""
    pose = pose.clamped()
    rot = orbit_rotation(pose.yaw_deg, pose.pitch_deg)
    offset = -np.asarray(pivot, dtype=np.float64)  # photo camera centre (origin) minus pivot
    position = pivot + rot @ offset / pose.zoom
    return ViewCamera(rot, position, output_intrinsics(photo, size, framing))


def turntable_path(num_frames: int, yaw_amplitude_deg: float = 30.0, pitch_amplitude_deg: float = 8.0,
                   period_frames: int = 150) -> list[OrbitPose]:
    """A smooth orbit for ``--orbit``: yaw swings as a sine, pitch at half the rate."""
    poses = []
    for k in range(num_frames):
        phase = 2 * math.pi * k / period_frames
        poses.append(OrbitPose(yaw_amplitude_deg * math.sin(phase), pitch_amplitude_deg * math.sin(0.5 * phase)))
    return poses
