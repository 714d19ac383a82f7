"""Lip sync without SyncNet: mouth aperture on the rendered frames against the speech.

The paper's LSE-D and LSE-C come from SyncNet (Wav2Lip's evaluation), whose weights cannot be had
here. The stand-in keeps their shape:

* ``mouth_aperture``: FaceMesh inner-lip gap (landmarks 13-14) divided by the face height
  (landmarks 10-152), per frame; NaN where FaceMesh finds no face.
* ``speech_envelope``: RMS of the 16 kHz audio in a window centred on each video frame, in dB,
  floored 40 dB below its peak.
* ``sync_offset``: Pearson correlation of aperture and envelope over lags of +-10 frames. The lag
  with the highest correlation is the audio-visual offset (SyncNet's offset, at which LSE-D is
  read); that correlation stands in for the sync quality, and peak minus median correlation over
  the lags for LSE-C (SyncNet's confidence is median minus minimum distance). A positive lag means
  the mouth moves after the sound.
* ``phone_apertures``: where phone labels are given, mean aperture in bilabials (p, b, m: lips
  closed) against open and open-mid vowels (a ɑ æ ʌ ɔ ɛ œ ...: jaw open), over the same frames of
  each phone as Audio2Exp's own measure (``core.audio.evaluation.phone_frames``). A talking head
  that closes its lips for /p b m/ has a closure ratio (bilabial / open) well below 1.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from core.audio.constants import FPS, SAMPLE_RATE
from core.audio.evaluation import BILABIALS, OPEN_VOWELS, phone_frames
from core.evaluation.config import SyncConfig
from core.face import topology as topo


# ----------------------------------------------------------------------------- the mouth
def aperture_from_landmarks(points: np.ndarray) -> float:
    """Inner-lip gap / face height from FaceMesh points [478, >=2] (pixels). Unitless."""
    height = float(np.linalg.norm(points[topo.FOREHEAD, :2] - points[topo.CHIN, :2]))
    gap = float(np.linalg.norm(points[topo.UPPER_LIP_INNER_MID, :2] - points[topo.LOWER_LIP_INNER_MID, :2]))
    return gap / max(height, 1e-6)


def face_landmarks(rgb: np.ndarray) -> np.ndarray | None:
    """FaceMesh points [478, 3] (pixels) of the largest face in uint8 RGB [H, W, 3], or None."""
    from core.preprocess.face_fit import _run_face_mesh

    faces = _run_face_mesh(np.ascontiguousarray(rgb), max_faces=1)
    return faces[0] if faces else None


def mouth_aperture(frames: Sequence[np.ndarray]) -> np.ndarray:
    """float64 [T] aperture per frame (NaN where no face is found)."""
    out = np.full(len(frames), np.nan)
    for k, frame in enumerate(frames):
        pts = face_landmarks(frame)
        if pts is not None:
            out[k] = aperture_from_landmarks(pts)
    return out


# ----------------------------------------------------------------------------- the speech
def speech_envelope(audio: np.ndarray, n_frames: int, config: SyncConfig = SyncConfig(),
                    sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """float64 [n_frames] envelope in dB (0 at the peak, floored at -envelope_floor_db).

    audio: float [n] mono at ``sample_rate``. Frame k covers [k/25, (k+1)/25) s; its window is
    centred on (k + 0.5) / 25 s.
    """
    audio = np.asarray(audio, np.float64).ravel()
    half = max(1, int(round(0.5 * config.envelope_window_s * sample_rate)))
    power = np.concatenate([[0.0], np.cumsum(audio * audio)])
    centres = ((np.arange(n_frames) + 0.5) * sample_rate / FPS).astype(np.int64)
    lo = np.clip(centres - half, 0, audio.size)
    hi = np.clip(centres + half, 0, audio.size)
    count = np.maximum(hi - lo, 1)
    rms = np.sqrt(np.maximum(power[hi] - power[lo], 0.0) / count)
    peak = max(float(rms.max()) if rms.size else 0.0, 1e-12)
    db = 20.0 * np.log10(np.maximum(rms, 1e-12) / peak)
    return np.maximum(db, -config.envelope_floor_db)


# ----------------------------------------------------------------------------- the offset
@dataclass(frozen=True)
class SyncResult:
    """Audio-visual offset of one clip.

    lag_frames:  best lag (frames, > 0: mouth after sound); None when too few frames
    lag_ms:      the same in milliseconds
    corr_at_lag: Pearson correlation at that lag (stand-in for LSE-D, higher is better)
    corr_at_zero: correlation with no shift
    confidence:  corr_at_lag - median correlation over all lags (stand-in for LSE-C)
    valid_frames: frames with an aperture
    """

    lag_frames: int | None
    lag_ms: float | None
    corr_at_lag: float | None
    corr_at_zero: float | None
    confidence: float | None
    valid_frames: int


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-12 else float("nan")


def lagged_correlations(mouth: np.ndarray, envelope: np.ndarray, max_lag: int,
                        min_pairs: int = 2) -> dict[int, float]:
    """{lag: corr(mouth[k], envelope[k - lag])} over the frames where both exist.

    mouth, envelope: float [T] (NaN in ``mouth`` = no face). Lags with fewer than ``min_pairs``
    valid pairs, or a constant signal, are left out.
    """
    n = min(len(mouth), len(envelope))
    mouth, envelope = np.asarray(mouth[:n], np.float64), np.asarray(envelope[:n], np.float64)
    out: dict[int, float] = {}
    for lag in range(-min(max_lag, n - 1), min(max_lag, n - 1) + 1):
        if lag >= 0:
            m, e = mouth[lag:], envelope[:n - lag]
        else:
            m, e = mouth[:n + lag], envelope[-lag:]
        ok = np.isfinite(m) & np.isfinite(e)
        if ok.sum() < min_pairs:
            continue
        c = _pearson(m[ok], e[ok])
        if np.isfinite(c):
            out[lag] = c
    return out


def sync_offset(mouth: np.ndarray, envelope: np.ndarray, config: SyncConfig = SyncConfig()) -> SyncResult:
    """Best lag and correlation of aperture [T] against envelope [T] (both at 25 fps)."""
    valid = int(np.isfinite(mouth).sum())
    corrs = lagged_correlations(mouth, envelope, config.max_lag_frames, config.min_pairs)
    if not corrs:
        return SyncResult(None, None, None, None, None, valid)
    lag = max(corrs, key=lambda k: (corrs[k], -abs(k)))
    best = corrs[lag]
    return SyncResult(int(lag), 1000.0 * lag / FPS, best, corrs.get(0),
                      best - float(np.median(list(corrs.values()))), valid)


# ----------------------------------------------------------------------------- phone labels
@dataclass(frozen=True)
class PhoneApertures:
    """Mean aperture in bilabials and open vowels of the clip, and bilabial / open."""

    bilabial: float | None
    open_vowel: float | None
    closure_ratio: float | None
    n_bilabials: int
    n_open_vowels: int


def read_phones(path: str | Path):
    """Phone intervals from a Praat TextGrid or ``start end phone`` text (ARPAbet or IPA).

    Returns a list of ``core.audio.evaluation.PhoneInterval`` (IPA symbol, start_s, end_s).
    Raises ``UserInputError`` when the file cannot be read or holds no phones.
    """
    from core.audio.evaluation import read_phone_alignment
    from core.errors import UserInputError

    try:
        phones = read_phone_alignment(path)
    except (OSError, UnicodeDecodeError, ValueError, IndexError) as exc:
        raise UserInputError(f"Cannot read phone labels from {path}: {exc}") from None
    if not phones:
        raise UserInputError(f"No phone intervals found in {path} (expected a Praat TextGrid with a "
                             "phone tier, or lines of 'start end phone' in seconds).")
    return phones


def phone_apertures(aperture: np.ndarray, phones: Sequence) -> PhoneApertures:
    """Bilabial vs open-vowel aperture. aperture: float [T] (NaN = no face); phones: intervals
    with ``.symbol`` (IPA) ``.start_s`` ``.end_s``; those past the clip are ignored."""
    def mean_over(symbols: frozenset) -> tuple[float | None, int]:
        picked = phone_frames(phones, symbols, len(aperture))
        if not picked:
            return None, 0
        vals = aperture[np.concatenate(picked)]
        vals = vals[np.isfinite(vals)]
        return (float(vals.mean()) if vals.size else None), len(picked)

    bil, n_bil = mean_over(BILABIALS)
    opn, n_open = mean_over(OPEN_VOWELS)
    ratio = bil / opn if bil is not None and opn is not None and opn > 1e-9 else None
    return PhoneApertures(bil, opn, ratio, n_bil, n_open)
