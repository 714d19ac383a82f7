"""Microphone mode plumbing: chunks in, the newest coefficients out, latency measured."""
from __future__ import annotations

import time

import numpy as np

from viewer.microphone import SAMPLES_PER_FRAME, LiveMouth


class FakeFrame:
    def __init__(self, index, value):
        self.index = index
        self.coefficients = np.full(33, value, np.float32)


class FakeAudio2Exp:
    """Emits frame k once the audio of frame k + 2 has arrived (an 80 ms look-ahead)."""

    def __init__(self):
        self.samples = 0
        self.emitted = 0

    def push(self, samples):
        self.samples += len(samples)
        ready = self.samples // SAMPLES_PER_FRAME - 2
        out = [FakeFrame(k, float(np.abs(samples).max())) for k in range(self.emitted, max(ready, self.emitted))]
        self.emitted = max(ready, self.emitted)
        return out


def test_live_mouth_reports_latest_coefficients_and_latency():
    mouth = LiveMouth(a2e_factory=FakeAudio2Exp)
    try:
        start = time.perf_counter()
        for i in range(25):  # half a second in 20 ms chunks, at real-time pace
            while time.perf_counter() < start + i * 0.02:
                time.sleep(0.001)
            mouth.feed(np.full(SAMPLES_PER_FRAME // 2, 0.25, np.float32))
        deadline = time.time() + 2
        while mouth.latest() is None and time.time() < deadline:
            time.sleep(0.01)
        assert mouth.latest() is not None and mouth.latest()[0] == 0.25
        time.sleep(0.1)
        # Frame k needs the audio up to frame k + 2: about 80 ms after frame k's last sample.
        assert 40 <= mouth.latency_ms <= 200, mouth.latency_ms
    finally:
        mouth.close()


def test_live_mouth_plays_frames_at_a_fixed_delay_after_their_sound():
    from core.audio.playout import PlayoutConfig

    mouth = LiveMouth(a2e_factory=FakeAudio2Exp, playout=PlayoutConfig(delay_s=0.2))
    try:
        start = time.perf_counter()
        for i in range(40):  # 0.8 s in 20 ms chunks at real-time pace
            while time.perf_counter() < start + i * 0.02:
                time.sleep(0.001)
            mouth.feed(np.full(SAMPLES_PER_FRAME // 2, 0.25, np.float32))
        time.sleep(0.1)
        now = time.perf_counter()
        shown = mouth.current(now)
        assert shown is not None
        assert 0.2 <= now - shown.sound_at < 0.2 + 0.04 + 0.03  # one frame, plus thread jitter
        assert shown.settled and shown.coefficients[0] == 0.25  # fake recogniser: 80 ms late
        assert mouth.settled_share == 1.0
    finally:
        mouth.close()


def test_a_dead_recogniser_process_is_reported_and_never_blocks_exit():
    """The recogniser process dies; audio keeps coming for 4 s; closing must not hang."""
    import subprocess
    import sys
    from pathlib import Path

    script = """
import sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
from viewer.microphone import RemoteAudio2Exp
r = RemoteAudio2Exp()
deadline = time.time() + 60
while not r.ready and time.time() < deadline:
    r.push(np.zeros(0, np.float32)); time.sleep(0.05)
assert r.ready, "recogniser did not start"
r._proc.kill(); r._proc.join(5)
for _ in range(200):
    r.push(np.full(320, 0.1, np.float32))
assert r.error and "ended" in r.error, r.error
r.close()
print("closed")
"""
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script, str(root)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0 and "closed" in out.stdout, out.stderr[-2000:]


def test_a_recogniser_that_cannot_keep_up_is_stopped_and_reported():
    """A child that is alive but stuck: after its start-up grace, a backlog over the limit ends
    microphone recognition with a message instead of queueing audio forever."""
    import viewer.microphone as m

    class StuckChild:
        def is_alive(self):
            return True

    class Queue:
        def __init__(self):
            self.items = []

        def put(self, item):
            self.items.append(item)

        def get_nowait(self):
            raise m.queue.Empty

    r = m.RemoteAudio2Exp.__new__(m.RemoteAudio2Exp)
    r._proc, r._inbox, r._outbox = StuckChild(), Queue(), Queue()
    r.ready, r.error, r._sent, r._frames_back = True, None, 0, 0
    r._ready_at = time.perf_counter() - 10.0
    chunk = np.zeros(320, np.float32)
    for _ in range(int((m.MAX_BACKLOG_S + 1) * 50)):   # 4 s of audio, nothing comes back
        r.push(chunk)
    assert r.error and "behind" in r.error
    sent = len(r._inbox.items)
    r.push(chunk)
    assert len(r._inbox.items) == sent                  # nothing more is queued
