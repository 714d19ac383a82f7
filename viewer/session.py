"""What the viewer shows, independent of the UI toolkit: the engine, the audio and its clock,
the camera and the sliders, turned into one FrameRequest per UI frame."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from core.engine import FrameRequest
from core.expression.natural import ACTIVITY_HISTORY_FRAMES, NaturalMotion, speech_activity
from core.options import MASK_WINDOW_LIMITS, RenderOptions
from core.render.camera import OrbitPose
from viewer.clock import PlaybackClock, WallClock
from viewer.scheduler import FrameScheduler

LIVE_HISTORY_FRAMES = MASK_WINDOW_LIMITS[1] + ACTIVITY_HISTORY_FRAMES  # live frames kept (Eq. 13's window, the motion's history)


@dataclass(frozen=True)
class ViewSettings:
    """The user's controls: the orbit pose and the render options. Immutable: every change
    makes a new value (``with_(pose=..., alpha_m=..., lambda_exp=..., mask_window=..., size=...,
    framing=..., blink_rate=..., head_motion=..., seed=..., gaze=...)``)."""

    pose: OrbitPose = OrbitPose()
    options: RenderOptions = field(default_factory=RenderOptions)

    @property
    def alpha_m(self) -> float:
        return self.options.motion.alpha_m

    @property
    def lambda_exp(self) -> float:
        return self.options.motion.lambda_exp

    @property
    def mask_window(self) -> int:
        return self.options.mask_window

    @property
    def size(self) -> int:
        return self.options.size

    @property
    def framing(self) -> str:
        return self.options.framing

    @property
    def natural(self) -> NaturalMotion:
        return self.options.natural

    def with_(self, **changes) -> "ViewSettings":
        pose = changes.pop("pose", self.pose)
        motion = replace(self.options.motion, **{k: changes.pop(k) for k in ("alpha_m", "lambda_exp") if k in changes})
        natural = replace(self.options.natural,
                          **{k: changes.pop(k) for k in ("blink_rate", "head_motion", "seed", "gaze") if k in changes})
        options = replace(self.options, motion=motion, natural=natural, **changes)
        return ViewSettings(pose, options)


class Session:
    """Holds the clock and the settings; builds the request for the current moment."""

    def __init__(self, clock: PlaybackClock | None = None):
        self.clock: PlaybackClock = clock or WallClock(0.0)
        self.settings = ViewSettings()
        self.scheduler = FrameScheduler()
        self._live: deque[tuple[int | None, tuple[float, ...]]] | None = None  # microphone frames

    # ----------------------------------------------------------------- microphone
    @property
    def live(self) -> bool:
        """Microphone mode: requests carry the live frames instead of a driver frame index."""
        return self._live is not None

    def push_live_frame(self, index: int | None, coefficients: np.ndarray) -> None:
        """The live frame the mouth shows now (``index``: its frame number, None before speech).
        A new index is appended to the history the mask window averages over."""
        if self._live is None:
            self._live = deque(maxlen=LIVE_HISTORY_FRAMES)
        values = tuple(map(float, coefficients))
        if self._live and self._live[-1][0] == index:
            self._live[-1] = (index, values)
        else:
            self._live.append((index, values))

    def stop_live(self) -> None:
        self._live = None

    # ----------------------------------------------------------------- requests
    def request(self) -> FrameRequest:
        s = self.settings
        if self._live:
            frames = [c for _, c in self._live]
            keep = s.mask_window - 1  # the request carries exactly the frames its mask averages
            recent = tuple(frames[:-1][-keep:]) if keep > 0 else ()
            # Blinks and head motion, generated causally from the live frames' speech activity.
            index = self._live[-1][0]
            # (the motion of frame k needs ACTIVITY_HISTORY_FRAMES - 1 before it; the mask window's
            # earlier frames need their own, n - 1 further back)
            keep_activity = ACTIVITY_HISTORY_FRAMES + s.mask_window - 2
            before = frames[:-1][-keep_activity:]
            history = tuple(map(float, speech_activity(np.asarray(before, np.float32)))) if before else ()
            return FrameRequest.with_options(s.options, pose=s.pose, coefficients=frames[-1],
                                             recent_coefficients=recent, live_frame=index,
                                             activity_history=history)
        k = self.scheduler.frame_to_request(self.clock.time(), self.clock.playing, self.clock.duration)
        return FrameRequest.with_options(s.options, pose=s.pose, frame_index=k)

    def av_offset_ms(self, shown: FrameRequest) -> float | None:
        """Audio playhead minus the start time of the shown frame, in ms. In sync: 0 <= offset < 40."""
        if shown.frame_index is None:
            return None
        return self.scheduler.offset_ms(shown.frame_index, self.clock.time())
