"""Rendering for the evaluation: framing, the paper's flipped pose, clips, and the photo's own view.

Poses are ``OrbitPose`` offsets from the photo's camera (degrees; positive yaw shows the subject's
left side). The photo's head yaw is read from the fitted head rotation (head -> camera).

The paper's "horizontally flipped pose" renders the head as if the input had been mirrored: a head
turned by +y degrees in the photo is shown turned by -y degrees. With an orbit camera that is a yaw
offset of -2 * head_yaw (the pitch is unchanged: a mirror does not change it). The orbit is limited
to +-60 degrees (``core.render.camera.YAW_LIMIT_DEG``), so a head turned more than 30 degrees gets
the largest offset the renderer allows, not a full flip; the report states the offset used.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from core.engine import Engine, FrameRequest
from core.files import partial_path, publish
from core.geometry.pinhole import resize_pixels
from core.options import RenderOptions
from core.render.camera import DEFAULT_FRAMING, YAW_LIMIT_DEG, OrbitPose

ZOOM_RANGE = (1.0, 3.0)   # the orbit camera's zoom limits that framing may use


def head_yaw_deg(rotation: np.ndarray) -> float:
    """Yaw of the head in the photo (degrees) from the head -> camera rotation [3, 3]."""
    r = np.asarray(rotation, np.float64)
    return float(np.degrees(np.arctan2(r[0, 2], r[2, 2])))


def flipped_yaw_offset(head_yaw: float) -> float:
    """Orbit yaw offset (degrees) that shows the head at the mirrored yaw, before clamping."""
    return -2.0 * float(head_yaw)


def flipped_pose(head_yaw: float, zoom: float = 1.0) -> tuple[OrbitPose, bool]:
    """The paper's horizontally flipped pose as an orbit pose, and whether it had to be clamped."""
    want = flipped_yaw_offset(head_yaw)
    got = float(np.clip(want, -YAW_LIMIT_DEG, YAW_LIMIT_DEG))
    return OrbitPose(got, 0.0, zoom), abs(got - want) > 1e-9


def face_height_px(subject) -> float:
    """Face height (forehead to chin, px of the prepared photo) from the fitted mesh."""
    uv = subject.intrinsics.project(np.asarray(subject.mesh, np.float64))
    return float(np.ptp(uv[:, 1]))


def face_zoom(subject, face_fraction: float) -> float:
    """Orbit zoom at which the face fills ``face_fraction`` of the frame height (within 1..3).

    At zoom 1 the view is the photo's largest centred square, so the zoom does not depend on the
    output size.
    """
    side = min(subject.intrinsics.width, subject.intrinsics.height)
    zoom = face_fraction * side / max(face_height_px(subject), 1.0)
    return float(np.clip(zoom, *ZOOM_RANGE))


def photo_view(photo: np.ndarray, subject, engine: Engine, size: int, zoom: float,
               framing: str = DEFAULT_FRAMING) -> np.ndarray:
    """The photo itself, framed like the render at ``OrbitPose(0, 0, zoom)`` with ``framing``.

    The zoom moves the camera toward the head, so no single crop matches every depth; the scale and
    shift are fitted (least squares) so that the face's landmarks fall where the renderer puts
    them (when shrinking, to within half a photo pixel). photo: uint8 [H, W, 3] at the prepared
    resolution (resized to it if not). Returns uint8 [size, size, 3]; parts outside the photo
    repeat its border.
    """
    intr = subject.intrinsics
    if photo.shape[:2] != (intr.height, intr.width):
        photo = cv2.resize(photo, (intr.width, intr.height), interpolation=cv2.INTER_AREA)
    mesh = np.asarray(subject.mesh, np.float64)
    src = intr.project(mesh)                                        # [N, 2] photo pixels
    dst = engine.camera(FrameRequest(pose=OrbitPose(0.0, 0.0, zoom), size=size, framing=framing)).project(mesh)
    sc, sm = src - src.mean(axis=0), dst - dst.mean(axis=0)
    scale = float((sc * sm).sum() / max((sc * sc).sum(), 1e-12))
    shift = dst.mean(axis=0) - scale * src.mean(axis=0)
    if scale >= 1.0:      # enlarging: one exact bilinear warp
        m = np.array([[scale, 0.0, shift[0]], [0.0, scale, shift[1]]])
        return cv2.warpAffine(photo, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # Shrinking: area averaging of the region that lands on the output, snapped to whole photo
    # pixels (a second, sub-pixel resampling would blur the photo and bias its CPBD). Output pixel
    # 0 shows photo position -shift / scale; resizing the crop by s it comes from crop position
    # resize_pixels(0, 1 / s) (pixel centres), so the crop starts that far before it.
    side = max(int(round(size / scale)), 1)
    s = size / side
    x0, y0 = (int(round(v)) for v in -shift / scale - resize_pixels(np.zeros(2), 1 / s, 1 / s))
    pad = max(0, -x0, -y0, x0 + side - photo.shape[1], y0 + side - photo.shape[0])
    if pad:
        photo = cv2.copyMakeBorder(photo, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = photo[y0 + pad:y0 + pad + side, x0 + pad:x0 + pad + side]
    return cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)


def render_clip(engine: Engine, pose: OrbitPose, n_frames: int, size: int,
                options: RenderOptions = RenderOptions()) -> Iterator[np.ndarray]:
    """Frames 0..n_frames-1 of the engine's driver at one pose, one at a time (uint8 [S, S, 3]),
    with ``options``' motion and mask window at ``size``."""
    options = replace(options, size=size)
    for k in range(min(int(n_frames), engine.num_frames)):
        yield engine.render(FrameRequest.with_options(options, pose=pose, frame_index=k))


def render_view(engine: Engine, pose: OrbitPose, size: int, framing: str = DEFAULT_FRAMING) -> np.ndarray:
    """One frame with the photo's own expression blended with silence (no driver frame)."""
    return engine.render(FrameRequest(pose=pose, size=size, frame_index=None, mask_window=1, framing=framing))


class ClipWriter:
    """H.264 MP4 at 25 fps, frames added one at a time, with AAC sound cut to the video's length
    when ``audio_path`` is given. Written to a temporary file beside ``out`` and renamed by
    ``close``; ``abort`` (or an exception inside ``with``) removes it."""

    def __init__(self, out: Path, size: int, audio_path: Path | None = None):
        import imageio_ffmpeg

        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.size = size
        self._even = size + size % 2          # yuv420p needs even sizes
        from core.video import h264_settings

        self._tmp = partial_path(self.out)
        self._writer = imageio_ffmpeg.write_frames(str(self._tmp), (self._even, self._even),
                                                   **h264_settings(audio_path))
        self._writer.send(None)

    def add(self, frame: np.ndarray) -> None:
        """Append one uint8 [size, size, 3] frame."""
        pad = self._even - frame.shape[0]
        if pad:
            frame = cv2.copyMakeBorder(frame, 0, pad, 0, pad, cv2.BORDER_REPLICATE)
        self._writer.send(np.ascontiguousarray(frame))

    def close(self) -> Path:
        self._writer.close()
        publish(self._tmp, self.out)
        return self.out

    def abort(self) -> None:
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 (the file is removed anyway)
            pass
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> "ClipWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
