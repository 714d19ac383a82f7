"""Video rendering without a screen: frames from the engine, H.264 + AAC through imageio-ffmpeg.

The output is written to a temporary file beside the target and renamed at the end, so an
interrupted or failed render never leaves a half-written video under the requested name.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from core.engine import FPS, Engine, FrameRequest
from core.errors import UserInputError
from core.files import partial_path, publish
from core.frame_worker import FrameWorker, frames_in_order
from core.options import RenderOptions
from core.performance import Performance
from core.render.camera import OrbitPose, turntable_path


@dataclass(frozen=True)
class VideoJob:
    """One render: the camera is ``pose`` for every frame, or the turntable path with ``orbit``,
    or a recorded ``performance`` (camera and sliders per frame; ``options.size`` still applies)."""

    out: Path
    options: RenderOptions = field(default_factory=RenderOptions)
    pose: OrbitPose = OrbitPose()
    orbit: bool = False
    audio_path: Path | None = None  # muxed as AAC when given
    performance: Performance | None = None


ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class H264Config:
    """x264's settings for every video written here.

    crf: the quality target (18: visually lossless for most content). preset: x264's speed;
    "superfast" against "veryfast" on 750 frames of the close-up at 512: 2.2 against 3.3 CPU s,
    luma PSNR to the frames 47.0 against 45.7 dB (the same crf keeps the quality; it spends about
    twice the bits, 0.76 against 0.37 Mbit/s). threads: one, so that it does not fight the renderer.
    """

    crf: int = 18
    preset: str = "superfast"
    threads: int = 1


H264 = H264Config()
H264_CRF = H264.crf


def h264_settings(audio_path: Path | None = None, config: H264Config = H264) -> dict:
    """imageio-ffmpeg ``write_frames`` settings of every video written here (H.264, yuv420p, x264
    as ``config`` says), with ``audio_path`` muxed in as AAC and cut to the video's length when given."""
    settings = dict(fps=FPS, codec="libx264", quality=None, bitrate=None, macro_block_size=2,
                    pix_fmt_out="yuv420p", ffmpeg_log_level="error",
                    output_params=["-crf", str(config.crf), "-preset", config.preset, "-threads", str(config.threads),
                                   "-movflags", "+faststart"])
    if audio_path is not None:
        settings.update(audio_path=str(audio_path), audio_codec="aac")
        settings["output_params"] = settings["output_params"] + ["-shortest"]
    return settings


def encode_frames(images: list[np.ndarray], out: Path) -> None:
    """``images`` (uint8 [H, W, 3], even sizes) as an H.264 MP4 without sound, with the settings
    of ``write_video`` (for comparisons: what the encoder alone changes)."""
    import imageio_ffmpeg

    h, w = images[0].shape[:2]
    writer = imageio_ffmpeg.write_frames(str(out), (w, h), **h264_settings())
    writer.send(None)
    for image in images:
        writer.send(np.ascontiguousarray(image))
    writer.close()


class _Discard(BaseException):
    """Thrown into the ffmpeg writer to kill ffmpeg at once: its output is being thrown away."""


def _ffmpeg_process(writer):
    """The ffmpeg ``subprocess.Popen`` behind a started imageio-ffmpeg writer (a local of its
    generator in the pinned imageio-ffmpeg 0.6), or None where that is not available."""
    frame = getattr(writer, "gi_frame", None)
    proc = frame.f_locals.get("p") if frame is not None else None
    return proc if hasattr(proc, "wait") and hasattr(proc, "kill") else None


