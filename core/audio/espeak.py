"""Synthetic speech with exact phone timings from libespeak-ng (tests and benchmarks only).

``libespeak-ng.so.1`` (Debian ``libespeak-ng1``) reports a phoneme event, with its sample position,
for every phone it synthesises; through ctypes we get the audio and the true phone intervals.
Nothing in the program depends on it: ``available()`` is False when the library is missing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import threading
from dataclasses import dataclass

import numpy as np

from core.audio.constants import SAMPLE_RATE
from core.audio.evaluation import PhoneInterval

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x0001
_INIT_PHONEME_IPA = 0x0002
_EVENT_PHONEME = 7
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE = 1
_LIB_NAMES = ("libespeak-ng.so.1", "libespeak-ng.so")


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT`` from speak_lib.h."""

    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint),
                ("text_position", ctypes.c_int), ("length", ctypes.c_int),
                ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", _EventId)]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int,
                             ctypes.POINTER(_Event))


@dataclass(frozen=True)
class Utterance:
    samples: np.ndarray             # float32 [n] at 16 kHz
    phones: tuple[PhoneInterval, ...]


class _Engine:
    """The library is a process-wide singleton; one synthesis at a time."""

    def __init__(self, lib) -> None:
        self.lib = lib
        self.rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
                                          _INIT_PHONEME_EVENTS | _INIT_PHONEME_IPA)
        if self.rate <= 0:
            raise RuntimeError("espeak_Initialize failed (is espeak-ng-data installed?)")
        self.chunks: list[np.ndarray] = []
        self.events: list[tuple[int, str]] = []
        self._cb = _CALLBACK(self._on_audio)      # keep a reference: ctypes must not free it
        lib.espeak_SetSynthCallback(self._cb)
        self.lock = threading.Lock()

    def _on_audio(self, wav, n, events) -> int:
        if wav and n > 0:
            self.chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).astype(np.float32) / 32768)
        i = 0
        while events[i].type != 0:
            ev = events[i]
            if ev.type == _EVENT_PHONEME:
                self.events.append((int(ev.sample), ev.id.string.decode("utf-8", "replace")))
            i += 1
        return 0


_ENGINE: _Engine | None = None


def _engine() -> _Engine | None:
    global _ENGINE
    if _ENGINE is None:
        for name in _LIB_NAMES + ((ctypes.util.find_library("espeak-ng") or "",)):
            if not name:
                continue
            try:
                _ENGINE = _Engine(ctypes.CDLL(name))
                break
            except (OSError, RuntimeError, AttributeError):
                continue
    return _ENGINE


def available() -> bool:
    """True when libespeak-ng (and its data) can synthesise."""
    return _engine() is not None


def synthesize(text: str, voice: str = "en-us", words_per_minute: int = 160,
               pad_s: float = 0.3) -> Utterance:
    """Speak ``text``; return 16 kHz audio and the true phone intervals (IPA, seconds).

    ``pad_s`` seconds of silence are added before and after (phone times include the shift).
    """
    import soxr

    engine = _engine()
    if engine is None:
        raise RuntimeError("libespeak-ng is not installed (apt-get install libespeak-ng1)")
    with engine.lock:
        engine.chunks.clear()
        engine.events.clear()
        engine.lib.espeak_SetVoiceByName(voice.encode())
        engine.lib.espeak_SetParameter(_PARAM_RATE, int(words_per_minute), 0)
        data = text.encode("utf-8")
        engine.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        engine.lib.espeak_Synchronize()
        audio = np.concatenate(engine.chunks) if engine.chunks else np.zeros(0, np.float32)
        events = list(engine.events)
    rate = engine.rate
    phones = []
    for (s0, name), (s1, _) in zip(events[:-1], events[1:]):
        if s1 > s0:
            phones.append(PhoneInterval(name or None, pad_s + s0 / rate, pad_s + s1 / rate))
    pad = np.zeros(int(round(pad_s * SAMPLE_RATE)), dtype=np.float32)
    samples = np.concatenate([pad, soxr.resample(audio, rate, SAMPLE_RATE), pad])
    return Utterance(samples.astype(np.float32), tuple(phones))
