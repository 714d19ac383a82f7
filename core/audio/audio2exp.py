"""Audio2Exp: one streaming interface for whole files and live microphones (paper section 4.2).

    a2e = Audio2Exp()                       # live settings: bounded latency (about 0.25 s)
    for chunk in microphone_chunks():       # float32 mono 16 kHz, any chunk size
        for frame in a2e.push(chunk):       # frames come out in order: index 0, 1, 2, ...
            show(frame.index, frame.coefficients)
    tail = a2e.finish()                     # the frames still pending at the end

    coeffs = coefficients_for_file("speech.mp3")   # float32 [T, NUM_EXPRESSIONS], T = ceil(s * 25)

Files use ``FILE_CONFIG`` (long recogniser windows: faster than real time, ahead of the playhead);
live input uses ``LIVE_CONFIG`` (short windows on an 80 ms grid). Both emit one coefficient
vector per 25 fps video frame, in ``core.face.arkit.EXPRESSION_NAMES`` order, values in [0, 1];
silence gives all zeros (closed, relaxed mouth).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from core.audio.backends import ExpressionBackend, PhonemeBackend, PhonemeBackendConfig
from core.audio.constants import FPS, SAMPLE_RATE
from core.audio.loading import DEFAULT_BLOCK_SECONDS, iter_audio_blocks, probe_audio
from core.audio.phones import FILE_RECOGNIZER, LIVE_RECOGNIZER
from core.face.arkit import NUM_EXPRESSIONS

LIVE_CONFIG = PhonemeBackendConfig(recognizer=LIVE_RECOGNIZER)
FILE_CONFIG = PhonemeBackendConfig(recognizer=FILE_RECOGNIZER)
Audio2ExpConfig = PhonemeBackendConfig     # the default backend's config is Audio2Exp's config

ProgressFn = Callable[[float], None]


@dataclass(frozen=True)
class ExpressionFrame:
    """Expression coefficients for video frame ``index`` (time ``index / 25`` s)."""

    index: int
    coefficients: np.ndarray        # float32 [NUM_EXPRESSIONS], EXPRESSION_NAMES order

    @property
    def time_s(self) -> float:
        return self.index / FPS


class Audio2Exp:
    """Speech chunks in, ``ExpressionFrame`` s out (in order, each frame exactly once)."""

    def __init__(self, backend: ExpressionBackend | None = None,
                 config: PhonemeBackendConfig = LIVE_CONFIG) -> None:
        self.backend = backend if backend is not None else PhonemeBackend(config)
        self.frames_emitted = 0
        self.samples_pushed = 0
        self._finished = False

    @property
    def audio_time_s(self) -> float:
        """Seconds of audio pushed so far."""
        return self.samples_pushed / SAMPLE_RATE

    @property
    def backlog_s(self) -> float:
        """Audio pushed but not yet turned into frames, in seconds (the algorithmic latency)."""
        return max(0.0, self.audio_time_s - self.frames_emitted / FPS)

    def push(self, samples: np.ndarray) -> list[ExpressionFrame]:
        """Feed [n] mono 16 kHz audio (any n >= 0); return the frames now settled.

        Float samples are in [-1, 1]; integer samples (int16, uint8 ...) are scaled to that range.
        """
        if self._finished:
            raise RuntimeError("Audio2Exp.push() after finish(); create a new Audio2Exp")
        samples = np.asarray(samples)
        if samples.ndim != 1:
            raise ValueError(f"expected mono samples of shape [n], got {samples.shape}")
        if np.issubdtype(samples.dtype, np.integer):      # e.g. int16 from a sound card
            info = np.iinfo(samples.dtype)
            samples = (samples.astype(np.float32) - (info.min + info.max + 1) / 2) / (
                (info.max - info.min + 1) / 2)
        samples = samples.astype(np.float32, copy=False)
        if samples.size and not np.all(np.isfinite(samples)):
            raise ValueError("audio samples contain NaN or infinity")
        self.samples_pushed += samples.size
        return self._wrap(self.backend.push(samples))

    def finish(self) -> list[ExpressionFrame]:
        """End of stream: return every remaining frame."""
        if self._finished:
            return []
        self._finished = True
        return self._wrap(self.backend.finish())

    def _wrap(self, rows: np.ndarray) -> list[ExpressionFrame]:
        rows = np.asarray(rows, dtype=np.float32).reshape(-1, NUM_EXPRESSIONS)
        frames = [ExpressionFrame(self.frames_emitted + i, rows[i]) for i in range(rows.shape[0])]
        self.frames_emitted += rows.shape[0]
        return frames


def iter_file_coefficients(path: str | Path, config: PhonemeBackendConfig = FILE_CONFIG,
                           progress: ProgressFn | None = None,
                           block_s: float = DEFAULT_BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Stream a file through Audio2Exp: yields float32 [k, NUM_EXPRESSIONS] blocks of frames.

    Memory stays O(block) however long the file. ``progress`` gets the fraction of audio done
    (0..1) after each block when the duration is known, and 1.0 at the end.
    Raises ``AudioLoadError`` for unusable files.
    """
    duration = probe_audio(path).duration_s
    a2e = Audio2Exp(config=config)
    for block in iter_audio_blocks(path, block_s=block_s):
        frames = a2e.push(block)
        if frames:
            yield np.stack([f.coefficients for f in frames])
        if progress is not None and duration:
            progress(min(0.999, a2e.audio_time_s / duration))   # 1.0 only once all is done
    tail = a2e.finish()
    if tail:
        yield np.stack([f.coefficients for f in tail])
    if progress is not None:
        progress(1.0)


def coefficients_for_driver(path: str | Path, progress: ProgressFn | None = None) -> np.ndarray:
    """Coefficients from either driver: a ``.csv`` of coefficients or an audio file.

    Returns float32 [T, NUM_EXPRESSIONS] at 25 fps ([T, NUM_DRIVER_CHANNELS] from a CSV with head
    angles). Raises ``CoefficientCSVError`` or
    ``AudioLoadError`` (both ValueError) with user-facing messages.
    """
    if Path(path).suffix.lower() == ".csv":
        from core.audio.coeff_csv import read_coefficients_csv

        coeffs = read_coefficients_csv(path).driver
        if progress is not None:
            progress(1.0)
        return coeffs
    return coefficients_for_file(path, progress=progress)


def coefficients_for_file(path: str | Path, config: PhonemeBackendConfig = FILE_CONFIG,
                          progress: ProgressFn | None = None) -> np.ndarray:
    """Expression coefficients of a whole file: float32 [T, NUM_EXPRESSIONS], T = ceil(s * 25).

    The audio is decoded and processed in blocks (an hour of audio needs a few MB besides the
    360 kB per minute of output).
    """
    blocks = list(iter_file_coefficients(path, config=config, progress=progress))
    if not blocks:
        return np.zeros((0, NUM_EXPRESSIONS), dtype=np.float32)
    return np.concatenate(blocks).astype(np.float32, copy=False)
