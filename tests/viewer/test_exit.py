"""The viewer ends cleanly however it is closed: the window closing, Ctrl+C in a terminal (SIGINT
to the whole process group) and ``kill`` (SIGTERM to the viewer alone). Each time: a sensible
exit code, no traceback, no 'leaked shared_memory' warning, no process it started still running
(render process, microphone recogniser, resource tracker, an export and its ffmpeg) and none of
its /dev/shm segments left; an export cut short leaves neither its video nor its ``.part`` file.

Runs the real window under Xvfb (skipped where Xvfb cannot host an OpenGL window, as the smoke
test is); the keyboard check also needs xdotool.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from proctree import descendants, still_running
from test_gui_smoke import _wait, xvfb  # noqa: F401  (the smoke test's Xvfb fixture and state poll)

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not shutil.which("Xvfb"), reason="Xvfb is needed to open the viewer")



def shm_segments(pids) -> set[str]:
    """The /dev/shm files these processes have mapped."""
    names = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        for line in maps.splitlines():
            if "/dev/shm/" in line:
                names.add(line[line.index("/dev/shm/"):].split()[0])
    return names


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


# ---------------------------------------------------------------------------- the viewer
@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")  # the first viewer prepares the sample, the others reuse it


class Viewer:
    def __init__(self, display: str, cache: Path, folder: Path):
        self.folder, self.display = folder, display
        self.state = folder / "state.json"
        self.stdout_path, self.stderr_path = folder / "stdout.txt", folder / "stderr.txt"
        env = dict(os.environ, DISPLAY=display, TALKINGHEAD_CACHE=str(cache))
        with open(self.stdout_path, "w") as out, open(self.stderr_path, "w") as err:
            # Its own process group, as a shell job has (a terminal's Ctrl+C reaches the group);
            # SIGINT not ignored even if this test runner was started with it ignored.
            self.proc = subprocess.Popen(
                [sys.executable, str(ROOT / "main.py"), "viewer", "--loop", "--device", "cpu",
                 "--automation", str(self.state), "--max-seconds", "120"],
                cwd=folder, env=env, stdout=out, stderr=err, start_new_session=True,
                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def wait(self, predicate, timeout: float, what: str) -> dict:
        if self.proc.poll() is not None:
            raise AssertionError(f"the viewer ended early ({self.proc.returncode}): {self.output()[-2000:]}")
        return _wait(self.state, predicate, timeout, what)

    def command(self, **cmd) -> None:
        cmd_file = self.state.with_suffix(".cmd")
        _wait_for(lambda: not cmd_file.exists(), 10, "the previous automation command to be taken")
        cmd_file.write_text(json.dumps(cmd))

    def output(self) -> str:
        return self.stdout_path.read_text(errors="replace") + self.stderr_path.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)


@pytest.fixture()
def start_viewer(xvfb, tmp_path):  # noqa: F811
    """Starts the viewer (with this subject cache); kills what is left of it at the end."""
    started: list[Viewer] = []

    def start(cache: Path) -> Viewer:
        started.append(Viewer(xvfb, cache, tmp_path))
        return started[-1]

    yield start
    for v in started:
        leftovers = descendants(v.proc.pid) if v.proc.poll() is None else {}
        v.kill()
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        print(v.output()[-3000:])


@pytest.fixture()
def viewer(start_viewer, cache_dir):
    v = start_viewer(cache_dir)
    v.wait(lambda s: s["frames_uploaded"] >= 1, 90, "the first frame")
    return v


def assert_clean_exit(v: Viewer, processes: dict[int, int], segments: set[str], expected_rc: int) -> None:
    rc = v.proc.wait(timeout=30)
    out = v.output()
    assert rc == expected_rc, f"exit code {rc}, expected {expected_rc}: {out[-2000:]}"
    assert "Traceback" not in out, out[-4000:]
    assert "leaked shared_memory" not in out, out[-2000:]
    assert not still_running(processes), f"processes left running: {still_running(processes, 0)}"
    assert segments, "the viewer had no shared memory mapped (the test looks in the wrong place)"
    left = [s for s in segments if Path(s).exists()]
    assert not left, f"shared memory left in /dev/shm: {left}"


def _children_and_segments(v: Viewer) -> tuple[dict[int, int], set[str]]:
    processes = descendants(v.proc.pid)
    return processes, shm_segments([v.proc.pid, *processes])


def _recogniser_running(v: Viewer) -> bool:
    procs = descendants(v.proc.pid)
    spawned = [p for p in procs if b"spawn_main" in Path(f"/proc/{p}/cmdline").read_bytes()]
    return len(spawned) >= 2  # the render process and the microphone's recogniser


# ---------------------------------------------------------------------------- the exits
def test_closing_the_window_ends_everything(viewer):
    """The window closes (what its close button does: the DearPyGui loop stops); also the keys."""
    v = viewer
    if shutil.which("xdotool"):  # one key end to end: the arrow orbits, S saves a PNG
        env = dict(os.environ, DISPLAY=v.display)
        s = v.wait(lambda s: s["rects"]["view"]["size"][0] > 0, 10, "the layout")
        win = subprocess.run(["xdotool", "search", "--name", "Talking head"], env=env, capture_output=True,
                             text=True).stdout.split()
        assert win, "viewer window not found"
        (vx, vy), (vw, vh) = s["rects"]["view"]["min"], s["rects"]["view"]["size"]
        subprocess.run(["xdotool", "mousemove", "--window", win[0], str(vx + vw // 2), str(vy + vh // 2)],
                       env=env, check=True)
        for key in ("Left", "Left", "Up"):
            subprocess.run(["xdotool", "key", key], env=env, check=True)
            time.sleep(0.1)
        s = v.wait(lambda s: s["rendered"] and s["rendered"]["yaw"] == pytest.approx(10.0)
                   and s["rendered"]["pitch"] == pytest.approx(-5.0), 30, "the frame after the arrow keys")
        subprocess.run(["xdotool", "key", "s"], env=env, check=True)
        saved = _wait_for(lambda: list((v.folder / "out").glob("view_*.png")), 15, "the saved view")
        assert saved[0].stat().st_size > 1000
        assert any(str(saved[0]) in m for m in v.wait(lambda s: any("saved view" in m for m in s["messages"]),
                                                      10, "the message")["messages"])
    processes, segments = _children_and_segments(v)
    v.command(quit=True)
    assert_clean_exit(v, processes, segments, 0)


def test_ctrl_c_in_a_terminal_ends_everything(viewer):
    """SIGINT to the process group, with the microphone on (its recogniser process running)."""
    from core.paths import SAMPLE_SPEECH

    v = viewer
    v.command(mic_file=str(SAMPLE_SPEECH))
    v.wait(lambda s: s["mic"] is not None, 20, "microphone mode")
    _wait_for(lambda: _recogniser_running(v), 20, "the recogniser process")
    processes, segments = _children_and_segments(v)
    os.killpg(v.proc.pid, signal.SIGINT)
    assert_clean_exit(v, processes, segments, 128 + signal.SIGINT)
    assert v.stderr_path.read_text().strip().splitlines()[-1] == "interrupted"


def test_sigterm_ends_everything_and_an_export_leaves_no_file(viewer):
    """SIGTERM to the viewer alone while an export runs: the export stops, nothing of it stays."""
    v = viewer
    exports = v.folder / "exports"
    exports.mkdir()
    v.command(export=str(exports / "clip.mp4"))
    _wait_for(lambda: list(exports.glob("clip.*.part.mp4")), 60, "the export's partial file")
    v.wait(lambda s: "export" in s["tasks"] and s["tasks"]["export"]["progress"] > 0, 30, "export progress")
    processes, segments = _children_and_segments(v)
    assert any(b"render" in Path(f"/proc/{p}/cmdline").read_bytes() for p in processes), "no export process"
    assert not (exports / "clip.mp4").exists(), "the export finished before the test could stop it"
    v.proc.send_signal(signal.SIGTERM)
    assert_clean_exit(v, processes, segments, 128 + signal.SIGTERM)
    assert v.stderr_path.read_text().strip().splitlines()[-1] == "terminated"
    assert list(exports.iterdir()) == [], "the cut-short export left a file"


def test_sigterm_while_the_portrait_is_prepared(start_viewer, tmp_path):
    """Closing while background tasks run native code (MediaPipe): they stop at their next step,
    so the interpreter does not exit under them (which aborts: 'terminate called ...')."""
    v = start_viewer(tmp_path / "empty-cache")  # nothing cached: the portrait is prepared now
    v.wait(lambda s: (s["tasks"].get("portrait") or {}).get("message") in ("find face", "segment person"),
           60, "the portrait preparation")
    processes, segments = _children_and_segments(v)
    t = time.time()
    v.proc.send_signal(signal.SIGTERM)
    assert_clean_exit(v, processes, segments, 128 + signal.SIGTERM)
    assert time.time() - t < 20
    assert "terminate called" not in v.output()
