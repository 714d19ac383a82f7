"""Fixed-delay playout of live expression frames: a jitter buffer for the mouth.

The live recogniser settles a frame's coefficients between about 60 and 340 ms after the frame's
sound, depending on where the frame falls inside its phone (a phone is known only at its end).
Showing whichever frame is newest makes the mouth's lag jump around and, at the slow end, go past
what a viewer accepts. ``ExpressionPlayout`` instead shows frame k a fixed ``delay_s`` after the
sound at its start was captured. If the recogniser has not settled frame k by then, the frame shown
is an estimate from what is known at that moment:

    base_k  = c_j * relax ** (k - j)        c_j: the newest settled frame (j < k); relaxes to rest
    open_k  = loudness of frame k's audio, 0 (peak - span_db) .. 1 (peak - top_db), gated to 0
              below an absolute quiet level (room noise alone never opens the mouth)
    w_k     = open_k * clip((k - j - 1) / ramp_frames, 0, 1)
    c_k     = (1 - w_k) * base_k + w_k * open_shape

``open_shape`` is a running average of settled frames whose audio was loud and whose jaw was
open (a typical open-mouth pose of this speaker), so a vowel the recogniser has not named yet
still opens the mouth, and a pause closes it. Loudness is a weak cue for the jaw (correlation 0.4-0.5 with the settled jawOpen
on the development speech), so it takes over only as the settled frame grows stale.

If no audio arrives for a while (the device stopped), the mouth goes to rest instead of freezing.

Times are ``time.perf_counter()`` seconds; frames are 25 fps, audio 16 kHz mono. A frame's
``sound_at`` is when its first sample was captured: the arrival of the chunk that holds it, less
the duration of the samples after it in that chunk (the sound card's own input latency, which
cannot be seen from here, comes on top).
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from core.audio.constants import FPS, SAMPLE_RATE
from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS

SAMPLES_PER_FRAME = SAMPLE_RATE // FPS


@dataclass(frozen=True)
class PlayoutConfig:
    """How far behind the sound the mouth plays, and how late frames are estimated."""

    delay_s: float = 0.20            # frame k is shown this long after the sound at its start
    relax_per_frame: float = 0.85    # a stale settled frame relaxes toward rest by this per frame
    span_db: float = 25.0            # audio this far below the running peak counts as closed ...
    top_db: float = 6.0              # ... and this far below (or closer) as fully open
    peak_decay_db_per_s: float = 1.0  # the running loudness peak forgets old speech slowly
    peak_floor_db: float = -40.0     # the peak never drops below this (dBFS): noise is not speech
    quiet_db: float = -55.0          # below this level (dBFS) a frame never opens the mouth ...
    gate_db: float = 10.0            # ... and it may fully open from this much above it
    open_jaw: float = 0.1            # settled frames with jawOpen above this shape open_shape
    open_rate: float = 0.05          # weight of each such frame in the running open_shape
    stall_s: float = 0.1             # no audio for delay_s + this: the mouth goes to rest
    ramp_frames: float = 3.0         # frames of staleness over which loudness takes over
    loud_db: float = 12.0            # settled frames within this of the peak shape open_shape
    history_frames: int = 250        # settled frames and arrival times kept (10 s)

    def __post_init__(self) -> None:
        if self.delay_s < 0 or not 0 < self.relax_per_frame <= 1:
            raise ValueError("delay_s must be >= 0 and relax_per_frame in (0, 1]")
        if not self.span_db > self.top_db >= 0 or self.ramp_frames <= 0:
            raise ValueError("need span_db > top_db >= 0 and ramp_frames > 0")


def _default_open_shape() -> np.ndarray:
    """A moderate open-mouth pose, used until the speaker's own loud frames have been seen."""
    shape = np.zeros(NUM_EXPRESSIONS, np.float32)
    shape[EXPRESSION_INDEX["jawOpen"]] = 0.3
    for name in ("mouthLowerDownLeft", "mouthLowerDownRight"):
        shape[EXPRESSION_INDEX[name]] = 0.1
    return shape


@dataclass(frozen=True)
class PlayoutFrame:
    """What to show now: frame ``index``'s coefficients, settled by the recogniser or estimated."""

    index: int
    coefficients: np.ndarray        # float32 [NUM_EXPRESSIONS]
    settled: bool                   # False: the recogniser was late, this is the estimate
    sound_at: float                 # when the sound at the frame's start was captured (perf_counter s)


