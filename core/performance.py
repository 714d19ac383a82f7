"""A performance: what the viewer showed, frame by frame (camera and sliders), so that an export
renders exactly what the user saw while dragging the head and moving the sliders.

Stored as JSON: ``{"format": 1, "fps": 25, "portrait": PATH, "audio": PATH, "frames": [{"frame": k, "yaw": .., "pitch": ..,
"zoom": .., "alpha_m": .., "lambda_exp": .., "mask_window": .., "framing": ..}, ...]}``, one
entry per video frame of the audio that was shown. ``render --performance FILE`` renders it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

from core.errors import UserInputError
from core.files import write_atomically
from core.options import RenderOptions, checked_zoom
from core.render.camera import DEFAULT_FRAMING, OrbitPose
from core.request import FrameRequest

FORMAT = 1
FPS = 25


@dataclass(frozen=True)
class PerformedFrame:
    """The view of one shown frame: the camera and the options (the size is the export's)."""

    pose: OrbitPose
    options: RenderOptions


class Performance:
    """Frames shown, by video frame index of the driver. Frames never shown (dropped while
    rendering, or not reached) take the view of the nearest shown frame before them (or the
    first shown frame)."""

    def __init__(self, portrait: Path | None = None, audio: Path | None = None) -> None:
        self.frames: dict[int, PerformedFrame] = {}
        self.portrait = portrait  # what was performed (saved with the recording, used by default)
        self.audio = audio

    def __len__(self) -> int:
        return len(self.frames)

    def record(self, request: FrameRequest) -> None:
        """Record a shown frame (driver frames only; live microphone frames have no index)."""
        if request.frame_index is None:
            return
        self.frames[int(request.frame_index)] = PerformedFrame(request.pose, request.options)

    def clear(self) -> None:
        self.frames.clear()

    def requests(self, num_frames: int, size: int) -> list[FrameRequest]:
        """One request per driver frame 0..num_frames-1 at ``size``."""
        if not self.frames:
            raise UserInputError("The performance has no frames.")
        shown = sorted(self.frames)
        view = self.frames[shown[0]]
        out = []
        for k in range(num_frames):
            view = self.frames.get(k, view)
            out.append(FrameRequest.with_options(replace(view.options, size=size), pose=view.pose, frame_index=k))
        return out

    # ----------------------------------------------------------------- JSON
    def to_json(self) -> dict:
        rows = []
        for k in sorted(self.frames):
            f = self.frames[k]
            rows.append({"frame": k, "yaw": f.pose.yaw_deg, "pitch": f.pose.pitch_deg, "zoom": f.pose.zoom,
                         "alpha_m": f.options.motion.alpha_m, "lambda_exp": f.options.motion.lambda_exp,
                         "mask_window": f.options.mask_window, "framing": f.options.framing,
                         "blink_rate": f.options.natural.blink_rate, "head_motion": f.options.natural.head_motion,
                         "seed": f.options.natural.seed})
        return {"format": FORMAT, "fps": FPS, "portrait": None if self.portrait is None else str(self.portrait),
                "audio": None if self.audio is None else str(self.audio), "frames": rows}

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file renamed into place)."""
        write_atomically(Path(path), json.dumps(self.to_json(), indent=1).encode())

    @staticmethod
    def load(path: Path) -> "Performance":
        """Read a performance file; UserInputError with the reason when it is unusable."""
        try:
            data = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise UserInputError(f"Performance file not found: {path}") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserInputError(f"Cannot read the performance file {path}: {exc}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("frames"), list):
            raise UserInputError(f"{path} is not a performance file (format {FORMAT}).")
        perf = Performance(*(Path(data[k]) if isinstance(data.get(k), str) else None for k in ("portrait", "audio")))
        for i, row in enumerate(data["frames"]):
            try:
                k = int(row["frame"])
                values = [float(row[n]) for n in ("yaw", "pitch", "zoom", "alpha_m", "lambda_exp")]
                if k < 0 or not all(math.isfinite(v) for v in values):
                    raise ValueError("negative frame or a value that is not a number")
                yaw, pitch, zoom, alpha_m, lambda_exp = values
                options = RenderOptions.from_values(mask_window=int(row["mask_window"]), alpha_m=alpha_m,
                                                    lambda_exp=lambda_exp,
                                                    framing=str(row.get("framing", DEFAULT_FRAMING)),
                                                    blink_rate=row.get("blink_rate"), head_motion=row.get("head_motion"),
                                                    seed=row.get("seed"))
                perf.frames[k] = PerformedFrame(OrbitPose(yaw, pitch, checked_zoom(zoom)).clamped(), options)
            except (KeyError, TypeError, ValueError) as exc:  # UserInputError is a ValueError
                raise UserInputError(f"{path}: frame entry {i} is unusable ({exc}).") from None
        if not perf.frames:
            raise UserInputError(f"{path} holds no frames.")
        return perf
