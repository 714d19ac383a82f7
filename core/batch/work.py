"""What a batch worker does (a local worker process or a Ray task): prepare a portrait, render a job.

Both return an outcome instead of raising: a job that cannot be done (missing portrait, no face,
corrupt audio, any unexpected error) reports its message and the batch goes on with the others.
Nothing here imports torch at module level, so a worker can set its thread counts first.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from core.batch.jobs import Job
from core.errors import UserInputError

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class PrepareOutcome:
    """A portrait lifted into the subject cache (or why it could not be)."""

    ok: bool
    message: str = ""
    seconds: float = 0.0
    from_cache: bool = False


@dataclass(frozen=True)
class JobOutcome:
    """One finished job. ``seconds`` is the job's wall time in its worker (subject load, Audio2Exp,
    frames, encoding); ``subject_from_cache`` says whether the job found its subject ready."""

    number: int
    ok: bool
    message: str = ""
    seconds: float = 0.0
    video_seconds: float = 0.0
    subject_from_cache: bool | None = None

    @property
    def realtime_factor(self) -> float:
        return self.video_seconds / self.seconds if self.seconds > 0 else 0.0


def set_threads(threads: int) -> None:
    """Torch's intra-op threads for this process (and OpenMP's, when torch is not loaded yet)."""
    threads = max(1, int(threads))
    if "torch" not in sys.modules:
        for name in THREAD_VARIABLES:
            os.environ[name] = str(threads)
    import torch

    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def _message(exc: BaseException) -> str:
    if isinstance(exc, UserInputError):
        return str(exc)
    traceback.print_exc(file=sys.stderr)  # a bug, not a bad input: keep the details in the log
    return f"unexpected error: {type(exc).__name__}: {exc}"


def prepare_portrait(portrait: Path, cache_dir: Path | None):
    """Build the subject cache entry for ``portrait`` (a fast load when it exists already).
    Returns (PrepareOutcome, the Subject or None)."""
    from core.preprocess.pipeline import prepare

    t0 = time.perf_counter()
    try:
        result = prepare(portrait, cache_root=cache_dir)
    except Exception as exc:
        return PrepareOutcome(False, _message(exc), time.perf_counter() - t0), None
    outcome = PrepareOutcome(True, "; ".join(result.messages), time.perf_counter() - t0, result.from_cache)
    return outcome, result.subject


def render_job(job: Job, cache_dir: Path | None = None, subject=None, audio: Path | None = None,
               coeffs: Path | None = None, out: Path | None = None) -> JobOutcome:
    """Render ``job`` into its MP4 (written atomically by core.video).

    ``subject`` (a prepared Subject) skips the cache; ``audio`` / ``coeffs`` / ``out`` replace the
    job's own paths (a Ray worker uses local copies of the inputs and a local output file).
    """
    t0 = time.perf_counter()
    from_cache = None
    try:
        from core.commands import load_driver
        from core.engine import FPS, Engine
        from core.video import VideoJob, write_video

        if subject is None:
            from core.preprocess.pipeline import prepare

            result = prepare(job.portrait, cache_root=cache_dir)
            subject, from_cache = result.subject, result.from_cache
        audio = audio if audio is not None else job.audio
        coeffs = coeffs if coeffs is not None else job.coeffs
        engine = Engine(subject, job.device)
        engine.set_driver(load_driver(audio, coeffs))
        video = VideoJob(out=out or job.out, options=job.options, pose=job.pose, orbit=job.orbit, audio_path=audio)
        write_video(engine, video)
        frames = engine.num_frames
    except Exception as exc:
        return JobOutcome(job.number, False, _message(exc), time.perf_counter() - t0, 0.0, from_cache)
    return JobOutcome(job.number, True, "", time.perf_counter() - t0, frames / FPS, from_cache)
