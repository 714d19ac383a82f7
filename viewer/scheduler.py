"""Which frame to render and when to show it, with the audio as the master clock.

Rendering takes longer than a frame, so the viewer asks for the frame that will be current when
the render is done (playhead + measured latency) and holds a finished frame until its time comes.
Frames that arrive late are shown at once (they are still the newest); requests are never queued.
"""
from __future__ import annotations

from viewer.clock import FPS, frame_at


class FrameScheduler:
    """latency_s: smoothed time from request to finished frame (seconds)."""

    def __init__(self, initial_latency_s: float = 0.1, smoothing: float = 0.2, margin_s: float = 0.025):
        self.latency_s = initial_latency_s
        self.smoothing = smoothing
        self.margin_s = margin_s

    def frame_to_request(self, t_now: float, playing: bool, duration: float | None = None) -> int:
        """The frame worth rendering now."""
        t = t_now + (self.latency_s + self.margin_s if playing else 0.0)
        if duration is not None and duration > 0:
            t = min(t, max(duration - 1e-6, 0.0))
        return frame_at(t)

    def observe(self, request_to_result_s: float) -> None:
        """Feed the measured latency of one frame."""
        a = self.smoothing
        self.latency_s = (1 - a) * self.latency_s + a * max(request_to_result_s, 0.0)

    @staticmethod
    def due(frame_index: int, t_now: float) -> bool:
        """True when ``frame_index`` should be on screen at audio time t_now (or is late)."""
        return frame_at(t_now) >= frame_index

    @staticmethod
    def offset_ms(frame_index: int, t_shown: float) -> float:
        """Audio time at display minus the frame's start time; in sync: 0 <= offset < 40 ms."""
        return (t_shown - frame_index / FPS) * 1000.0
