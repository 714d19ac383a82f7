"""Quiet-run detection on the raw audio (energy only; no model, no latency).

The recogniser needs ``right_context_s`` of future audio before it commits a phone, and a phone's
identity is known only at its end, so without help a live stream could call a pause "silence" only
``max_phone_s`` after the last commit. Energy tells us sooner: a stretch of audio ``min_quiet_s``
long whose level stays ``relative_db`` below the recent speech peak (or below ``floor_db``) holds
no phone. ``SegmentBuilder`` uses these quiet runs to close the mouth in pauses promptly and to
start the first phone of an utterance where its sound starts.

Blocks lie on a fixed grid of ``block_s`` in stream time, so results do not depend on chunking.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.audio.constants import SAMPLE_RATE


@dataclass(frozen=True)
class ActivityConfig:
    block_s: float = 0.02          # analysis block (20 ms, the ASR frame)
    relative_db: float = -30.0     # quiet: below the running peak level by this much ...
    floor_db: float = -60.0        # ... or below this absolute level (dBFS, RMS)
    peak_decay_db_per_s: float = 1.0   # the running peak forgets old loud speech slowly
    min_quiet_s: float = 0.1       # a quiet stretch shorter than this is not a pause (stop closure)

    @property
    def block_samples(self) -> int:
        return max(1, int(round(self.block_s * SAMPLE_RATE)))


@dataclass(frozen=True)
class QuietRun:
    """Audio was quiet on [start_s, end_s); ``open`` while it is still going on."""

    start_s: float
    end_s: float
    open: bool = False


@dataclass(frozen=True)
class QuietView:
    """The pauses known at one instant of stream time (what a live stream knew then)."""

    runs: tuple[QuietRun, ...]     # closed pauses (>= min_quiet_s), in time order
    current: QuietRun | None       # the pause going on at that instant, if already long enough
    min_quiet_s: float


class QuietTracker:
    """Feed audio; read ``runs`` (closed quiet runs >= min_quiet_s) and ``current`` (open run)."""

    MAX_RUNS = 64                  # older runs are of no use to the segment builder

    def __init__(self, config: ActivityConfig = ActivityConfig()) -> None:
        self.config = config
        self._pending = np.zeros(0, dtype=np.float32)
        self._block = 0                     # index of the next block to analyse
        self._peak = 0.0
        self._decay = 10 ** (-config.peak_decay_db_per_s * config.block_s / 20)
        self._rel = 10 ** (config.relative_db / 20)
        self._floor = 10 ** (config.floor_db / 20)
        self._run_start: int | None = None  # block index where the current quiet stretch began
        self.runs: list[QuietRun] = []

    @property
    def analysed_until_s(self) -> float:
        return self._block * self.config.block_s

    @property
    def current(self) -> QuietRun | None:
        """The quiet run in progress, if it is already long enough to count."""
        if self._run_start is None:
            return None
        start = self._run_start * self.config.block_s
        if self.analysed_until_s - start < self.config.min_quiet_s - 1e-9:
            return None
        return QuietRun(start, self.analysed_until_s, open=True)

    def view(self, at_s: float) -> QuietView:
        """Pauses as known at stream time ``at_s`` (<= the audio analysed so far).

        Evaluating at fixed instants (recogniser window ends) rather than "now" keeps decisions
        independent of how much audio happened to arrive in one push.
        """
        at_s = min(at_s, self.analysed_until_s)
        q = self.config.min_quiet_s - 1e-9
        closed: list[QuietRun] = []
        current = None
        candidates = list(self.runs)
        if self._run_start is not None:
            candidates.append(QuietRun(self._run_start * self.config.block_s,
                                       self.analysed_until_s, open=True))
        for run in candidates:
            if run.end_s <= at_s and not run.open:
                closed.append(run)
            elif run.start_s < at_s and at_s - run.start_s >= q:
                current = QuietRun(run.start_s, at_s, open=True)
        return QuietView(tuple(closed), current, self.config.min_quiet_s)

    def push(self, samples: np.ndarray) -> None:
        n = self.config.block_samples
        data = np.concatenate([self._pending, np.asarray(samples, dtype=np.float32)])
        usable = data.size - data.size % n
        if usable:
            rms = np.sqrt(np.mean(data[:usable].reshape(-1, n) ** 2, axis=1, dtype=np.float64))
            for level in rms:
                self._step(float(level))
        self._pending = data[usable:].copy()

    def finish(self) -> None:
        """Close the run in progress at the end of the stream (partial last block ignored)."""
        self._close_run()

    def _step(self, level: float) -> None:
        self._peak = max(level, self._peak * self._decay)
        quiet = level < max(self._floor, self._peak * self._rel)
        if quiet and self._run_start is None:
            self._run_start = self._block
        elif not quiet:
            self._close_run()
        self._block += 1

    def _close_run(self) -> None:
        if self._run_start is None:
            return
        start = self._run_start * self.config.block_s
        end = self._block * self.config.block_s
        if end - start >= self.config.min_quiet_s - 1e-9:
            self.runs.append(QuietRun(start, end))
            del self.runs[:-self.MAX_RUNS]
        self._run_start = None
