"""hama's CTC phoneme recogniser run on a fixed grid of sliding windows.

hama's acoustic model sees a whole window at once (it is not causal), so a live stream is decoded
in overlapping windows: a window of ``window_s`` seconds ending at every grid point
``T = k * hop_s``. Window k *commits* the phone spikes that fall in [T - hop_s - right_context_s,
T - right_context_s); spikes closer than ``right_context_s`` to the window's end are left to the
next window, which sees more of their future. Because windows are placed on a grid in audio time,
not where chunks happen to end, the output does not depend on how the audio was chunked.

A CTC "spike" is the output frame (every 20 ms) where a phone token is first emitted. On CMU
ARCTIC, praatio and espeak-ng speech it falls close to the END of the phone (median within 20 ms;
see README_AUDIO.md), which ``segments`` uses to rebuild phone intervals.
"""
from __future__ import annotations

import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from core.audio.constants import SAMPLE_RATE

ASR_FRAME_SAMPLES: int = 320      # hama output frame: 2 x 160-sample STFT hop = 20 ms
ASR_FRAME_S: float = ASR_FRAME_SAMPLES / SAMPLE_RATE
DUPLICATE_WINDOW_S: float = 0.04  # same phone re-emitted this close across a commit seam: dropped
BILABIAL_SYMBOLS = frozenset("pbm")  # openfacefx IPA symbols that close the lips

# hama tokens outside openfacefx's IPA table, rewritten to the nearest symbol it knows.
_TOKEN_REWRITES: dict[str, str] = {
    "β": "b", "ʙ": "b", "ɓ": "b", "ɸ": "p",      # bilabial fricative / trill / implosive
    "ɗ": "d", "ɮ": "l", "ʂ": "ʃ", "ʐ": "ʒ", "ɴ": "ŋ", "ħ": "h", "ʏ": "y", "ẑ": "z",
    "ɯi": "i", "ja": "a", "je": "e", "jo": "o", "ju": "u", "jʌ": "ʌ",
    "wa": "a", "we": "e", "wi": "i", "wʌ": "ʌ",
}


@dataclass(frozen=True)
class PhoneEvent:
    """One recognised phone: its CTC spike time (seconds from stream start) and IPA symbol."""

    time_s: float
    symbol: str


@dataclass(frozen=True)
class WindowCommit:
    """What one recogniser window settled: its phones, and up to when the phones are final."""

    events: tuple[PhoneEvent, ...]
    committed_until_s: float       # no phone spike earlier than this is still to come
    audio_until_s: float           # the window's end (audio seen when deciding)


