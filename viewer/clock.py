"""Playback clocks. The audio is the master clock; the frame shown is floor(t * 25).

``PlaybackClock`` is the interface the UI uses. ``WallClock`` runs on a monotonic timer (used when
no sound device is available: playback is silent). ``SoundDeviceClock`` plays the audio through
sounddevice and reports the position of the sample being heard now. Both are pure enough to test
with an injected time source.
"""
from __future__ import annotations

import math
import threading
import time
from typing import Callable

import numpy as np

FPS = 25


def frame_at(t_seconds: float, fps: int = FPS) -> int:
    """Video frame shown at audio time t: floor(t * fps)."""
    return int(math.floor(max(t_seconds, 0.0) * fps + 1e-9))


class PlaybackClock:
    """Play / pause / seek over ``duration`` seconds, optionally looping."""

    duration: float
    loop: bool = False
    audible: bool = False
    status: str = ""

    def time(self) -> float:
        raise NotImplementedError

    def play(self) -> None:
        raise NotImplementedError

    def pause(self) -> None:
        raise NotImplementedError

    def seek(self, t: float) -> None:
        raise NotImplementedError

    @property
    def playing(self) -> bool:
        raise NotImplementedError

    @property
    def finished(self) -> bool:
        return not self.loop and self.time() >= self.duration

    def close(self) -> None:
        pass


class WallClock(PlaybackClock):
    """Silent playback on a monotonic timer."""

    def __init__(self, duration: float, now: Callable[[], float] = time.monotonic, status: str = ""):
        self.duration = max(float(duration), 0.0)
        self.loop = False
        self._now = now
        self._offset = 0.0  # media time when paused / at the last play()
        self._started: float | None = None
        self.status = status or "no sound device: playing silently on the system clock"

    def time(self) -> float:
        t = self._offset if self._started is None else self._offset + (self._now() - self._started)
        if self.loop and self.duration > 0:
            return t % self.duration
        return min(t, self.duration)

    def play(self) -> None:
        if self._started is None:
            if self.time() >= self.duration and not self.loop:
                self._offset = 0.0
            self._started = self._now()

    def pause(self) -> None:
        if self._started is not None:
            self._offset = self.time()
            self._started = None

    def seek(self, t: float) -> None:
        self._offset = float(np.clip(t, 0.0, self.duration))
        if self._started is not None:
            self._started = self._now()

    @property
    def playing(self) -> bool:
        return self._started is not None and not self.finished


class SoundDeviceClock(PlaybackClock):
    """Plays mono float32 audio through the default output device; the clock is the played
    position minus the device's output latency."""

    def __init__(self, samples: np.ndarray, sample_rate: int):
        import sounddevice as sd

        self.samples = np.ascontiguousarray(samples, dtype=np.float32)
        self.sample_rate = int(sample_rate)
        self.duration = len(self.samples) / self.sample_rate
        self.loop = False
        self.audible = True
        self._pos = 0
        self._playing = False
        self._lock = threading.Lock()
        self.stream = sd.OutputStream(samplerate=self.sample_rate, channels=1, dtype="float32",
                                      callback=self._callback, latency="low")
        self.latency = float(self.stream.latency)
        self.status = f"audio: {sd.query_devices(kind='output')['name']}"
        self.stream.start()

    def _callback(self, outdata, frames, time_info, status) -> None:
        with self._lock:
            out = np.zeros(frames, np.float32)
            if self._playing:
                n = 0
                while n < frames:
                    chunk = self.samples[self._pos: self._pos + frames - n]
                    out[n:n + len(chunk)] = chunk
                    n += len(chunk)
                    self._pos += len(chunk)
                    if self._pos >= len(self.samples):
                        if self.loop and len(self.samples):
                            self._pos = 0
                        else:
                            self._playing = False
                            break
            outdata[:, 0] = out

    def time(self) -> float:
        with self._lock:
            t = self._pos / self.sample_rate - (self.latency if self._playing else 0.0)
        return float(np.clip(t, 0.0, self.duration))

    def play(self) -> None:
        with self._lock:
            if self._pos >= len(self.samples):
                self._pos = 0
            self._playing = True

    def pause(self) -> None:
        with self._lock:
            self._playing = False

    def seek(self, t: float) -> None:
        with self._lock:
            self._pos = int(np.clip(t, 0.0, self.duration) * self.sample_rate)

    @property
    def playing(self) -> bool:
        return self._playing

    def close(self) -> None:
        try:
            self.stream.stop()
            self.stream.close()
        except Exception:
            pass


def open_clock(samples: np.ndarray, sample_rate: int) -> PlaybackClock:
    """A sound-device clock when an output device works, else a silent wall clock (with the
    reason in ``status``)."""
    try:
        return SoundDeviceClock(samples, sample_rate)
    except Exception as exc:  # no PortAudio, no device, device busy, ...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return WallClock(len(samples) / sample_rate,
                         status=f"no sound output ({reason}): playing silently on the system clock")