def _ffmpeg_writing(path: Path) -> list[int]:
    """Process ids of this process's children whose command line names ``path`` (an ffmpeg whose
    Popen was interrupted before it returned, so no handle to it exists). Linux /proc; [] elsewhere."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) != os.getpid():  # the parent pid
                continue
            args = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if os.fsencode(str(path)) in args:
            found.append(int(stat.parent.name))
    return found


def _kill_orphans(path: Path, timeout_s: float = 5.0) -> None:
    """Kill and reap every child still writing ``path`` (see ``_ffmpeg_writing``)."""
    for pid in _ffmpeg_writing(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                break
            time.sleep(0.01)


def _reap(proc, timeout_s: float = 5.0) -> None:
    """Kill ``proc`` if it still runs and wait until it has ended."""
    if proc is None:
        return
    try:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=timeout_s)
    except Exception:
        pass


def _discard_writer(writer) -> None:
    """Stop ffmpeg without letting it finish the file (imageio-ffmpeg kills it on a
    BaseException); a writer that has already ended is left alone."""
    if writer is None:
        return
    try:
        writer.throw(_Discard())
    except (_Discard, StopIteration, Exception):
        pass


def text_progress(stream=sys.stderr) -> ProgressFn:
    """A one-line progress bar on ``stream``."""
    start = time.perf_counter()
    interactive = hasattr(stream, "isatty") and stream.isatty()
    last = [-1]

    def show(done: int, total: int) -> None:
        step = int(10 * done / max(total, 1))
        if not interactive and step == last[0] and done < total:
            return  # in logs, one line per 10 %
        last[0] = step
        frac = done / max(total, 1)
        bar = "#" * int(frac * 30)
        rate = done / max(time.perf_counter() - start, 1e-6)
        end = "\n" if done >= total or not interactive else ""
        stream.write(f"{chr(13) if interactive else ''}  [{bar:<30}] {frac * 100:5.1f}%  {done}/{total} frames  {rate:5.1f} fps{end}")
        stream.flush()

    return show


def frame_requests(engine: Engine, job: VideoJob) -> Iterable[FrameRequest]:
    if job.performance is not None:
        yield from job.performance.requests(engine.num_frames, job.options.size)
        return
    poses = turntable_path(engine.num_frames) if job.orbit else None
    for k in range(engine.num_frames):
        pose = replace(poses[k], zoom=job.pose.zoom) if poses else job.pose
        yield FrameRequest.with_options(job.options, pose=pose, frame_index=k)


def parallel_frames_help(engine: Engine) -> bool:
    """Whether a second engine process speeds a video up: the rasteriser on the CPU (llvmpipe,
    where moderngl's hold on the interpreter lock leaves a core idle), not on a GPU or CUDA."""
    if engine.renderer != "raster" or engine.device.type != "cpu" or engine.raster is None:
        return False
    return engine.raster.software


def write_video(engine: Engine, job: VideoJob, progress: ProgressFn | None = None,
                worker: FrameWorker | None = None) -> dict:
    """Render every frame of the engine's driver into ``job.out``. Returns timing figures.

    ``worker``: a second engine in its own process (``core.frame_worker``, given the same
    driver) that renders frames alongside; the caller closes it."""
    import imageio_ffmpeg

    if engine.num_frames == 0:
        raise UserInputError("Nothing to render: the audio or coefficient file has no frames.")
    size = job.options.size + (job.options.size % 2)  # H.264 with yuv420p needs even sizes
    job = replace(job, options=replace(job.options, size=size))
    out = Path(job.out)
    tmp = partial_path(out)
    kwargs = h264_settings(job.audio_path)
    render_s = 0.0
    t0 = time.perf_counter()
    writer = None
    ffmpeg = None
    try:
        writer = imageio_ffmpeg.write_frames(str(tmp), (size, size), **kwargs)
        writer.send(None)
        ffmpeg = _ffmpeg_process(writer)
        total = engine.num_frames
        frames = frames_in_order(engine, frame_requests(engine, job), worker)
        for k in range(total):
            t = time.perf_counter()
            frame = next(frames)
            render_s += time.perf_counter() - t
            writer.send(np.ascontiguousarray(frame))
            if progress:
                progress(k + 1, total)
        writer.close()
        publish(tmp, out)
    except BaseException:  # failed, Ctrl+C or SIGTERM (see core.commands.terminate_raises)
        try:
            _discard_writer(writer)
            _reap(ffmpeg)  # dead before its file goes: a finishing ffmpeg re-opens it by name
            # A signal during the writer's start can land inside its Popen: the ffmpeg started, but
            # no handle to it was returned. Find it by its output file.
            _kill_orphans(tmp)
        finally:
            tmp.unlink(missing_ok=True)
        raise
    wall = time.perf_counter() - t0
    duration = engine.num_frames / FPS
    return {"frames": engine.num_frames, "video_seconds": duration, "wall_seconds": wall,
            "render_seconds": render_s, "realtime_factor": duration / wall if wall else float("inf")}