@dataclass(frozen=True)
class RecognizerConfig:
    """Sliding-window decoding. Times are rounded to the 20 ms ASR frame.

    Cost is about (window_s / hop_s) * 0.05 s of CPU per second of audio on this 2-core machine;
    latency added to a live stream is about right_context_s + hop_s / 2 + one window's run time.
    """

    window_s: float = 1.2          # audio per hama run (left context = window - hop - right)
    hop_s: float = 0.08            # grid step between runs
    right_context_s: float = 0.1   # future audio a spike needs before it is committed
    # A bilabial the argmax path missed: where the posterior mass of /p b m/ peaks at least this
    # high in a frame whose best token is no bilabial and no vowel, and no bilabial is emitted
    # within ``bilabial_rescue_span_s``, that frame emits the likeliest bilabial instead.
    # None: plain argmax decoding (hama's own).
    bilabial_rescue: float | None = 0.15
    bilabial_rescue_span_s: float = 0.06

    def __post_init__(self) -> None:
        for name in ("window_s", "hop_s", "right_context_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if self.bilabial_rescue is not None and not 0.0 < self.bilabial_rescue <= 1.0:
            raise ValueError("bilabial_rescue must be in (0, 1] or None")
        if self.hop_s < ASR_FRAME_S:
            raise ValueError(f"hop_s must be at least one ASR frame ({ASR_FRAME_S} s)")
        if self.hop_samples + self.right_samples > self.window_samples:
            raise ValueError("window_s must be >= hop_s + right_context_s")

    @staticmethod
    def _frames(seconds: float) -> int:
        return int(round(seconds / ASR_FRAME_S)) * ASR_FRAME_SAMPLES

    @property
    def window_samples(self) -> int:
        return self._frames(self.window_s)

    @property
    def hop_samples(self) -> int:
        return self._frames(self.hop_s)

    @property
    def right_samples(self) -> int:
        return self._frames(self.right_context_s)


LIVE_RECOGNIZER = RecognizerConfig(window_s=0.6, hop_s=0.08, right_context_s=0.06)
FILE_RECOGNIZER = RecognizerConfig(window_s=8.0, hop_s=6.0, right_context_s=1.0)


@lru_cache(maxsize=None)
def canonical_symbol(token: str) -> str | None:
    """hama token -> an IPA symbol in openfacefx's ``IPA_MAPPING``, or None for non-phones.

    Stress, length, tone and diacritic marks are dropped (they come as separate tokens or as
    combining characters); glide+vowel tokens (``ja``, ``wi``) keep their vowel; the few symbols
    openfacefx lacks are rewritten to their nearest neighbour (``β`` -> ``b``).
    """
    from openfacefx.ipa import IPA_MAPPING

    if not token or token.startswith("<"):
        return None
    token = _TOKEN_REWRITES.get(token, token)
    base = "".join(ch for ch in unicodedata.normalize("NFD", token)
                   if not unicodedata.combining(ch) and unicodedata.category(ch) != "Lm")
    base = _TOKEN_REWRITES.get(base, base)
    if not base:
        return None
    key = IPA_MAPPING.normalize(base) if IPA_MAPPING.normalize else base
    return base if key in IPA_MAPPING.rows else None


_MODEL_LOCK = threading.Lock()
_RUN_LOCK = threading.Lock()      # the native engine is not documented as thread-safe
_MODEL = None


def shared_asr_model():
    """The process-wide hama ``ASRModel`` (weights ship in the package; loads in ~20 ms)."""
    global _MODEL
    with _MODEL_LOCK:
        if _MODEL is None:
            from hama import ASRModel

            _MODEL = ASRModel()
        return _MODEL


class _SampleBuffer:
    """Append-only 16 kHz buffer that keeps only the tail still needed (O(window) memory)."""

    def __init__(self) -> None:
        self._data = np.zeros(SAMPLE_RATE * 4, dtype=np.float32)
        self._len = 0
        self.start = 0            # absolute index of _data[0]

    @property
    def end(self) -> int:
        """Absolute index one past the last sample pushed."""
        return self.start + self._len

    def append(self, samples: np.ndarray) -> None:
        need = self._len + samples.size
        if need > self._data.size:
            grown = np.zeros(max(need, 2 * self._data.size), dtype=np.float32)
            grown[:self._len] = self._data[:self._len]
            self._data = grown
        self._data[self._len:need] = samples
        self._len = need

    def slice(self, a: int, b: int) -> np.ndarray:
        """Samples [a, b) in absolute indices (a >= start)."""
        return self._data[a - self.start:b - self.start]

    def drop_before(self, a: int) -> None:
        """Forget samples before absolute index ``a``."""
        k = min(max(0, a - self.start), self._len)
        if k:
            self._data[:self._len - k] = self._data[k:self._len]
            self._len -= k
            self.start += k


def frame_posteriors(model, window: np.ndarray) -> np.ndarray:
    """hama's per-frame token posteriors for float32 [n] 16 kHz audio -> float32 [F, tokens]
    (one row per 20 ms output frame), after its decoder's temperature and blank bias, so that
    their argmax is the frame path hama's own ``transcribe_waveform`` decodes.

    Reads the acoustic model's log-probabilities through the pinned hama 1.7.0 session (its
    public call returns only the argmax path); ``tests/audio`` holds the two paths equal."""
    wav = np.ascontiguousarray(window, dtype=np.float32).reshape(1, -1)
    with _RUN_LOCK:
        log_probs, lengths = model.session.run(
            [model._log_probs_output_name, model._out_lengths_output_name],
            {model._waveform_input_name: wav, model._waveform_lengths_input_name: np.array([wav.shape[1]], np.int64)})
    valid = max(0, min(int(np.asarray(lengths).reshape(-1)[0]), log_probs.shape[1]))
    z = np.asarray(log_probs[0, :valid], np.float64)
    cfg = model.decode_cfg
    if cfg.temperature > 0.0:
        z = z / cfg.temperature
    z[:, model.blank_id] += cfg.blank_bias
    if model.unk_id is not None:
        z[:, model.unk_id] += cfg.unk_bias
    z -= z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


@lru_cache(maxsize=4)
def _token_classes(tokens: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Masks over hama's tokens: (bilabials /p b m/ and their variants, vowels)."""
    from openfacefx.ipa import is_ipa_vowel

    symbols = [canonical_symbol(t) for t in tokens]
    bilabial = np.array([s is not None and s[0] in BILABIAL_SYMBOLS for s in symbols])
    vowel = np.array([s is not None and bool(is_ipa_vowel(s)) for s in symbols])
    return bilabial, vowel


def rescue_bilabials(post: np.ndarray, bilabial: np.ndarray, vowel: np.ndarray, threshold: float,
                     span_frames: int) -> np.ndarray:
    """Best token per frame from posteriors float32 [F, tokens], with missed bilabials restored:
    a frame where the /p b m/ tokens' summed probability (``bilabial``: bool [tokens]) peaks at
    ``threshold`` or more, whose best token is no vowel (``vowel``: bool [tokens]), and with no
    bilabial the best token within ``span_frames``, gets its likeliest bilabial. -> int [F]"""
    best = post.argmax(axis=1)
    mass = post[:, bilabial].sum(axis=1)
    emitted = bilabial[best]
    bilabial_ids = np.flatnonzero(bilabial)
    out = best.copy()
    for f in range(len(mass)):
        left = mass[f - 1] if f > 0 else -1.0
        right = mass[f + 1] if f + 1 < len(mass) else -1.0
        if mass[f] < threshold or mass[f] < left or mass[f] <= right:
            continue                                  # not a peak above the threshold
        if vowel[best[f]] or emitted[max(0, f - span_frames):f + span_frames + 1].any():
            continue
        out[f] = bilabial_ids[post[f, bilabial_ids].argmax()]
        emitted[f] = True
    return out


def frame_token_ids(model, window: np.ndarray, config: "RecognizerConfig") -> list[int]:
    """The best token per 20 ms frame of ``window`` (float32 [n], 16 kHz), with the bilabial
    rescue of ``config`` (``RecognizerConfig.bilabial_rescue``).

    A CTC recogniser often hears a short /p b m/ as its neighbour (/t/, /f/) or leaves it under
    the blank, yet still gives the bilabials a good share of that frame's probability. The lips'
    closure is the mouth shape viewers miss first, so such a peak is honoured."""
    if config.bilabial_rescue is None:
        with _RUN_LOCK:
            return list(model.transcribe_waveform(window, SAMPLE_RATE).frame_token_ids)
    bilabial, vowel = _token_classes(tuple(model.decoder_tokens))
    span = max(1, int(round(config.bilabial_rescue_span_s / ASR_FRAME_S)))
    return rescue_bilabials(frame_posteriors(model, window), bilabial, vowel, config.bilabial_rescue, span).tolist()


class WindowedPhoneRecognizer:
    """Streaming phone recogniser: ``push`` 16 kHz audio, get committed ``PhoneEvent`` s."""

    def __init__(self, config: RecognizerConfig = LIVE_RECOGNIZER, model=None) -> None:
        self.config = config
        self._model = model
        self._buf = _SampleBuffer()
        self._next_end = config.hop_samples      # absolute sample where the next window ends
        self._committed = 0                      # spikes before this sample are final
        self._last: PhoneEvent | None = None
        self.windows_run = 0

    @property
    def model(self):
        if self._model is None:
            self._model = shared_asr_model()
        return self._model

    @property
    def committed_until_s(self) -> float:
        """Every spike earlier than this time has been returned."""
        return self._committed / SAMPLE_RATE

    @property
    def samples_pushed(self) -> int:
        return self._buf.end

    def push(self, samples: np.ndarray) -> list[WindowCommit]:
        """Append float32 [n] audio; return one ``WindowCommit`` per window it completes."""
        self._buf.append(np.asarray(samples, dtype=np.float32).reshape(-1))
        commits: list[WindowCommit] = []
        cfg = self.config
        while self._buf.end >= self._next_end:
            end = self._next_end
            events = self._run(max(0, end - cfg.window_samples), end, end - cfg.right_samples)
            commits.append(WindowCommit(tuple(events), self.committed_until_s,
                                        end / SAMPLE_RATE))
            self._next_end += cfg.hop_samples
            self._buf.drop_before(self._next_end - cfg.window_samples)
        return commits

    def finish(self) -> WindowCommit:
        """Decode the tail (a last window ending at the end of the audio) and commit it all."""
        end = self._buf.end
        events: list[PhoneEvent] = []
        if end > self._committed:
            start = max(self._buf.start, end - self.config.window_samples)
            events = self._run(start, end, end)
        return WindowCommit(tuple(events), self.committed_until_s, end / SAMPLE_RATE)

    def _run(self, start: int, end: int, commit_to: int) -> list[PhoneEvent]:
        """Decode samples [start, end); commit spikes in [self._committed, commit_to)."""
        if commit_to <= self._committed:
            return []
        window = self._buf.slice(start, end)
        self.windows_run += 1
        frame_tokens = frame_token_ids(self.model, window, self.config)
        tokens = self.model.decoder_tokens
        events: list[PhoneEvent] = []
        prev = -1
        for frame, token_id in enumerate(frame_tokens):
            if token_id == prev:
                continue
            prev = token_id
            symbol = canonical_symbol(tokens[token_id]) if 0 <= token_id < len(tokens) else None
            if symbol is None:
                continue
            at = start + frame * ASR_FRAME_SAMPLES
            if not (self._committed <= at < commit_to):
                continue
            event = PhoneEvent(at / SAMPLE_RATE, symbol)
            if (self._last is not None and self._last.symbol == symbol
                    and event.time_s - self._last.time_s <= DUPLICATE_WINDOW_S + 1e-9):
                continue                          # the same spike seen again across the seam
            events.append(event)
            self._last = event
        self._committed = commit_to
        return events
