"""Audio2Exp backends: the ``ExpressionBackend`` protocol and the default phoneme backend.

A backend consumes 16 kHz mono float32 audio in chunks of any size and returns the expression
coefficients of video frames 0, 1, 2, ... in order, as soon as it has settled them. Another model
(e.g. SadTalker's Audio2Exp on 0.2 s mel windows, mapped onto our ARKit basis) plugs in by
implementing these three members.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from core.audio.coarticulation import BlendConfig, StreamingBlender
from core.audio.constants import SAMPLE_RATE, num_frames_for_samples
from core.audio.phones import LIVE_RECOGNIZER, RecognizerConfig, WindowedPhoneRecognizer
from core.audio.segments import SegmentBuilder, TimingConfig


@runtime_checkable
class ExpressionBackend(Protocol):
    """Streaming speech -> expression coefficients at 25 fps."""

    name: str

    def push(self, samples: np.ndarray) -> np.ndarray:
        """float32 [n] 16 kHz mono -> float32 [k, NUM_EXPRESSIONS] for the next k frames (k >= 0)."""
        ...

    def finish(self) -> np.ndarray:
        """Flush: rows for all remaining frames, so the total is ceil(samples / 640)."""
        ...


@dataclass(frozen=True)
class PhonemeBackendConfig:
    """Settings of the hama -> openfacefx backend (see each stage's module for the fields)."""

    recognizer: RecognizerConfig = LIVE_RECOGNIZER
    timing: TimingConfig = field(default_factory=TimingConfig)
    blend: BlendConfig = field(default_factory=BlendConfig)


class PhonemeBackend:
    """hama phonemes -> phone segments -> openfacefx coarticulation -> our ARKit coefficients."""

    name = "hama+openfacefx"

    def __init__(self, config: PhonemeBackendConfig = PhonemeBackendConfig(), model=None) -> None:
        self.config = config
        self.recognizer = WindowedPhoneRecognizer(config.recognizer, model=model)
        self.segments = SegmentBuilder(config.timing)
        self.blender = StreamingBlender(config.blend)
        self.phones: list = []            # every committed PhoneEvent, for inspection
        self.keep_phones = False          # set True to record phones (tests, debugging)

    def push(self, samples: np.ndarray) -> np.ndarray:
        events = self.recognizer.push(samples)
        if self.keep_phones:
            self.phones += events
        self.blender.add(self.segments.add(events, self.recognizer.committed_until_s))
        total = num_frames_for_samples(self.recognizer.samples_pushed)
        return self.blender.ready(self.segments.final_until_s, max_frames=total)

    def finish(self) -> np.ndarray:
        events = self.recognizer.finish()
        if self.keep_phones:
            self.phones += events
        end_s = self.recognizer.samples_pushed / SAMPLE_RATE
        self.blender.add(self.segments.add(events, self.recognizer.committed_until_s))
        self.blender.add(self.segments.finish(end_s))
        return self.blender.finish(num_frames_for_samples(self.recognizer.samples_pushed))
