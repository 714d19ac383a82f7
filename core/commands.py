"""Command implementations behind ``main.py``. Each returns a process exit code."""
from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import UserInputError
from core.options import RenderOptions
from core.paths import SAMPLE_PORTRAIT
from core.render.camera import OrbitPose


def _say(msg: str) -> None:
    print(msg, flush=True)


def prepare_command(portrait: Path | None, cache_dir: Path | None, no_cache: bool = False) -> int:
    """Build (or load) the subject cache for a portrait and print the time of each stage."""
    from core.preprocess.pipeline import prepare

    path = portrait or SAMPLE_PORTRAIT
    _say(f"preparing {path}")
    t0 = time.perf_counter()

    def progress(stage: str, fraction: float) -> None:
        print(f"  [{fraction * 100:5.1f}%] {stage}", file=sys.stderr, flush=True)

    result = prepare(path, cache_root=cache_dir, progress=progress, use_cache=not no_cache)
    total = time.perf_counter() - t0
    for msg in result.messages:
        _say(f"note: {msg}")
    for stage, seconds in result.stage_seconds.items():
        _say(f"  {stage:28s} {seconds * 1000:8.1f} ms")
    s = result.subject
    _say(f"{'loaded from cache' if result.from_cache else 'built'} in {total:.2f} s "
         f"(cache key {result.cache_key})")
    _say(f"  image {s.intrinsics.width}x{s.intrinsics.height}, head at {s.translation[2]:.0f} cm, "
         f"model reprojection error mean {s.reprojection_px[0]:.2f} px, max {s.reprojection_px[1]:.2f} px")
    return 0


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like a Ctrl+C so that the same clean-up runs (a partial video is removed)."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def terminate_raises() -> None:
    """From now on SIGTERM raises ``Terminated`` in the main thread (``run_guarded`` turns it into
    exit code 143), instead of killing the process before its ``finally`` blocks run."""
    signal.signal(signal.SIGTERM, _raise_terminated)


def run_guarded(fn, *args, **kwargs) -> int:
    """Run a command; user errors print a message instead of a traceback, an interrupt one line
    (exit code 130 for Ctrl+C, 143 for SIGTERM)."""
    try:
        return fn(*args, **kwargs)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Terminated:
        print("terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


def load_driver(audio: Path | None, coeffs_csv: Path | None, progress=None):
    """Per-frame beta_t^audio [T, K] from a coefficient CSV or from audio through Audio2Exp."""
    if coeffs_csv is not None:
        from core.audio.coeff_csv import read_coefficients_csv

        return read_coefficients_csv(coeffs_csv).driver
    from core.audio.audio2exp import coefficients_for_file

    return coefficients_for_file(audio, progress=progress)


@dataclass(frozen=True)
class TwoProcessConfig:
    """How ``render`` draws with two processes on the CPU.

    llvmpipe_threads: Mesa llvmpipe's rasteriser threads in each drawing process
    (``LP_NUM_THREADS``, set before either creates its OpenGL context; a value the user set is
    kept). One each: the two processes already keep both cores busy, and on this project's 2-core
    machine the close-up's 30 s at 512 took 31.1-31.5 CPU s (21.9 s wall, twice) against
    34.0-34.8 CPU s (28.9-38.7 s) with llvmpipe's default of one thread per core; the machine was
    shared with other work.
    """

    llvmpipe_threads: int = 1


TWO_PROCESSES = TwoProcessConfig()


class DriverJob:
    """``load_driver`` on a thread of its own, started at once, so that Audio2Exp runs beside the
    portrait's preparation and the engine's construction (those leave the second core mostly
    idle); ``result`` waits for it and raises what it raised."""

    def __init__(self, audio: Path | None, coeffs_csv: Path | None):
        import threading

        self.seconds = 0.0  # how long it ran
        self._driver = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(audio, coeffs_csv), name="audio2exp", daemon=True)
        self._thread.start()

    def _run(self, audio: Path | None, coeffs_csv: Path | None) -> None:
        t = time.perf_counter()
        try:
            self._driver = load_driver(audio, coeffs_csv)
        except BaseException as err:  # handed to the caller of result()
            self._error = err
        self.seconds = time.perf_counter() - t

    def result(self):
        """The driver [T, K] (waits for it)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._driver


def default_frame_workers() -> int:
    """Two processes drawing a video's frames where there are two cores and memory for two
    engines (``core.batch.local.default_workers``), else one; more than two do not help here."""
    from core.batch.local import default_workers, total_memory_bytes

    return min(2, default_workers(os.cpu_count() or 1, total_memory_bytes()))


def render_command(portrait: Path | None, audio: Path | None, coeffs_csv: Path | None, out: Path,
                   options: RenderOptions = RenderOptions(), pose: OrbitPose = OrbitPose(), orbit: bool = False,
                   device: str = "auto", cache_dir: Path | None = None, performance: Path | None = None,
                   renderer: str = "auto", workers: int | None = None) -> int:
    """Render a talking-head video with sound (no display or sound card needed). ``workers``:
    processes drawing frames (``core.video.write_video``); None: ``default_frame_workers()``.

    The start overlaps: the second drawing process is started first (its imports run while this
    one imports and prepares; it is closed again where it would not help), and Audio2Exp runs on
    a thread (``DriverJob``) beside the preparation and the engine's construction."""
    from core.frame_worker import FrameWorker

    if workers is not None and workers < 1:
        raise UserInputError(f"--workers must be at least 1, not {workers}.")
    worker = None
    if (default_frame_workers() if workers is None else workers) > 1 and device != "cuda" and renderer != "march":
        os.environ.setdefault("LP_NUM_THREADS", str(TWO_PROCESSES.llvmpipe_threads))  # both processes
        worker = FrameWorker()  # a software rasteriser is likely: start its imports now
    try:
        return _render_with(portrait, audio, coeffs_csv, out, options, pose, orbit, device, cache_dir, performance,
                            renderer, worker)
    finally:
        if worker is not None:
            worker.close()


