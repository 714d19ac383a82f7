"""What the viewer shows, independent of the UI toolkit: the engine, the audio and its clock,
the camera and the sliders, turned into one FrameRequest per UI frame."""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from core.audio.motion import MotionParams
from core.engine import FrameRequest
from core.render.camera import OrbitPose
from viewer.clock import PlaybackClock, WallClock
from viewer.scheduler import FrameScheduler


@dataclass(frozen=True)
class ViewSettings:
    """The user's controls. Immutable: every change makes a new value."""

    pose: OrbitPose = OrbitPose()
    alpha_m: float = 0.5
    lambda_exp: float = 1.5
    mask_window: int = 7
    size: int = 256

    def with_(self, **changes) -> "ViewSettings":
        return replace(self, **changes)


class Session:
    """Holds the clock and the settings; builds the request for the current moment."""

    def __init__(self, clock: PlaybackClock | None = None):
        self.clock: PlaybackClock = clock or WallClock(0.0)
        self.settings = ViewSettings()
        self.live_coefficients: np.ndarray | None = None  # microphone mode
        self.scheduler = FrameScheduler()

    def request(self) -> FrameRequest:
        s = self.settings
        motion = MotionParams(alpha_m=s.alpha_m, lambda_exp=s.lambda_exp)
        if self.live_coefficients is not None:
            return FrameRequest(pose=s.pose, size=s.size, coefficients=tuple(map(float, self.live_coefficients)),
                                motion=motion, mask_window=s.mask_window)
        k = self.scheduler.frame_to_request(self.clock.time(), self.clock.playing, self.clock.duration)
        return FrameRequest(pose=s.pose, size=s.size, frame_index=k, motion=motion, mask_window=s.mask_window)

    def av_offset_ms(self, shown: FrameRequest) -> float | None:
        """Audio playhead minus the start time of the shown frame, in ms. In sync: 0 <= offset < 40."""
        if shown.frame_index is None:
            return None
        return self.scheduler.offset_ms(shown.frame_index, self.clock.time())