class ExpressionPlayout:
    """Feed audio (with arrival times) and settled frames; ask ``frame_at(now)`` what to show."""

    def __init__(self, config: PlayoutConfig = PlayoutConfig()) -> None:
        self.config = config
        self._pending = np.zeros(0, np.float32)      # audio of the frame being filled
        self._samples = 0                            # samples received so far
        self._frames_heard = 0                       # frames whose audio is complete
        self._arrival: OrderedDict[int, float] = OrderedDict()   # frame -> its sound's capture time
        self._openness: OrderedDict[int, float] = OrderedDict()  # frame -> 0..1 loudness cue
        self._settled: OrderedDict[int, np.ndarray] = OrderedDict()
        self._peak_db = config.peak_floor_db
        self._open_shape = _default_open_shape()
        self._last_arrival: float | None = None
        self._shown: OrderedDict[int, bool] = OrderedDict()   # frame -> settled when last asked

    # ------------------------------------------------------------------ input
    def add_audio(self, samples: np.ndarray, arrival: float) -> None:
        """float32 [n] 16 kHz mono that arrived at ``arrival`` (the device callback's time)."""
        samples = np.asarray(samples, np.float32).reshape(-1)
        first = self._samples
        self._samples += samples.size
        self._last_arrival = arrival
        # Frames whose first sample is in this chunk. The chunk arrives as its last sample is
        # captured, so the sound at frame k's start is older by the samples that follow it.
        for k in range(-(-first // SAMPLES_PER_FRAME), -(-self._samples // SAMPLES_PER_FRAME)):
            self._remember(self._arrival, k, arrival - (self._samples - k * SAMPLES_PER_FRAME) / SAMPLE_RATE)
        self._pending = np.concatenate([self._pending, samples])
        while self._pending.size >= SAMPLES_PER_FRAME:
            frame, self._pending = self._pending[:SAMPLES_PER_FRAME], self._pending[SAMPLES_PER_FRAME:]
            self._remember(self._openness, self._frames_heard, self._openness_of(frame))
            self._frames_heard += 1

    def add_settled(self, index: int, coefficients: np.ndarray) -> None:
        """The recogniser's coefficients for frame ``index`` (frames come in order)."""
        c = np.asarray(coefficients, np.float32).reshape(NUM_EXPRESSIONS).copy()
        self._remember(self._settled, index, c)
        loud = self._openness.get(index)
        if (loud is not None and loud >= self._loud_openness()
                and c[EXPRESSION_INDEX["jawOpen"]] > self.config.open_jaw):
            rate = self.config.open_rate
            self._open_shape = ((1 - rate) * self._open_shape + rate * c).astype(np.float32)

    # ------------------------------------------------------------------ output
    def due_index(self, now: float) -> int | None:
        """The newest frame whose sound was captured at least ``delay_s`` before ``now``."""
        limit = now - self.config.delay_s
        due = None
        for k, t in reversed(self._arrival.items()):
            if t <= limit and k < self._frames_heard:
                due = k
                break
        return due

    def frame_at(self, now: float) -> PlayoutFrame | None:
        """What to show at wall time ``now`` (None before any frame is due)."""
        k = self.due_index(now)
        if k is None:
            return None
        if now - self._last_arrival > self.config.delay_s + self.config.stall_s:
            return PlayoutFrame(k, np.zeros(NUM_EXPRESSIONS, np.float32), False, self._arrival[k])
        settled = self._settled.get(k)
        self._remember(self._shown, k, settled is not None)
        if settled is not None:
            return PlayoutFrame(k, settled.copy(), True, self._arrival[k])
        return PlayoutFrame(k, self.estimate(k), False, self._arrival[k])

    def estimate(self, k: int) -> np.ndarray:
        """The stand-in for frame ``k`` from the settled frames before it and its loudness."""
        cfg = self.config
        older = [j for j in self._settled if j < k]
        if older:
            j = max(older)
            base = self._settled[j] * cfg.relax_per_frame ** (k - j)
        else:
            j = k - 1 - int(np.ceil(cfg.ramp_frames))   # nothing settled yet: loudness alone
            base = np.zeros(NUM_EXPRESSIONS, np.float32)
        stale = np.clip((k - j - 1) / cfg.ramp_frames, 0.0, 1.0)
        w = float(self._openness.get(k, 0.0)) * stale
        return ((1.0 - w) * base + w * self.open_shape).astype(np.float32)

    @property
    def open_shape(self) -> np.ndarray:
        """float32 [NUM_EXPRESSIONS]: this speaker's typical open-mouth pose so far."""
        return self._open_shape.copy()

    @property
    def settled_share(self) -> float | None:
        """Share of the recent frames shown (last ``history_frames``) that were the recogniser's
        own when they were last asked for, rather than estimates."""
        return float(np.mean(list(self._shown.values()))) if self._shown else None

    # ------------------------------------------------------------------ internals
    def _openness_of(self, frame: np.ndarray) -> float:
        cfg = self.config
        level = 20 * np.log10(float(np.sqrt(np.mean(frame.astype(np.float64) ** 2))) + 1e-6)
        self._peak_db = max(level, self._peak_db - cfg.peak_decay_db_per_s / FPS, cfg.peak_floor_db)
        below = self._peak_db - level
        relative = np.clip((cfg.span_db - below) / (cfg.span_db - cfg.top_db), 0.0, 1.0)
        gate = np.clip((level - cfg.quiet_db) / cfg.gate_db, 0.0, 1.0)
        return float(relative * gate)

    def _loud_openness(self) -> float:
        cfg = self.config
        return (cfg.span_db - cfg.loud_db) / (cfg.span_db - cfg.top_db)

    def _remember(self, table: OrderedDict, key: int, value) -> None:
        table[key] = value
        while len(table) > self.config.history_frames:
            table.popitem(last=False)
