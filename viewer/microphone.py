"""Microphone mode: live input streamed into Audio2Exp, with the sound-to-coefficient latency.

Audio arrives from a sounddevice InputStream callback (16 kHz mono) into a queue; a thread
pushes it into a live Audio2Exp and keeps the newest expression frame. For every emitted frame
the latency is the time from the arrival of the audio at the end of that frame to the moment the
frame's coefficients exist.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque

import numpy as np

from core.audio.constants import FPS, SAMPLE_RATE

SAMPLES_PER_FRAME = SAMPLE_RATE // FPS


class LiveMouth:
    """Streams chunks into Audio2Exp; ``latest()`` gives the newest beta_t^audio."""

    def __init__(self, a2e_factory=None):
        from core.audio.audio2exp import LIVE_CONFIG, Audio2Exp

        self._a2e = a2e_factory() if a2e_factory else Audio2Exp(config=LIVE_CONFIG)
        self._queue: queue.Queue = queue.Queue()
        self._latest: np.ndarray | None = None
        self._lock = threading.Lock()
        self._arrivals: deque = deque(maxlen=4000)  # (end sample index, arrival time)
        self._received = 0
        self.latencies: deque = deque(maxlen=200)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="live-audio2exp", daemon=True)
        self._thread.start()
        self.stream = None

    # ---------------------------------------------------------------- input
    def start_device(self) -> None:
        """Open the default input device. Raises when there is none."""
        import sounddevice as sd

        self.stream = sd.InputStream(samplerate=SAMPLE_RATE, channels=1, dtype="float32",
                                     blocksize=SAMPLES_PER_FRAME // 2, callback=self._callback)
        self.stream.start()

    def _callback(self, indata, frames, time_info, status) -> None:
        self.feed(indata[:, 0].copy())

    def feed(self, samples: np.ndarray, arrival: float | None = None) -> None:
        """Queue float32 mono 16 kHz samples (what the device callback does)."""
        self._queue.put((np.asarray(samples, np.float32), time.perf_counter() if arrival is None else arrival))

    # ---------------------------------------------------------------- processing
    def _run(self) -> None:
        while not self._stop:
            try:
                samples, arrival = self._queue.get(timeout=0.1)
            except queue.Empty:
                continue
            self._received += len(samples)
            self._arrivals.append((self._received, arrival))
            frames = self._a2e.push(samples)
            now = time.perf_counter()
            for f in frames:
                end_sample = (f.index + 1) * SAMPLES_PER_FRAME
                arrived = self._arrival_of(end_sample)
                if arrived is not None:
                    self.latencies.append(now - arrived)
            if frames:
                with self._lock:
                    self._latest = frames[-1].coefficients

    def _arrival_of(self, sample_index: int) -> float | None:
        for end, t in self._arrivals:
            if end >= sample_index:
                return t
        return None

    def latest(self) -> np.ndarray | None:
        with self._lock:
            return None if self._latest is None else self._latest.copy()

    @property
    def latency_ms(self) -> float | None:
        return float(np.median(self.latencies) * 1000) if self.latencies else None

    def close(self) -> None:
        self._stop = True
        if self.stream is not None:
            try:
                self.stream.stop()
                self.stream.close()
            except Exception:
                pass
        self._thread.join(timeout=2)
