"""Microphone mode: live input streamed into Audio2Exp and played out at a fixed delay.

Audio arrives from a sounddevice InputStream callback (16 kHz mono) into a queue; a thread
pushes it into a live Audio2Exp (in a child process, away from the window's GIL) and hands the settled frames to an ``ExpressionPlayout``, which
says what the mouth shows at each moment: frame k, ``PlayoutConfig.delay_s`` after the sound at
its start arrived (the recogniser's coefficients, or an estimate when they are late). Two
latencies are kept: ``latencies`` (arrival of a frame's last sample -> its coefficients exist,
the recogniser's speed) and the playout delay, which the viewer adds its render time to.
"""
from __future__ import annotations

import queue
import threading
import time
from collections import deque

import numpy as np

from core.audio.constants import FPS, SAMPLE_RATE
from core.audio.playout import ExpressionPlayout, PlayoutConfig, PlayoutFrame

SAMPLES_PER_FRAME = SAMPLE_RATE // FPS
MAX_BACKLOG_S = 3.0   # a recogniser this far behind is no use live: stop it, say so


def _recogniser_main(inbox, outbox) -> None:
    """Child process: audio chunks in, (index, coefficients) of settled frames out. Ends on
    ``None`` or when the viewer process is gone; ignores SIGINT (the viewer decides)."""
    import multiprocessing as mp
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from core.audio.audio2exp import LIVE_CONFIG, Audio2Exp

    parent = mp.parent_process()

    a2e = Audio2Exp(config=LIVE_CONFIG)
    a2e.backend.recognizer.model                     # load the phone model before saying ready
    outbox.put("ready")
    while True:
        try:
            samples = inbox.get(timeout=0.5)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                return
            continue
        if samples is None:
            return
        try:
            frames = a2e.push(samples)
        except Exception as exc:  # report and stop: the viewer says so and shows estimates
            outbox.put(("error", f"{type(exc).__name__}: {exc}"))
            return
        if frames:
            outbox.put([(f.index, f.coefficients) for f in frames])


