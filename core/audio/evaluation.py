"""Lip-sync metrics against phone alignments (used by tools/bench_audio.py and the tests).

- ``read_phone_alignment``: CMU ARCTIC ``start end phone`` text files and Praat TextGrids (long or
  short text format), ARPAbet or IPA labels -> ``PhoneInterval`` s with IPA symbols.
- ``frames_inside`` / ``phone_frames``: the video frames of a phone interval (shared with the
  rendered-clip lip-sync measure, core.evaluation.lipsync).
- ``jaw_ratio``: mean jawOpen over frames inside open vowels / mean over frames inside bilabials.
- ``reference_coefficients``: what our coarticulation gives for the hand-aligned phones, i.e. the
  output with perfect phone recognition and timing.
- ``xcorr_lag_s``: lag (1 ms resolution) that best aligns our curve with the reference; positive
  means ours is late.
- ``boundary_offsets_s``: at every hand-aligned boundary between a bilabial and a vowel, the time
  our jawOpen crosses half-way between its closed and open levels, minus the reference's crossing.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from core.audio.constants import FPS
from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS

# Vowels with the jaw clearly open: the open (and near-open) and open-mid rows of the IPA vowel
# chart, and the diphthongs that start there (symbols without stress or length marks); and the
# bilabials (lips closed).
OPEN_VOWELS = frozenset({"a", "ä", "æ", "ɐ", "ɑ", "ɒ", "ɶ", "ɛ", "œ", "ɜ", "ɞ", "ʌ", "ɔ",
                         "aɪ", "aʊ", "ɔɪ"})
BILABIALS = frozenset({"p", "b", "m"})
_SILENCE_LABELS = frozenset({"", "sil", "sp", "spn", "pau", "h#", "<sil>", "_"})
_ARPABET_EXTRA = {"AX": "ə", "AXR": "ɚ", "IX": "ɪ", "DX": "ɾ", "EN": "n", "EL": "l", "EM": "m",
                  "NX": "n", "Q": "ʔ", "H": "h", "UX": "u"}


@dataclass(frozen=True)
class PhoneInterval:
    """One aligned phone: IPA symbol (None for silence/pause) over [start_s, end_s)."""

    symbol: str | None
    start_s: float
    end_s: float


def base_symbol(symbol: str | None) -> str | None:
    """IPA symbol without stress, length and diacritics (``ˈɑː`` -> ``ɑ``)."""
    if symbol is None:
        return None
    s = "".join(ch for ch in unicodedata.normalize("NFD", symbol)
                if not unicodedata.combining(ch) and unicodedata.category(ch) != "Lm")
    return s or None


def _label_to_ipa(label: str) -> str | None:
    from openfacefx.phonemes import IPA_ALIASES

    label = label.strip()
    if label.lower() in _SILENCE_LABELS:
        return None
    arpa = re.fullmatch(r"([A-Za-z]{1,3})[0-2]?", label)
    if arpa:
        key = arpa.group(1).upper()
        if key in IPA_ALIASES or key in _ARPABET_EXTRA:
            return IPA_ALIASES.get(key, _ARPABET_EXTRA.get(key))
        if label.isupper():
            return None            # an upper-case non-ARPAbet annotation, e.g. praatio's "PT"
    return label


def _read_textgrid(text: str) -> list[tuple[float, float, str]]:
    if "xmin =" in text:                                       # long ("ooTextFile") format
        tiers = re.split(r"item \[\d+\]:", text)[1:]
        tier = next((t for t in tiers if re.search(r'name = "phon', t)), tiers[0] if tiers else "")
        return [(float(a), float(b), c) for a, b, c in
                re.findall(r'xmin = ([-\d.eE]+)\s*xmax = ([-\d.eE]+)\s*text = "([^"]*)"', tier)]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    out = []
    i = 0
    while i < len(lines):                                      # short format: one value per line
        if lines[i] == '"IntervalTier"':
            name = lines[i + 1].strip('"')
            count = int(lines[i + 4])
            rows = lines[i + 5:i + 5 + 3 * count]
            tier = [(float(rows[3 * k]), float(rows[3 * k + 1]), rows[3 * k + 2].strip('"'))
                    for k in range(count)]
            if name.startswith("phon") or not out:
                out = tier
            i += 5 + 3 * count
        else:
            i += 1
    return out


def read_phone_alignment(path: str | Path) -> list[PhoneInterval]:
    """Read a phone alignment (ARCTIC ``start end phone`` lines or a Praat TextGrid)."""
    text = Path(path).read_text(encoding="utf-8")
    if "TextGrid" in text[:200]:
        rows = _read_textgrid(text)
    else:
        rows = []
        for line in text.splitlines():
            parts = line.split()
            if len(parts) >= 3:
                rows.append((float(parts[0]), float(parts[1]), parts[2]))
    return [PhoneInterval(_label_to_ipa(label), a, b) for a, b, label in rows if b > a]


def frames_inside(interval, n_frames: int) -> np.ndarray:
    """Frames of a clip of ``n_frames`` that show a phone interval (``.start_s``, ``.end_s``).

    Frame k shows the instant k/25: the frames k with start <= k/25 < end, or, for an interval
    too short to hold one, the frame nearest its centre (rounded). Empty where that lies outside
    the clip (an interval past the clip's end is left out, not moved onto its last frame).
    """
    k0 = int(np.ceil(interval.start_s * FPS - 1e-9))
    k1 = int(np.ceil(interval.end_s * FPS - 1e-9))
    ks = np.arange(max(k0, 0), min(k1, n_frames))
    if ks.size == 0:
        centre = int(round(0.5 * (interval.start_s + interval.end_s) * FPS))
        if 0 <= centre < n_frames:
            ks = np.array([centre])
    return ks


def phone_frames(phones: Sequence, symbols: frozenset, n_frames: int) -> list[np.ndarray]:
    """``frames_inside`` of every phone whose base symbol is in ``symbols`` and that the clip
    shows (phones outside the clip are left out)."""
    picked = (frames_inside(p, n_frames) for p in phones if base_symbol(p.symbol) in symbols)
    return [ks for ks in picked if ks.size]


def jaw_ratio(coeffs: np.ndarray, phones: Sequence[PhoneInterval]) -> dict:
    """Mean jawOpen in open vowels, in bilabials, and their ratio. coeffs: [T, NUM_EXPRESSIONS]."""
    jaw = coeffs[:, EXPRESSION_INDEX["jawOpen"]]
    vowel = phone_frames(phones, OPEN_VOWELS, len(jaw))
    bilab = phone_frames(phones, BILABIALS, len(jaw))
    v = float(jaw[np.concatenate(vowel)].mean()) if vowel else float("nan")
    b = float(jaw[np.concatenate(bilab)].mean()) if bilab else float("nan")
    return {"open_vowel_jaw": v, "bilabial_jaw": b, "ratio": v / max(b, 1e-6),
            "n_open_vowels": len(vowel), "n_bilabials": len(bilab)}


def reference_segments(phones: Sequence[PhoneInterval], end_s: float | None = None) -> list:
    """Hand-aligned phones -> contiguous openfacefx segments (silence filled in), from t = 0."""
    from core.audio.segments import DIPHTHONGS, DIPHTHONG_SPLIT, SILENCE
    from core.audio.phones import canonical_symbol
    from openfacefx.alignment import PhonemeSegment

    out: list = []
    t = 0.0
    for p in sorted(phones, key=lambda q: q.start_s):
        if p.start_s > t + 1e-6:
            out.append(PhonemeSegment(SILENCE, t, p.start_s))
        start = max(t, p.start_s)
        if p.end_s <= start:
            continue
        sym = canonical_symbol(base_symbol(p.symbol) or "") if p.symbol else None
        if sym is None:
            out.append(PhonemeSegment(SILENCE, start, p.end_s))
        elif sym in DIPHTHONGS:
            cut = start + DIPHTHONG_SPLIT * (p.end_s - start)
            out += [PhonemeSegment(DIPHTHONGS[sym][0], start, cut),
                    PhonemeSegment(DIPHTHONGS[sym][1], cut, p.end_s)]
        else:
            out.append(PhonemeSegment(sym, start, p.end_s))
        t = p.end_s
    if end_s is not None and end_s > t + 1e-6:
        out.append(PhonemeSegment(SILENCE, t, end_s))
    return out


def reference_coefficients(phones: Sequence[PhoneInterval], n_frames: int,
                           blend_config=None) -> np.ndarray:
    """Coefficients our coarticulation gives for perfectly known phones: [n_frames, N]."""
    from core.audio.coarticulation import BlendConfig, StreamingBlender

    blender = StreamingBlender(blend_config or BlendConfig())
    blender.add(reference_segments(phones, end_s=n_frames / FPS))
    out = blender.finish(n_frames)
    assert out.shape == (n_frames, NUM_EXPRESSIONS)
    return out


def xcorr_lag_s(ours: np.ndarray, ref: np.ndarray, max_lag_s: float = 0.15) -> float:
    """Shift of ``ours`` relative to ``ref`` (seconds, > 0: ours late) maximising correlation.

    Both are [T] curves at 25 fps; they are linearly resampled to 1 ms first.
    """
    n = min(len(ours), len(ref))
    t = np.arange(n) / FPS
    fine = np.arange(0.0, t[-1], 0.001)
    a = np.interp(fine, t, ours[:n]) - np.mean(ours[:n])
    b = np.interp(fine, t, ref[:n]) - np.mean(ref[:n])
    max_lag = int(round(max_lag_s * 1000))
    best, best_lag = -np.inf, 0
    for lag in range(-max_lag, max_lag + 1):
        c = np.dot(a[lag:], b[:b.size - lag]) if lag >= 0 else np.dot(a[:lag], b[-lag:])
        c /= max(1, a.size - abs(lag))
        if c > best:
            best, best_lag = c, lag
    return best_lag / 1000.0


def _crossing(curve: np.ndarray, lo_t: float, hi_t: float, rising: bool) -> float | None:
    """Time in [lo_t, hi_t] where ``curve`` (25 fps) crosses half-way between its min and max."""
    t = np.arange(len(curve)) / FPS
    sel = (t >= lo_t) & (t <= hi_t)
    if sel.sum() < 2:
        return None
    c, tt = curve[sel], t[sel]
    level = 0.5 * (c.min() + c.max())
    if c.max() - c.min() < 0.05:
        return None
    for i in range(len(c) - 1):
        a, b = c[i] - level, c[i + 1] - level
        if (rising and a < 0 <= b) or (not rising and a > 0 >= b):
            return float(tt[i] + (tt[i + 1] - tt[i]) * a / (a - b))
    return None


def boundary_offsets_s(ours: np.ndarray, ref: np.ndarray, phones: Sequence[PhoneInterval],
                       half_window_s: float = 0.12) -> np.ndarray:
    """Per bilabial<->vowel boundary: our jawOpen half-way crossing minus the reference's.

    ``ours`` / ``ref``: [T, N] coefficients. Returns seconds, > 0 where ours changes late.
    """
    from openfacefx.ipa import is_ipa_vowel

    jaw = EXPRESSION_INDEX["jawOpen"]
    out = []
    ph = [p for p in phones if p.symbol]
    for a, b in zip(ph[:-1], ph[1:]):
        if abs(a.end_s - b.start_s) > 1e-3:
            continue
        sa, sb = base_symbol(a.symbol), base_symbol(b.symbol)
        if sa in BILABIALS and sb and is_ipa_vowel(sb):
            rising = True
        elif sb in BILABIALS and sa and is_ipa_vowel(sa):
            rising = False
        else:
            continue
        boundary = a.end_s
        tr = _crossing(ref[:, jaw], boundary - half_window_s, boundary + half_window_s, rising)
        if tr is None:
            continue
        to = _crossing(ours[:, jaw], tr - half_window_s, tr + half_window_s, rising)
        if to is not None:
            out.append(to - tr)
    return np.asarray(out)
