"""Audio2Exp: silence, frame bookkeeping, chunk invariance, stream vs whole file, latency."""
from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core.audio.audio2exp import (FILE_CONFIG, LIVE_CONFIG, Audio2Exp, ExpressionFrame,
                                  coefficients_for_file)
from core.audio.backends import ExpressionBackend, PhonemeBackend
from core.audio.constants import FPS, SAMPLE_RATE, num_frames_for_samples
from core.face.arkit import EXPRESSION_INDEX, MOUTH_NAMES, NUM_EXPRESSIONS

MOUTH = [EXPRESSION_INDEX[n] for n in MOUTH_NAMES]
JAW = EXPRESSION_INDEX["jawOpen"]
CHUNK_20MS = SAMPLE_RATE // 50


def _stream(y: np.ndarray, chunk: int | None, config=LIVE_CONFIG) -> np.ndarray:
    a2e = Audio2Exp(config=config)
    frames: list[ExpressionFrame] = []
    if chunk is None:
        frames += a2e.push(y)
    else:
        for i in range(0, y.size, chunk):
            frames += a2e.push(y[i:i + chunk])
    frames += a2e.finish()
    assert [f.index for f in frames] == list(range(len(frames)))
    return np.stack([f.coefficients for f in frames])


@pytest.mark.parametrize("name,signal", [
    ("digital silence", np.zeros(2 * SAMPLE_RATE, np.float32)),
    ("-60 dBFS noise", (1e-3 * np.random.default_rng(1).standard_normal(2 * SAMPLE_RATE))
     .astype(np.float32)),
])
def test_silence_gives_closed_relaxed_mouth(name, signal):
    out = _stream(signal, 3200)
    assert out.shape == (50, NUM_EXPRESSIONS) and out.dtype == np.float32
    assert np.abs(out).max() < 1e-6, name


def test_speech_moves_the_mouth_and_rests_in_pauses(file_coefficients, sample_speech):
    c = file_coefficients
    assert c.shape == (num_frames_for_samples(sample_speech.size), NUM_EXPRESSIONS)
    assert 0.0 <= c.min() and c.max() <= 1.0
    assert c[:, JAW].max() > 0.4                       # the jaw opens for vowels
    non_mouth = [i for i in range(NUM_EXPRESSIONS) if i not in MOUTH]
    assert np.abs(c[:, non_mouth]).max() == 0.0         # audio drives only jaw/mouth/cheeks
    assert np.abs(c[:2, MOUTH]).max() < 0.05            # the clip starts with 0.13 s of silence


def test_frame_count_and_empty_pushes():
    a2e = Audio2Exp()
    assert a2e.push(np.zeros(0, np.float32)) == []
    a2e.push(np.zeros(1000, np.float32))
    frames = a2e.finish()
    assert a2e.frames_emitted == num_frames_for_samples(1000) == 2
    assert frames[-1].time_s == pytest.approx(1 / FPS)
    assert a2e.finish() == []
    with pytest.raises(RuntimeError):
        a2e.push(np.zeros(10, np.float32))


def test_integer_samples_are_scaled(sample_speech):
    as_int16 = np.round(sample_speech[:16000] * 32767).astype(np.int16)
    a, b = Audio2Exp(config=FILE_CONFIG), Audio2Exp(config=FILE_CONFIG)
    fa = np.stack([f.coefficients for f in a.push(as_int16) + a.finish()])
    fb = np.stack([f.coefficients for f in b.push(as_int16 / 32768.0) + b.finish()])
    np.testing.assert_allclose(fa, fb, atol=1e-4)


def test_bad_chunks_rejected():
    a2e = Audio2Exp()
    with pytest.raises(ValueError):
        a2e.push(np.zeros((10, 2), np.float32))
    with pytest.raises(ValueError):
        a2e.push(np.array([0.0, np.nan], np.float32))


def test_chunking_does_not_change_the_output(sample_speech):
    """Windows sit on a grid in audio time, so any chunking gives identical frames."""
    y = sample_speech
    by_20ms = _stream(y, CHUNK_20MS)
    whole = _stream(y, None)
    odd = _stream(y, 7919)
    np.testing.assert_allclose(by_20ms, whole, atol=1e-6)
    np.testing.assert_allclose(odd, whole, atol=1e-6)


def test_live_stream_matches_whole_file_after_warm_up(sample_speech, file_coefficients):
    """Live settings (short windows, 20 ms chunks) vs whole-file settings: small differences."""
    live = _stream(sample_speech, CHUNK_20MS)
    ref = file_coefficients
    assert live.shape == ref.shape
    warm = int(0.5 * FPS)                        # the first window has little left context
    diff = np.abs(live[warm:] - ref[warm:])
    assert diff.mean() < 0.03, diff.mean()                                # measured 0.008
    assert np.corrcoef(live[warm:, JAW], ref[warm:, JAW])[0, 1] > 0.75   # measured 0.84


def test_live_backlog_is_bounded(sample_speech):
    """Algorithmic latency: frames never lag the audio pushed by more than 0.4 s."""
    a2e = Audio2Exp(config=LIVE_CONFIG)
    worst = 0.0
    for i in range(0, sample_speech.size, CHUNK_20MS):
        a2e.push(sample_speech[i:i + CHUNK_20MS])
        worst = max(worst, a2e.backlog_s)
    a2e.finish()
    assert worst <= 0.4, worst


def test_file_formats_agree(tmp_path, sample_speech, file_coefficients):
    """A 44.1 kHz stereo FLAC of the same speech gives nearly the same coefficients."""
    import soxr

    up = soxr.resample(sample_speech, SAMPLE_RATE, 44100)
    path = tmp_path / "speech.flac"
    sf.write(path, np.stack([up, 0.8 * up], axis=1), 44100)
    c = coefficients_for_file(path)
    n = min(len(c), len(file_coefficients))
    assert abs(len(c) - len(file_coefficients)) <= 1
    assert np.abs(c[:n] - file_coefficients[:n]).mean() < 0.03


def test_progress_reaches_one(sample_speech_path):
    seen: list[float] = []
    coefficients_for_file(sample_speech_path, progress=seen.append)
    assert seen and seen[-1] == 1.0 and all(0 <= p <= 1 for p in seen)


class _ConstantBackend:
    """A stand-in model: every frame opens the jaw half-way (shows the plug-in seam)."""

    name = "constant"

    def __init__(self) -> None:
        self.samples = 0
        self.emitted = 0

    def _rows(self, n_frames: int) -> np.ndarray:
        rows = np.zeros((max(0, n_frames - self.emitted), NUM_EXPRESSIONS), np.float32)
        rows[:, JAW] = 0.5
        self.emitted += rows.shape[0]
        return rows

    def push(self, samples: np.ndarray) -> np.ndarray:
        self.samples += samples.size
        return self._rows(self.samples // 640)

    def finish(self) -> np.ndarray:
        return self._rows(num_frames_for_samples(self.samples))


def test_backends_plug_in():
    backend = _ConstantBackend()
    assert isinstance(backend, ExpressionBackend)
    assert isinstance(PhonemeBackend(FILE_CONFIG), ExpressionBackend)
    a2e = Audio2Exp(backend=backend)
    frames = a2e.push(np.zeros(1500, np.float32)) + a2e.finish()
    assert [f.index for f in frames] == [0, 1, 2]
    assert all(f.coefficients[JAW] == 0.5 for f in frames)
