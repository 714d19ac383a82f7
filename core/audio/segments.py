"""Phone spikes -> a contiguous timeline of openfacefx ``PhonemeSegment`` s (phones and silences).

Timing model (calibrated on espeak-ng speech whose phone timings are exact, checked on CMU ARCTIC;
see README_AUDIO.md): hama's CTC spike for a phone falls near the phone's END. So phone i ends at
``spike_i + boundary_offset_s`` and starts where phone i-1 ended, but lasts at most
``max_vowel_s`` / ``max_consonant_s``. A gap left before a phone becomes silence when it is at
least ``min_silence_s`` long (the mouth relaxes between phrases) and is otherwise absorbed into
the phone (no flapping shut between words). Long silences are emitted in pieces of
``silence_piece_s`` as soon as they are certain, so a live stream keeps moving during pauses.

Every decision depends only on the spikes, never on when they arrived, so a stream and a whole
file with the same spikes give the same segments.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from core.audio.phones import PhoneEvent

SILENCE = "sil"                     # openfacefx's silence phoneme
DIPHTHONG_SPLIT = 0.55              # first part's share of a diphthong (as openfacefx does)
DIPHTHONGS: dict[str, tuple[str, str]] = {
    "aɪ": ("a", "ɪ"), "aʊ": ("a", "ʊ"), "eɪ": ("e", "ɪ"), "oʊ": ("o", "ʊ"),
    "ɔɪ": ("ɔ", "ɪ"), "ɪə": ("ɪ", "ə"), "eə": ("e", "ə"),
}


@dataclass(frozen=True)
class TimingConfig:
    """How phone intervals are rebuilt from spikes (seconds)."""

    boundary_offset_s: float = 0.01  # phone end = spike time + this (calibration: README_AUDIO)
    max_vowel_s: float = 0.16        # longest vowel when nothing precedes it closely
    max_consonant_s: float = 0.10    # longest consonant likewise
    min_silence_s: float = 0.15      # shorter gaps are absorbed into the next phone
    min_silence_piece_s: float = 0.04  # a shorter silence remainder is absorbed into the phone
    silence_piece_s: float = 0.2     # long silences are emitted in pieces of this length
    split_diphthongs: bool = True    # aɪ -> a + ɪ at 55 % (openfacefx does so for ARPAbet)

    def __post_init__(self) -> None:
        if min(self.max_vowel_s, self.max_consonant_s, self.silence_piece_s) <= 0:
            raise ValueError("durations must be > 0")
        if self.min_silence_s < 0 or self.min_silence_piece_s < 0:
            raise ValueError("min_silence_s and min_silence_piece_s must be >= 0")

    @property
    def max_phone_s(self) -> float:
        return max(self.max_vowel_s, self.max_consonant_s)


def _is_vowel(symbol: str) -> bool:
    from openfacefx.ipa import is_ipa_vowel

    return is_ipa_vowel(symbol)


class SegmentBuilder:
    """Incrementally turns committed ``PhoneEvent`` s into contiguous segments from t = 0."""

    def __init__(self, config: TimingConfig = TimingConfig()) -> None:
        self.config = config
        self._end = 0.0            # end of the last emitted segment (= start of the next one)
        self._gap_start = 0.0      # where the current run of silence started (= last phone end)
        self._finished = False

    @property
    def final_until_s(self) -> float:
        """Segments are final and contiguous on [0, final_until_s); later ones start here."""
        return self._end

    def add(self, events: Iterable[PhoneEvent], committed_until_s: float) -> list:
        """Add phones (in time order) committed up to ``committed_until_s``; return new segments."""
        if self._finished:
            raise RuntimeError("SegmentBuilder.add() after finish()")
        out: list = []
        for event in events:
            out += self._add_phone(event)
        # No spike before committed_until_s is still to come, so no phone can start before
        # committed + offset - max_phone: silence up to there is certain once it is long enough.
        cfg = self.config
        certain = committed_until_s + cfg.boundary_offset_s - cfg.max_phone_s
        if certain - self._gap_start >= cfg.min_silence_s:
            out += self._silence_pieces(certain)
        return out

    def finish(self, end_s: float) -> list:
        """Close the timeline at ``end_s`` (the end of the audio) with a final silence."""
        if self._finished:
            return []
        self._finished = True
        out = self._silence_pieces(end_s)
        if end_s > self._end + 1e-9:
            out.append(self._segment(SILENCE, self._end, end_s))
            self._end = end_s
        return out

    # -- internals --------------------------------------------------------------------------- #

    def _segment(self, phoneme: str, start: float, end: float):
        from openfacefx.alignment import PhonemeSegment

        return PhonemeSegment(phoneme, float(start), float(end))

    def _silence_pieces(self, until: float) -> list:
        """Emit whole silence pieces of ``silence_piece_s`` that end no later than ``until``."""
        out = []
        piece = self.config.silence_piece_s
        while self._end + piece <= until + 1e-9:
            out.append(self._segment(SILENCE, self._end, self._end + piece))
            self._end += piece
        return out

    def _add_phone(self, event: PhoneEvent) -> list:
        cfg = self.config
        end = event.time_s + cfg.boundary_offset_s
        if end <= self._end + 1e-6:                 # spike inside what is already final: drop
            return []
        max_dur = cfg.max_vowel_s if _is_vowel(event.symbol) else cfg.max_consonant_s
        start = max(self._end, end - max_dur)
        out = []
        gap_total = start - self._gap_start
        if start > self._end:
            if gap_total >= cfg.min_silence_s and start - self._end >= cfg.min_silence_piece_s:
                out.append(self._segment(SILENCE, self._end, start))
            else:
                start = self._end                   # short gap: the phone absorbs it
        out += self._phone_segments(event.symbol, start, end)
        self._end = end
        self._gap_start = end
        return out

    def _phone_segments(self, symbol: str, start: float, end: float) -> list:
        parts = DIPHTHONGS.get(symbol) if self.config.split_diphthongs else None
        if not parts:
            return [self._segment(symbol, start, end)]
        cut = start + DIPHTHONG_SPLIT * (end - start)
        return [self._segment(parts[0], start, cut), self._segment(parts[1], cut, end)]
