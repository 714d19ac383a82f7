"""Audio loading: formats, rates, channels, streaming, and every bad input."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import soundfile as sf

from core.audio.constants import SAMPLE_RATE
from core.audio.loading import AudioLoadError, iter_audio_blocks, load_audio, probe_audio

TONE_HZ = 440.0


def _tone(rate: int, seconds: float = 1.0, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.5 * np.sin(2 * np.pi * TONE_HZ * t)
    return np.stack([mono * (1.0 - 0.3 * c / channels) for c in range(channels)], axis=1)


def _dominant_hz(y: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.argmax(spectrum) * SAMPLE_RATE / y.size)


@pytest.mark.parametrize("subtype", ["PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"])
def test_wav_sample_formats(tmp_path, subtype):
    path = tmp_path / f"tone_{subtype}.wav"
    sf.write(path, _tone(16000), 16000, subtype=subtype)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    assert abs(y.size - SAMPLE_RATE) <= 1
    assert abs(_dominant_hz(y) - TONE_HZ) < 3
    assert 0.3 < np.abs(y).max() <= 0.51


@pytest.mark.parametrize("rate", [8000, 11025, 22050, 44100, 48000, 96000])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_any_rate_and_channel_count(tmp_path, rate, channels):
    path = tmp_path / "tone.wav"
    sf.write(path, _tone(rate, 1.0, channels), rate, subtype="PCM_16")
    y = load_audio(path)
    assert abs(y.size - SAMPLE_RATE) <= 2
    assert abs(_dominant_hz(y) - TONE_HZ) < 3


@pytest.mark.parametrize("fmt,ext", [("FLAC", "flac"), ("OGG", "ogg"), ("MP3", "mp3")])
def test_compressed_formats(tmp_path, fmt, ext):
    path = tmp_path / f"tone.{ext}"
    try:
        sf.write(path, _tone(44100, 1.0, 2), 44100, format=fmt)
    except (sf.LibsndfileError, TypeError, ValueError) as exc:
        pytest.skip(f"libsndfile here cannot write {fmt}: {exc}")
    y = load_audio(path)
    assert abs(y.size - SAMPLE_RATE) < 0.1 * SAMPLE_RATE   # MP3 adds encoder padding
    assert abs(_dominant_hz(y) - TONE_HZ) < 3


def test_probe_reports_native_format(tmp_path):
    path = tmp_path / "x.wav"
    sf.write(path, _tone(22050, 0.5, 2), 22050, subtype="PCM_24")
    info = probe_audio(path)
    assert (info.sample_rate, info.channels, info.decoder) == (22050, 2, "soundfile")
    assert info.duration_s == pytest.approx(0.5)


def test_blocks_have_no_seams(tmp_path):
    """Streaming resampling in blocks equals resampling the whole signal."""
    import soxr

    rate = 44100
    x = _tone(rate, 3.0)[:, 0].astype(np.float32)
    path = tmp_path / "x.wav"
    sf.write(path, x, rate, subtype="FLOAT")
    blocks = list(iter_audio_blocks(path, block_s=0.37))
    assert len(blocks) > 5
    streamed = np.concatenate(blocks)
    whole = soxr.resample(x, rate, SAMPLE_RATE, quality="HQ")
    n = min(streamed.size, whole.size)
    assert abs(streamed.size - whole.size) <= 2
    assert np.max(np.abs(streamed[100:n - 100] - whole[100:n - 100])) < 1e-3


def test_hour_long_file_streams_in_bounded_memory(tmp_path):
    """An hour of 8 kHz 8-bit audio decodes block by block without holding the hour."""
    path = tmp_path / "hour.wav"
    with sf.SoundFile(path, "w", 8000, 1, subtype="PCM_U8") as f:
        minute = (0.1 * np.sin(np.arange(8000 * 60) * 0.3)).astype(np.float32)
        for _ in range(60):
            f.write(minute)
    tracemalloc.start()
    total = 0
    biggest = 0
    for block in iter_audio_blocks(path, block_s=10.0):
        total += block.size
        biggest = max(biggest, block.size)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert abs(total - 3600 * SAMPLE_RATE) <= 2
    assert biggest <= 11 * SAMPLE_RATE
    assert peak < 40e6          # an hour at 16 kHz float32 alone would be 230 MB


# --- bad input ------------------------------------------------------------------------------ #

def _expect_error(path, *words):
    with pytest.raises(AudioLoadError) as info:
        load_audio(path)
    message = str(info.value)
    for w in words:
        assert w.lower() in message.lower(), message
    return message


def test_missing_file(tmp_path):
    _expect_error(tmp_path / "nope.wav", "not found")


def test_directory(tmp_path):
    _expect_error(tmp_path, "folder")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    _expect_error(path, "empty")


def test_garbage_bytes(tmp_path):
    path = tmp_path / "noise.wav"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    _expect_error(path, "decode", "ffmpeg -i")


def test_text_file_named_mp3(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("this is not audio\n" * 50)
    _expect_error(path, "decode")


def test_truncated_wav_header(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, _tone(16000), 16000)
    bad = tmp_path / "truncated.wav"
    bad.write_bytes(good.read_bytes()[:30])
    _expect_error(bad)


def test_wav_without_samples(tmp_path):
    path = tmp_path / "zero.wav"
    sf.write(path, np.zeros((0, 1)), 16000)
    _expect_error(path, "no audio samples")


def test_nan_samples(tmp_path):
    path = tmp_path / "nan.wav"
    x = _tone(16000)[:, 0].astype(np.float32)
    x[1000] = np.nan
    sf.write(path, x, 16000, subtype="FLOAT")
    _expect_error(path, "NaN")


def test_unreadable_permissions(tmp_path):
    import os

    path = tmp_path / "locked.wav"
    sf.write(path, _tone(16000), 16000)
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as a user who can read anything (root)")
        _expect_error(path, "permission")
    finally:
        path.chmod(0o644)


def test_error_is_a_user_input_error():
    from core.errors import UserInputError

    assert issubclass(AudioLoadError, UserInputError) and issubclass(AudioLoadError, ValueError)


def test_ffmpeg_fallback_for_other_formats(tmp_path):
    """Formats libsndfile lacks (AAC in M4A) decode through the bundled ffmpeg."""
    import subprocess

    from core.audio.loading import _ffmpeg_exe

    exe = _ffmpeg_exe()
    if exe is None:
        pytest.skip("no ffmpeg binary")
    wav, m4a = tmp_path / "tone.wav", tmp_path / "tone.m4a"
    sf.write(wav, _tone(44100), 44100)
    subprocess.run([exe, "-y", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    y = load_audio(m4a)
    assert probe_audio(m4a).decoder == "ffmpeg"
    assert abs(y.size - SAMPLE_RATE) < 0.1 * SAMPLE_RATE
    assert abs(_dominant_hz(y) - TONE_HZ) < 3
    broken = tmp_path / "broken.m4a"
    broken.write_bytes(m4a.read_bytes()[:400])
    _expect_error(broken, "decode")
