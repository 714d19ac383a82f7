"""Time bases shared by the audio stage.

Audio inside the program is always mono float32 at ``SAMPLE_RATE``. Video runs at ``FPS``;
frame k covers the instant ``k / FPS`` seconds (and the audio interval [k/FPS, (k+1)/FPS)).
"""
from __future__ import annotations

SAMPLE_RATE: int = 16_000          # Hz, what hama's recogniser and Wav2Lip-style models expect
FPS: int = 25                      # video frames per second (paper and SadTalker)
SAMPLES_PER_FRAME: int = SAMPLE_RATE // FPS   # 640 samples = 40 ms per video frame


def num_frames_for_samples(n_samples: int) -> int:
    """Number of video frames that cover ``n_samples`` of 16 kHz audio: ceil(n / 640).

    Frame k covers audio [k*640, (k+1)*640); the last, partial frame is kept.
    """
    if n_samples <= 0:
        return 0
    return -(-int(n_samples) // SAMPLES_PER_FRAME)


def frame_time(index: int) -> float:
    """Time in seconds of video frame ``index`` (``index / FPS``)."""
    return index / FPS