class RemoteAudio2Exp:
    """Live Audio2Exp in its own process, so that the window (which holds the GIL while it
    draws) never delays the recogniser. ``push`` sends audio and returns, without waiting, the
    frames that have come back since the last call."""

    def __init__(self) -> None:
        import multiprocessing as mp

        from viewer.render_process import sigint_ignored

        ctx = mp.get_context("spawn")
        self._inbox, self._outbox = ctx.Queue(), ctx.Queue()
        self._proc = ctx.Process(target=_recogniser_main, args=(self._inbox, self._outbox),
                                 name="live-recogniser", daemon=True)
        self._closed = False
        with sigint_ignored():
            self._proc.start()
        self.ready = False                           # True once the child has loaded its model
        self.error: str | None = None                # why the child stopped, if it did
        self._sent = 0                               # samples sent to the child
        self._frames_back = 0                        # frames it has returned
        self._ready_at: float | None = None

    def push(self, samples: np.ndarray) -> list:
        from core.audio.audio2exp import ExpressionFrame

        if self.error is None and not self._proc.is_alive():
            self.error = f"recogniser process ended (exit code {self._proc.exitcode})"
        backlog_s = (self._sent - self._frames_back * SAMPLES_PER_FRAME) / SAMPLE_RATE
        caught_up = self._ready_at is not None and time.perf_counter() - self._ready_at > 5.0
        if self.error is None and caught_up and backlog_s > MAX_BACKLOG_S:
            self.error = f"recogniser fell {backlog_s:.0f} s behind (the machine is too busy)"
        if samples.size and self.error is None:      # never fill a pipe nobody reads
            self._inbox.put(samples)
            self._sent += samples.size
        frames = []
        while True:
            try:
                batch = self._outbox.get_nowait()
            except (queue.Empty, OSError, ValueError):
                return frames
            if batch == "ready":
                self.ready = True
                self._ready_at = time.perf_counter()   # audio sent meanwhile is caught up after
            elif isinstance(batch, tuple) and batch and batch[0] == "error":
                self.error = batch[1]
            else:
                frames += [ExpressionFrame(k, c) for k, c in batch]
                self._frames_back += len(batch)

    def close(self) -> None:
        """Stop the child and release the queues without ever blocking on a full pipe. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._inbox.cancel_join_thread()             # unsent audio is not worth waiting for
        try:
            self._inbox.put(None)
        except (OSError, ValueError):
            pass
        self._proc.join(timeout=1.0)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(timeout=1.0)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join(timeout=1.0)
        for q in (self._inbox, self._outbox):
            q.close()


class LiveMouth:
    """Streams chunks into Audio2Exp; ``current(now)`` says which beta_t^audio to show now."""

    def __init__(self, a2e_factory=None, playout: PlayoutConfig = PlayoutConfig()):
        """``a2e_factory``: makes the Audio2Exp to use in this process (tests); by default the
        live Audio2Exp runs in a child process (``RemoteAudio2Exp``)."""
        self._a2e = a2e_factory() if a2e_factory else RemoteAudio2Exp()
        self._queue: queue.Queue = queue.Queue()
        self._latest: np.ndarray | None = None
        self._playout = ExpressionPlayout(playout)
        self._lock = threading.Lock()
        self._arrivals: deque = deque(maxlen=4000)  # (end sample index, arrival time)
        self._received = 0
        self.latencies: deque = deque(maxlen=5000)
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

    def start_simulated(self, samples: np.ndarray) -> None:
        """Play recorded 16 kHz speech, then silence, into the pipeline in 20 ms chunks at
        real-time pace, as a microphone would, once the recogniser is ready (for measuring the
        viewer without a sound card)."""
        samples = np.asarray(samples, np.float32)
        chunk = SAMPLES_PER_FRAME // 2

        def speak() -> None:
            deadline = time.perf_counter() + 30.0
            while not self.ready and time.perf_counter() < deadline:  # as a person would wait
                time.sleep(0.02)
            start = time.perf_counter()
            silence = np.zeros(chunk, np.float32)
            i = 0
            while not self._stop:  # after the recording, silence, as a microphone goes on
                delay = start + (i + chunk) / SAMPLE_RATE - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                self.feed(samples[i:i + chunk] if i < samples.size else silence)
                i += chunk

        threading.Thread(target=speak, name="simulated-microphone", daemon=True).start()

    def _callback(self, indata, frames, time_info, status) -> None:
        self.feed(indata[:, 0].copy())

    def feed(self, samples: np.ndarray, arrival: float | None = None) -> None:
        """Queue float32 mono 16 kHz samples (what the device callback does); NaN and infinite
        samples (a faulty device) become silence / full scale."""
        samples = np.nan_to_num(np.asarray(samples, np.float32), nan=0.0, posinf=1.0, neginf=-1.0)
        self._queue.put((samples, time.perf_counter() if arrival is None else arrival))

    # ---------------------------------------------------------------- processing
    def _run(self) -> None:
        while not self._stop:
            try:
                samples, arrival = self._queue.get(timeout=0.005)
            except queue.Empty:  # nothing new: collect what the recogniser has finished
                samples, arrival = np.zeros(0, np.float32), None
            if samples.size:
                self._received += len(samples)
                self._arrivals.append((self._received, arrival))
                with self._lock:
                    self._playout.add_audio(samples, arrival)
            frames = self._a2e.push(samples)
            now = time.perf_counter()
            for f in frames:
                end_sample = (f.index + 1) * SAMPLES_PER_FRAME
                arrived = self._arrival_of(end_sample)
                if arrived is not None:
                    self.latencies.append(now - arrived)
            if frames:
                with self._lock:
                    for f in frames:
                        self._playout.add_settled(f.index, f.coefficients)
                    self._latest = frames[-1].coefficients

    def _arrival_of(self, sample_index: int) -> float | None:
        """Arrival time of the chunk holding sample ``sample_index - 1`` (newest chunks first)."""
        found = None
        for end, t in reversed(self._arrivals):
            if end < sample_index:
                break
            found = t
        return found

    def latest(self) -> np.ndarray | None:
        """The newest settled coefficients, whatever their age (no playout delay)."""
        with self._lock:
            return None if self._latest is None else self._latest.copy()

    def current(self, now: float | None = None) -> PlayoutFrame | None:
        """The frame the mouth shows at ``now`` (perf_counter s); None before speech arrives."""
        with self._lock:
            return self._playout.frame_at(time.perf_counter() if now is None else now)

    @property
    def ready(self) -> bool:
        """False while the recogniser is still starting (speech meanwhile gets estimates)."""
        return bool(getattr(self._a2e, "ready", True))

    @property
    def error(self) -> str | None:
        """Why the recogniser stopped, if it did (the mouth then runs on estimates only)."""
        return getattr(self._a2e, "error", None)

    @property
    def delay_ms(self) -> float:
        """The playout delay: sound at a frame's start -> the moment that frame is due."""
        return self._playout.config.delay_s * 1000

    @property
    def settled_share(self) -> float | None:
        with self._lock:
            return self._playout.settled_share

    @property
    def latency_ms(self) -> float | None:
        """Median recogniser latency (a frame's last sample -> its coefficients)."""
        return float(np.median(self.latencies) * 1000) if self.latencies else None

    def close(self) -> None:
        """Stop the input, the thread and the recogniser process. Idempotent."""
        if self._stop:
            return
        self._stop = True
        if self.stream is not None:
            try:
                self.stream.stop()
                self.stream.close()
            except Exception:
                pass
        self._thread.join(timeout=2)
        if hasattr(self._a2e, "close"):
            self._a2e.close()
