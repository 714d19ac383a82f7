"""Audio files -> 16 kHz mono float32, streamed in blocks so an hour never sits in memory twice.

Decoders, in order:
1. ``soundfile`` (libsndfile): WAV (8/16/24/32-bit integer, 32/64-bit float), FLAC, OGG/Vorbis,
   Opus and MP3 (libsndfile >= 1.1), AIFF, ... Read block by block at the file's own rate.
2. the ffmpeg binary bundled with ``imageio-ffmpeg`` for anything else (M4A/AAC, video files ...),
   piped as raw float32 at 16 kHz mono.
Resampling uses ``soxr`` (a librosa dependency, no numba compilation) in streaming mode, so block
boundaries leave no seams. Multi-channel audio is averaged to mono.

Every failure a user can cause (missing, empty, unreadable, corrupt or undecodable files, NaN
samples) raises ``AudioLoadError`` with a message that says what to do.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from core.audio.constants import SAMPLE_RATE
from core.errors import UserInputError

DEFAULT_BLOCK_SECONDS: float = 10.0     # decode granularity; bounds memory for long recordings
FFMPEG_READ_BYTES: int = 1 << 20        # pipe read size for the ffmpeg fallback
_SUPPORTED_HINT = ("Supported: WAV, FLAC, OGG, MP3 and, through ffmpeg, most other audio/video "
                   "files. Convert it with e.g. `ffmpeg -i INPUT -ac 1 -ar 16000 out.wav`.")


class AudioLoadError(UserInputError):
    """An audio file could not be used; the message is meant for the user (a ValueError)."""


@dataclass(frozen=True)
class AudioInfo:
    """What is known about a file before decoding it all."""

    path: Path
    decoder: str                    # "soundfile" or "ffmpeg"
    sample_rate: int | None         # native rate (None when only ffmpeg knows it)
    channels: int | None
    duration_s: float | None        # None when unknown (ffmpeg fallback)
    format: str                     # e.g. "WAV/PCM_16", "MP3/MPEG_LAYER_III", "ffmpeg"


def _check_path(path: Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise AudioLoadError(f"Audio file not found: {path}. Check the path and try again.")
    if path.is_dir():
        raise AudioLoadError(f"{path} is a folder, not an audio file.")
    if not os.access(path, os.R_OK):
        raise AudioLoadError(f"No permission to read {path}. Check the file's permissions.")
    if path.stat().st_size == 0:
        raise AudioLoadError(f"Audio file {path} is empty (0 bytes). Record or export it again.")
    return path


def _open_soundfile(path: Path):
    """Open with libsndfile; None if libsndfile does not recognise or cannot decode the file."""
    import soundfile as sf

    try:
        return sf.SoundFile(str(path))
    except (RuntimeError, TypeError, ValueError, OSError):   # LibsndfileError is a RuntimeError
        return None


def _ffmpeg_exe() -> str | None:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception:                                         # not installed / no binary
        return shutil.which("ffmpeg")


def probe_audio(path: str | Path) -> AudioInfo:
    """Check that ``path`` is a decodable audio file and describe it (cheap: reads the header)."""
    path = _check_path(Path(path))
    f = _open_soundfile(path)
    if f is not None:
        with f:
            frames = f.frames if f.frames >= 0 else None
            duration = frames / f.samplerate if frames is not None else None
            return AudioInfo(path, "soundfile", int(f.samplerate), int(f.channels), duration,
                             f"{f.format}/{f.subtype}")
    if _ffmpeg_exe() is None:
        raise AudioLoadError(f"Could not decode {path}: not a format libsndfile reads and no "
                             f"ffmpeg is available. {_SUPPORTED_HINT}")
    return AudioInfo(path, "ffmpeg", None, None, None, "ffmpeg")


def _to_mono(block: np.ndarray) -> np.ndarray:
    """float32 [n, channels] -> float32 [n]."""
    return block[:, 0].copy() if block.shape[1] == 1 else block.mean(axis=1, dtype=np.float32)


def _check_finite(block: np.ndarray, path: Path) -> None:
    if not np.all(np.isfinite(block)):
        raise AudioLoadError(f"{path} contains NaN or infinite samples (a corrupt float file?). "
                             "Re-export the audio.")


def _iter_soundfile(f, path: Path, block_s: float) -> Iterator[np.ndarray]:
    import soxr

    sr = int(f.samplerate)
    block_frames = max(1, int(block_s * sr))
    resampler = None if sr == SAMPLE_RATE else soxr.ResampleStream(
        sr, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    with f:
        while True:
            try:
                raw = f.read(block_frames, dtype="float32", always_2d=True)
            except (RuntimeError, ValueError) as exc:
                raise AudioLoadError(f"Could not decode {path}: the file looks corrupt ({exc}). "
                                     f"{_SUPPORTED_HINT}") from exc
            last = raw.shape[0] < block_frames
            mono = _to_mono(raw)
            _check_finite(mono, path)
            if resampler is not None:
                mono = resampler.resample_chunk(mono, last=last)
            if mono.size:
                yield np.ascontiguousarray(mono, dtype=np.float32)
            if last:
                return


def _iter_ffmpeg(path: Path, block_s: float) -> Iterator[np.ndarray]:
    exe = _ffmpeg_exe()
    if exe is None:
        raise AudioLoadError(f"Could not decode {path}: unknown format and no ffmpeg available. "
                             f"{_SUPPORTED_HINT}")
    cmd = [exe, "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1",
           "-ar", str(SAMPLE_RATE), "-f", "f32le", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    block_bytes = max(4, int(block_s * SAMPLE_RATE) * 4)
    pending = b""
    try:
        assert proc.stdout is not None
        while True:
            chunk = proc.stdout.read(min(FFMPEG_READ_BYTES, block_bytes))
            if not chunk:
                break
            pending += chunk
            if len(pending) >= block_bytes:
                usable = len(pending) - len(pending) % 4
                block = np.frombuffer(pending[:usable], dtype="<f4").copy()
                pending = pending[usable:]
                _check_finite(block, path)
                yield block
        err = proc.stderr.read().decode("utf-8", "replace").strip() if proc.stderr else ""
        if proc.wait() != 0:
            detail = err.splitlines()[-1] if err else f"ffmpeg exit code {proc.returncode}"
            raise AudioLoadError(f"Could not decode {path}: {detail}. {_SUPPORTED_HINT}")
        usable = len(pending) - len(pending) % 4
        if usable:
            block = np.frombuffer(pending[:usable], dtype="<f4").copy()
            _check_finite(block, path)
            yield block
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def iter_audio_blocks(path: str | Path,
                      block_s: float = DEFAULT_BLOCK_SECONDS) -> Iterator[np.ndarray]:
    """Decode ``path`` block by block.

    Yields float32 [n] blocks of 16 kHz mono audio (about ``block_s`` seconds each; sizes vary at
    the end and around resampling). Memory use is O(block), independent of the file's length.
    Raises ``AudioLoadError`` (possibly after some blocks for a file corrupt in the middle), and
    for a file that decodes to no samples at all.
    """
    if not block_s > 0:
        raise ValueError("block_s must be > 0")
    path = _check_path(Path(path))
    f = _open_soundfile(path)
    blocks = _iter_soundfile(f, path, block_s) if f is not None else _iter_ffmpeg(path, block_s)
    total = 0
    for block in blocks:
        total += block.size
        yield block
    if total == 0:
        raise AudioLoadError(f"{path} contains no audio samples. Record or export it again.")


class StreamResampler:
    """Live input (e.g. a 48 kHz stereo microphone block) -> 16 kHz mono float32, seamlessly."""

    def __init__(self, input_rate: int) -> None:
        import soxr

        if input_rate <= 0:
            raise ValueError("input_rate must be > 0")
        self.input_rate = int(input_rate)
        self._stream = None if self.input_rate == SAMPLE_RATE else soxr.ResampleStream(
            self.input_rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")

    def push(self, block: np.ndarray, last: bool = False) -> np.ndarray:
        """float [n] or [n, channels] at ``input_rate`` -> float32 [m] at 16 kHz mono."""
        block = np.asarray(block, dtype=np.float32)
        mono = _to_mono(block) if block.ndim == 2 else block.reshape(-1)
        if self._stream is None:
            return np.ascontiguousarray(mono)
        return self._stream.resample_chunk(mono, last=last)


def load_audio(path: str | Path, max_duration_s: float | None = None) -> np.ndarray:
    """Decode a whole (short) file: float32 [n] at 16 kHz mono.

    For long recordings prefer ``iter_audio_blocks``; ``max_duration_s`` raises
    ``AudioLoadError`` instead of filling memory when a file is longer than expected.
    """
    blocks: list[np.ndarray] = []
    total = 0
    for block in iter_audio_blocks(path):
        blocks.append(block)
        total += block.size
        if max_duration_s is not None and total > max_duration_s * SAMPLE_RATE:
            raise AudioLoadError(f"{path} is longer than {max_duration_s:g} s; "
                                 "process it with the streaming API instead.")
    return np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
