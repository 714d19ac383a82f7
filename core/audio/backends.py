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

from core.audio.activity import ActivityConfig, QuietTracker
from core.audio.coarticulation import BlendConfig, StreamingBlender
from core.audio.constants import SAMPLE_RATE, num_frames_for_samples
from core.audio.phones import (LIVE_RECOGNIZER, RecognizerConfig, WindowCommit,
                               WindowedPhoneRecognizer)
from core.audio.segments import SegmentBuilder, TimingConfig


@runtime_checkable
class ExpressionBackend(Protocol):
    """Streaming speech -> expression coefficients at 25 fps."""

    name: str

    def push(self, samples: np.ndarray) -> np.ndarray:
        """float32 [n] 16 kHz mono -> float32 [k, NUM_EXPRESSIONS], the next k frames (k >= 0)."""
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
    activity: ActivityConfig | None = field(default_factory=ActivityConfig)  # None: no pauses


class PhonemeBackend:
    """hama phonemes -> phone segments -> openfacefx coarticulation -> our ARKit coefficients."""

    name = "hama+openfacefx"

    def __init__(self, config: PhonemeBackendConfig = PhonemeBackendConfig(), model=None) -> None:
        self.config = config
        self.recognizer = WindowedPhoneRecognizer(config.recognizer, model=model)
        self.segments = SegmentBuilder(config.timing)
        self.quiet = QuietTracker(config.activity) if config.activity is not None else None
        self.blender = StreamingBlender(config.blend)
        self.phones: list = []            # every committed PhoneEvent, for inspection
        self.keep_phones = False          # set True to record phones (tests, debugging)

    def _settle(self, commit: WindowCommit) -> None:
        """Feed one recogniser window's phones (and the pauses known then) to the segments."""
        if self.keep_phones:
            self.phones += commit.events
        view = self.quiet.view(commit.audio_until_s) if self.quiet is not None else None
        self.blender.add(self.segments.add(commit.events, commit.committed_until_s, view))

    def push(self, samples: np.ndarray) -> np.ndarray:
        if self.quiet is not None:
            self.quiet.push(samples)
        for commit in self.recognizer.push(samples):
            self._settle(commit)
        total = num_frames_for_samples(self.recognizer.samples_pushed)
        return self.blender.ready(self.segments.final_until_s, max_frames=total)

    def finish(self) -> np.ndarray:
        if self.quiet is not None:
            self.quiet.finish()
        self._settle(self.recognizer.finish())
        end_s = self.recognizer.samples_pushed / SAMPLE_RATE
        self.blender.add(self.segments.finish(end_s))
        return self.blender.finish(num_frames_for_samples(self.recognizer.samples_pushed))
