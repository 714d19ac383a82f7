"""Phone spikes -> a contiguous timeline of openfacefx ``PhonemeSegment`` s (phones and silences).

Timing model (see README_AUDIO.md for the calibration): hama's CTC spike for a phone falls near
the phone's END. So phone i ends at ``spike_i + boundary_offset_s`` and starts where phone i-1
ended, but lasts at most ``max_vowel_s`` / ``max_consonant_s`` and does not start inside a pause
(a quiet run found by ``activity.QuietTracker``). A gap before a phone becomes silence when it is
at least ``min_silence_s`` long or holds a pause; shorter gaps are absorbed into the phone (no
flapping shut between words). Silences are cut into pieces of ``silence_piece_s`` from their
start, emitted as soon as they are certain, so a live stream keeps moving during pauses.

Decisions depend only on the spikes and the audio, never on when they arrived, so a live stream
and a whole file with the same spikes give the same segments.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from core.audio.activity import QuietRun, QuietView
from core.audio.phones import PhoneEvent

SILENCE = "sil"                     # openfacefx's silence phoneme
DIPHTHONG_SPLIT = 0.55              # first part's share of a diphthong (as openfacefx does)
DIPHTHONGS: dict[str, tuple[str, str]] = {
    "aɪ": ("a", "ɪ"), "aʊ": ("a", "ʊ"), "eɪ": ("e", "ɪ"), "oʊ": ("o", "ʊ"),
    "ɔɪ": ("ɔ", "ɪ"), "ɪə": ("ɪ", "ə"), "eə": ("e", "ə"),
}
_EPS = 1e-9


@dataclass(frozen=True)
class TimingConfig:
    """How phone intervals are rebuilt from spikes (seconds)."""

    boundary_offset_s: float = 0.01  # phone end = spike time + this
    max_vowel_s: float = 0.12        # longest vowel when nothing precedes it closely
    max_consonant_s: float = 0.08    # longest consonant likewise
    min_phone_s: float = 0.03        # a pause end never squeezes a phone shorter than this
    min_silence_s: float = 0.1       # shorter gaps (with no pause in them) join the next phone
    min_silence_piece_s: float = 0.04  # a shorter silence remainder is absorbed into the phone
    silence_piece_s: float = 0.08    # silences are emitted in pieces of this length
    pause_spike_margin_s: float = 0.08  # spikes may come this late after the sound stops
    split_diphthongs: bool = True    # aɪ -> a + ɪ at 55 % (openfacefx does so for ARPAbet)

    def __post_init__(self) -> None:
        if min(self.max_vowel_s, self.max_consonant_s, self.silence_piece_s) <= 0:
            raise ValueError("durations must be > 0")
        if min(self.min_silence_s, self.min_silence_piece_s, self.min_phone_s,
               self.pause_spike_margin_s) < 0:
            raise ValueError("minimum durations and margins must be >= 0")

    @property
    def max_phone_s(self) -> float:
        return max(self.max_vowel_s, self.max_consonant_s)


def _is_vowel(symbol: str) -> bool:
    from openfacefx.ipa import is_ipa_vowel

    return is_ipa_vowel(symbol)


def _min_pause(quiet: QuietView | None) -> float:
    """Length from which a quiet run counts as a pause (inf without a tracker)."""
    return float("inf") if quiet is None else quiet.min_quiet_s


def _segment(phoneme: str, start: float, end: float):
    from openfacefx.alignment import PhonemeSegment

    return PhonemeSegment(phoneme, float(start), float(end))


class SegmentBuilder:
    """Incrementally turns committed ``PhoneEvent`` s into contiguous segments from t = 0."""

    def __init__(self, config: TimingConfig = TimingConfig()) -> None:
        self.config = config
        self._end = 0.0            # end of the last emitted segment (= start of the next one)
        self._gap_start = 0.0      # where the current silence/gap began (= last phone's end)
        self._finished = False

    @property
    def final_until_s(self) -> float:
        """Segments are final and contiguous on [0, final_until_s); later ones start here."""
        return self._end

    def add(self, events: Iterable[PhoneEvent], committed_until_s: float,
            quiet: QuietView | None = None) -> list:
        """Add phones (time-ordered) committed up to ``committed_until_s``; return new segments.

        ``quiet`` (optional) is the pauses known at the end of the recogniser window that
        committed these phones (``QuietTracker.view``).
        """
        if self._finished:
            raise RuntimeError("SegmentBuilder.add() after finish()")
        cfg = self.config
        out: list = []
        for event in events:
            out += self._add_phone(event, quiet)
        # No spike before committed_until_s is still to come, so no phone can start before
        # committed + offset - max_phone: the gap up to there is certain.
        certain = committed_until_s + cfg.boundary_offset_s - cfg.max_phone_s
        if certain - self._gap_start >= cfg.min_silence_s:
            out += self._silence_pieces(certain)
        # A pause seen in the audio is silence as soon as the phones before it are committed.
        if quiet is not None:
            run = quiet.current or (quiet.runs[-1] if quiet.runs else None)
            if (run is not None and run.end_s > self._end
                    and committed_until_s >= run.start_s + cfg.pause_spike_margin_s):
                out += self._silence_pieces(run.end_s)
        return out

    def finish(self, end_s: float) -> list:
        """Close the timeline at ``end_s`` (the end of the audio) with a final silence."""
        if self._finished:
            return []
        self._finished = True
        out = self._silence_pieces(end_s)
        if end_s > self._end + _EPS:
            out.append(_segment(SILENCE, self._end, end_s))
            self._end = end_s
        return out

    # -- internals --------------------------------------------------------------------------- #

    def _silence_pieces(self, until: float) -> list:
        """Emit the whole silence pieces (anchored at the gap's start) that end by ``until``."""
        out = []
        piece = self.config.silence_piece_s
        while True:
            k = round((self._end - self._gap_start) / piece)
            nxt = self._gap_start + (k + 1) * piece
            if nxt > until + _EPS:
                return out
            out.append(_segment(SILENCE, self._end, nxt))
            self._end = nxt

    @staticmethod
    def _pause_overlap(quiet: QuietView | None, a: float, b: float) -> float:
        """Longest overlap of a pause (quiet run) with [a, b]."""
        if quiet is None:
            return 0.0
        runs: list[QuietRun] = list(quiet.runs)
        if quiet.current is not None:
            runs.append(quiet.current)
        return max((min(r.end_s, b) - max(r.start_s, a) for r in runs), default=0.0)

    @staticmethod
    def _last_pause_end(quiet: QuietView | None, before: float) -> float:
        """End of the latest closed pause that ended by ``before`` (0 if none)."""
        if quiet is None:
            return 0.0
        ends = [r.end_s for r in quiet.runs if r.end_s <= before + _EPS]
        return max(ends, default=0.0)

    def _add_phone(self, event: PhoneEvent, quiet: QuietView | None) -> list:
        cfg = self.config
        end = event.time_s + cfg.boundary_offset_s
        if end <= self._end + cfg.min_phone_s * 0.5:  # inside what is already final: drop
            return []
        max_dur = cfg.max_vowel_s if _is_vowel(event.symbol) else cfg.max_consonant_s
        start = max(end - max_dur, self._last_pause_end(quiet, event.time_s))
        start = max(self._end, min(start, end - cfg.min_phone_s))
        out = []
        if start > self._end + _EPS:
            silent = (start - self._gap_start >= cfg.min_silence_s
                      or self._pause_overlap(quiet, self._gap_start, start)
                      >= _min_pause(quiet) - _EPS)
            if silent:
                out += self._silence_pieces(start)
                if start - self._end >= cfg.min_silence_piece_s - _EPS:
                    out.append(_segment(SILENCE, self._end, start))
                    self._end = start
            start = self._end                         # the phone absorbs what is left
        out += self._phone_segments(event.symbol, start, end)
        self._end = end
        self._gap_start = end
        return out

    def _phone_segments(self, symbol: str, start: float, end: float) -> list:
        parts = DIPHTHONGS.get(symbol) if self.config.split_diphthongs else None
        if not parts:
            return [_segment(symbol, start, end)]
        cut = start + DIPHTHONG_SPLIT * (end - start)
        return [_segment(parts[0], start, cut), _segment(parts[1], cut, end)]
