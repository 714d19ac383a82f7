"""Audio2Exp stage: speech -> per-video-frame expression coefficients (paper section 4.2-4.3).

Modules (each small, one job):

- ``constants``      sample rate (16 kHz), video frame rate (25 fps), frame geometry.
- ``loading``        any audio file -> 16 kHz mono float32, streamed in blocks (``AudioLoadError``).
- ``phones``         hama CTC phoneme recogniser run on a fixed grid of sliding windows
                     -> committed ``PhoneEvent`` spikes (time, IPA symbol).
- ``segments``       phone spikes -> contiguous openfacefx ``PhonemeSegment`` s (with silences).
- ``activity``       energy-based pause detection (quiet runs) that helps the segments.
- ``coarticulation`` segments -> openfacefx dominance blend (visemes) -> our ARKit coefficients.
- ``arkit_map``      openfacefx's ARKit preset as a [15 visemes, NUM_EXPRESSIONS] matrix.
- ``backends``       the ``ExpressionBackend`` protocol and the default hama+openfacefx backend.
- ``audio2exp``      ``Audio2Exp`` (push/finish, one interface for files and live streams),
                     ``coefficients_for_file``.
- ``motion``         ``MotionParams`` / ``apply_motion``: alpha_m and lambda_exp, applied per frame.
- ``coeff_csv``      the coefficient CSV format (writer, tolerant reader, ``CoefficientCSVError``).
- ``commands``       ``audio2exp_command`` behind ``python main.py audio2exp``.
- ``evaluation``     lip-sync metrics against phone alignments (tests, tools/bench_audio.py).
- ``espeak``         synthetic speech with exact phone timings via libespeak-ng (tests only).

Heavy dependencies (hama, openfacefx, soxr, soundfile) are imported lazily inside the modules that
need them, so ``import core.audio`` stays cheap.
"""
from __future__ import annotations

from core.audio.constants import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
from core.audio.motion import MotionParams, apply_motion

__all__ = [
    "FPS",
    "SAMPLE_RATE",
    "SAMPLES_PER_FRAME",
    "MotionParams",
    "apply_motion",
    "AudioLoadError",
    "load_audio",
    "iter_audio_blocks",
    "probe_audio",
    "Audio2Exp",
    "Audio2ExpConfig",
    "ExpressionFrame",
    "ExpressionBackend",
    "coefficients_for_file",
    "coefficients_for_driver",
    "StreamResampler",
    "CoefficientCSVError",
    "CoefficientTrack",
    "read_coefficients_csv",
    "write_coefficients_csv",
]

_LAZY = {
    "AudioLoadError": "core.audio.loading",
    "load_audio": "core.audio.loading",
    "iter_audio_blocks": "core.audio.loading",
    "probe_audio": "core.audio.loading",
    "Audio2Exp": "core.audio.audio2exp",
    "Audio2ExpConfig": "core.audio.audio2exp",
    "ExpressionFrame": "core.audio.audio2exp",
    "coefficients_for_file": "core.audio.audio2exp",
    "coefficients_for_driver": "core.audio.audio2exp",
    "StreamResampler": "core.audio.loading",
    "ExpressionBackend": "core.audio.backends",
    "CoefficientCSVError": "core.audio.coeff_csv",
    "CoefficientTrack": "core.audio.coeff_csv",
    "read_coefficients_csv": "core.audio.coeff_csv",
    "write_coefficients_csv": "core.audio.coeff_csv",
}


def __getattr__(name: str):
    """Lazy re-export of the public API (PEP 562), keeping ``import core.audio`` light."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'core.audio' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
