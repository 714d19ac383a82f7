"""Viewer logic without a window: clocks, frame scheduling, parameter plumbing (the render slot:
test_frame_slot.py)."""
from __future__ import annotations

import numpy as np
import pytest

from core.render.camera import OrbitPose
from viewer.clock import WallClock, frame_at, open_clock
from viewer.scheduler import FrameScheduler
from viewer.session import Session


class FakeTime:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_frame_at_is_floor_of_time_times_25():
    assert frame_at(0.0) == 0
    assert frame_at(0.039) == 0
    assert frame_at(0.04) == 1
    assert frame_at(1.0) == 25
    assert frame_at(-1.0) == 0


def test_wall_clock_play_pause_seek_loop():
    now = FakeTime()
    clock = WallClock(10.0, now=now)
    assert clock.time() == 0.0 and not clock.playing
    clock.play()
    now.t += 2.5
    assert clock.time() == pytest.approx(2.5) and clock.playing
    clock.pause()
    now.t += 5.0
    assert clock.time() == pytest.approx(2.5)
    clock.seek(7.0)
    clock.play()
    now.t += 5.0
    assert clock.time() == pytest.approx(10.0) and clock.finished and not clock.playing
    clock.loop = True
    assert clock.time() == pytest.approx(2.0)  # 12 s into a 10 s loop
    clock.seek(99)
    assert clock.time() <= 10.0


def test_no_sound_device_falls_back_to_a_silent_wall_clock(monkeypatch):
    import viewer.clock as clock_module

    class Broken:
        def __init__(self, *a, **k):
            raise RuntimeError("Error querying device -1")

    monkeypatch.setattr(clock_module, "SoundDeviceClock", Broken)
    clock = open_clock(np.zeros(16000, np.float32), 16000)
    assert isinstance(clock, WallClock) and not clock.audible
    assert "silently" in clock.status and clock.duration == pytest.approx(1.0)


def test_scheduler_requests_ahead_and_holds_until_due():
    s = FrameScheduler(initial_latency_s=0.08, margin_s=0.0)
    assert s.frame_to_request(1.0, playing=True) == frame_at(1.08)
    assert s.frame_to_request(1.0, playing=False) == 25
    assert s.frame_to_request(9.99, playing=True, duration=10.0) == frame_at(10.0 - 1e-6)
    assert not s.due(27, 1.0) and s.due(25, 1.0) and s.due(20, 1.0)
    for _ in range(50):
        s.observe(0.2)
    assert s.latency_s == pytest.approx(0.2, rel=0.01)
    assert 0 <= s.offset_ms(25, 1.0) < 40


def test_session_builds_requests_from_settings_and_clock():
    now = FakeTime()
    session = Session(WallClock(5.0, now=now))
    session.settings = session.settings.with_(alpha_m=0.2, lambda_exp=2.5, mask_window=3, size=384,
                                              pose=OrbitPose(10.0, -5.0))
    req = session.request()
    assert req.motion.alpha_m == 0.2 and req.motion.lambda_exp == 2.5
    assert req.mask_window == 3 and req.size == 384 and req.pose.yaw_deg == 10.0
    assert req.frame_index == 0
    session.clock.play()
    now.t += 1.0
    assert session.request().frame_index >= 25  # playing: at or ahead of the playhead
    session.push_live_frame(0, np.full(33, 0.5, np.float32))
    live = session.request()
    assert live.frame_index is None and live.coefficients[0] == 0.5
    # Playback never moves the camera.
    assert live.pose == OrbitPose(10.0, -5.0)


def test_live_requests_carry_their_mask_window():
    """A live request holds the n - 1 live frames before it (Eq. 13), one per live frame index,
    so the engine needs no memory of earlier requests."""
    session = Session(WallClock(5.0, now=FakeTime()))
    session.settings = session.settings.with_(mask_window=3)
    for k in range(5):
        session.push_live_frame(k, np.full(33, 0.1 * k, np.float32))
        session.push_live_frame(k, np.full(33, 0.1 * k + 0.01, np.float32))  # same frame, updated
    req = session.request()
    assert req.coefficients[0] == pytest.approx(0.41)
    assert [c[0] for c in req.recent_coefficients] == pytest.approx([0.21, 0.31])
    session.settings = session.settings.with_(mask_window=1)
    assert session.request().recent_coefficients == ()
    session.stop_live()
    assert not session.live and session.request().coefficients is None



def test_live_requests_carry_the_motion_history_and_the_sliders():
    """Blinks and head motion live: the request names its live frame and carries the speech
    activity before it; the blink / head / seed controls reach the request."""
    from core.expression.natural import ACTIVITY_HISTORY_FRAMES, speech_activity

    session = Session(WallClock(5.0, now=FakeTime()))
    session.settings = session.settings.with_(blink_rate=0.0, head_motion=0.5, seed=7)
    frames = [np.full(33, 0.02 * (k % 9), np.float32) for k in range(ACTIVITY_HISTORY_FRAMES + 10)]
    for k, c in enumerate(frames):
        session.push_live_frame(100 + k, c)
    req = session.request()
    assert req.live_frame == 100 + len(frames) - 1
    assert len(req.activity_history) == ACTIVITY_HISTORY_FRAMES + req.mask_window - 2
    assert req.activity_history[-1] == pytest.approx(float(speech_activity(frames[-2])))
    assert (req.natural.blink_rate, req.natural.head_motion, req.natural.seed) == (0.0, 0.5, 7)