def _render_with(portrait, audio, coeffs_csv, out, options, pose, orbit, device, cache_dir, performance, renderer,
                 worker) -> int:
    from core.engine import Engine
    from core.paths import SAMPLE_SPEECH
    from core.preprocess.pipeline import prepare
    from core.video import VideoJob, parallel_frames_help, text_progress, write_video

    from core.performance import Performance

    recorded = Performance.load(performance) if performance is not None else None
    if recorded is not None:
        # The recording's own portrait and speech unless others are given; it sets the camera
        # and the sliders of every frame (only the size is taken from the options).
        portrait = portrait or recorded.portrait
        if coeffs_csv is None and audio is None:
            audio = recorded.audio
        _say("note: the camera and the sliders of every frame come from the performance; "
             "--yaw/--pitch/--zoom/--orbit, the sliders' flags and --framing do not apply")
    if coeffs_csv is None and audio is None:
        audio = SAMPLE_SPEECH
    portrait = portrait or SAMPLE_PORTRAIT
    _say(f"portrait: {portrait}")
    driver_job = DriverJob(audio, coeffs_csv)
    result = prepare(portrait, cache_root=cache_dir)
    for msg in result.messages:
        _say(f"note: {msg}")
    engine = Engine(result.subject, device, renderer=renderer)
    _say(f"driver: {coeffs_csv or audio}  (device {engine.device}, renderer {engine.renderer})")
    if worker is not None and not parallel_frames_help(engine):
        worker.close()  # a GPU draws: one process is enough
        worker = None
    if worker is not None:
        worker.build(engine.recipe)  # builds its engine while Audio2Exp finishes
    t0 = time.perf_counter()
    driver = driver_job.result()
    waited_s = time.perf_counter() - t0
    engine.set_driver(driver)
    if worker is not None:
        worker.set_driver(engine.driver)
    job = VideoJob(out=out, options=options, pose=pose, orbit=orbit, audio_path=audio, performance=recorded)
    stats = write_video(engine, job, text_progress(), worker)
    total = stats["wall_seconds"] + waited_s
    _say(f"wrote {out}: {stats['frames']} frames ({stats['video_seconds']:.1f} s of video) in "
         f"{total:.1f} s, {stats['video_seconds'] / total:.2f} x real time "
         f"(audio->expression {driver_job.seconds:.1f} s beside the preparation, {waited_s:.1f} s waited for; "
         f"rendering {stats['render_seconds']:.1f} s)")
    return 0
