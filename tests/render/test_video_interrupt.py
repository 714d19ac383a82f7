"""An interrupted render leaves no file: Ctrl+C (SIGINT) and SIGTERM end ``main.py render`` with
one line, exit code 130 / 143, no traceback, no ``.part`` file and no ffmpeg left running."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.commands import Terminated, default_frame_workers, run_guarded
from proctree import command_line, descendants, long_speech, start_time
from core.video import VideoJob, write_video

ROOT = Path(__file__).resolve().parents[2]


def _running(pid: int) -> bool:
    return start_time(pid) is not None


def _ffmpegs_below(pid: int) -> list[int]:
    return [p for p in descendants(pid) if b"ffmpeg" in command_line(p)]


def _frame_workers_below(pid: int, wait_s: float = 20.0) -> list[int]:
    """The render's frame worker (``core.frame_worker``: a spawned Python), once it runs."""
    deadline = time.time() + wait_s
    while time.time() < deadline:
        found = [p for p in descendants(pid) if b"multiprocessing" in command_line(p)]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError("no frame worker below the render")


class _Engine:
    """Frames of one colour; the ``stop_at``-th render raises ``error`` (as a signal handler would)."""

    def __init__(self, frames: int, stop_at: int, error: BaseException):
        self.num_frames, self.stop_at, self.error, self.rendered = frames, stop_at, error, 0

    def render(self, request) -> np.ndarray:
        self.rendered += 1
        if self.rendered == self.stop_at:
            raise self.error
        return np.full((64, 64, 3), 90, np.uint8)


@pytest.mark.parametrize("error", [KeyboardInterrupt(), Terminated(), RuntimeError("boom")])
def test_write_video_interrupted_leaves_nothing(tmp_path, error):
    from core.options import RenderOptions

    job = VideoJob(out=tmp_path / "v.mp4", options=RenderOptions.from_values(64, 0.5, 1.0, 3))
    with pytest.raises(type(error)):
        write_video(_Engine(20, 8, error), job)
    assert list(tmp_path.iterdir()) == []
    deadline = time.time() + 5
    while _ffmpegs_below(os.getpid()) and time.time() < deadline:
        time.sleep(0.1)
    assert not _ffmpegs_below(os.getpid()), "ffmpeg still running"


def test_run_guarded_exit_codes(capsys):
    def raise_(exc):
        raise exc

    assert run_guarded(raise_, KeyboardInterrupt()) == 130
    assert capsys.readouterr().err == "interrupted\n"
    assert run_guarded(raise_, Terminated()) == 143
    assert capsys.readouterr().err == "terminated\n"


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_render_command_interrupted(tmp_path, cache_dir, how):
    """``kill`` (SIGTERM to the process) or Ctrl+C (SIGINT to its process group) mid-render."""
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "render", "--out", str(out_dir / "v.mp4"), "--size", "256",
         "--audio", str(long_speech(tmp_path / "long.wav")),
         "--device", "cpu", "--cache-dir", str(cache_dir)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.time() + 90
        while not list(out_dir.glob("*.part.mp4")) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert list(out_dir.glob("*.part.mp4")), "the render never started writing"
        deadline = time.time() + 10
        while not (ffmpegs := _ffmpegs_below(proc.pid)) and time.time() < deadline:
            time.sleep(0.05)
        assert ffmpegs, "no ffmpeg below the render"
        workers = [] if default_frame_workers() < 2 else _frame_workers_below(proc.pid)
        if how == "sigterm":
            proc.send_signal(signal.SIGTERM)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert (proc.returncode, stderr.strip().splitlines()[-1]) == (
        (143, "terminated") if how == "sigterm" else (130, "interrupted")), stdout + stderr
    assert "Traceback" not in stdout + stderr, stderr
    assert "wrote" not in stdout, "the render finished before it was interrupted"
    assert list(out_dir.iterdir()) == [], "an interrupted render left a file"
    deadline = time.time() + 5
    while any(map(_running, ffmpegs)) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, ffmpegs)), "ffmpeg outlived the render"
    while any(map(_running, workers)) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(map(_running, workers)), "the frame worker outlived the render"


def test_a_writer_started_without_a_handle_is_killed_by_its_output_name(tmp_path):
    """A signal inside the writer's Popen leaves an ffmpeg with no handle to it: the clean-up
    finds this process's child that names the partial file and kills it (it would re-create the
    file after it was deleted)."""
    from core.video import _ffmpeg_writing, _kill_orphans

    target = tmp_path / "v.abc.part.mp4"
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", str(target)])
    try:
        deadline = time.time() + 10
        while child.pid not in _ffmpeg_writing(target) and time.time() < deadline:
            time.sleep(0.05)
        assert _ffmpeg_writing(target) == [child.pid]
        _kill_orphans(target)
        assert child.poll() is not None  # killed and reaped
        assert _ffmpeg_writing(target) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
