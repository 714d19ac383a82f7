"""The DearPyGui window.

Threads: the UI thread runs DearPyGui and only builds requests and uploads finished frames; a
render process (viewer.render_process, single latest-request slot) renders; preprocessing, audio analysis and video export
run on their own threads and report progress. Audio (sounddevice) is the master clock: the frame
shown is floor(t * 25); late frames are dropped, never queued. Playback never moves the camera.

Exit: closing the window, Ctrl+C (SIGINT) and SIGTERM all leave the loop and run
``ViewerApp.close()``: an export in progress is stopped and its partial file removed, the
microphone's and the render process end, the shared memory is freed.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from core.errors import UserInputError
from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS
from core.paths import SAMPLE_PORTRAIT, SAMPLE_SPEECH
from core.files import partial_files
from core.performance import Performance
from core.render.camera import DEFAULT_FRAMING, OrbitPose
from viewer.clock import open_clock
from viewer.keys import HELP as KEYS_HELP
from viewer.keys import apply_key
from viewer.render_process import RenderProcess
from viewer.session import Session, ViewSettings

DISPLAY_PX = 512
PANEL_PX = 240
UI_FPS_CAP = 60.0
RESOLUTIONS = ("128", "256", "384", "512")
EXPORT_MODES = {"current view": "view", "orbit path": "orbit", "what I performed": "performance"}  # label -> mode
PHOTO_SUPPORT_DEG = 25.0  # views turned further than this from the photo's show mostly filled-in surfaces
EXPORT_MIN_SIZE = 256  # exports are rendered at least this large
# The resolution the view starts at, once the render process says which renderer it has: the
# OpenGL rasteriser is live at 512 on two cores, the ray marcher at 256.
LIVE_SIZE_PX = {"raster": 512, "march": 256}
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".pgm", ".tif", ".tiff")
AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3", ".m4a")
COEFFS_EXTS = (".csv",)
GAZE_CHOICES = {"natural": "on", "photo's gaze": "off", "look at the camera": "camera"}  # label -> NaturalMotion.gaze


def display_available() -> bool:
    """DearPyGui aborts the process (no Python exception) without a display: check first."""
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def view_from_photo(pose: OrbitPose) -> str:
    """How far the view is from the photo's, for the status line: past ``PHOTO_SUPPORT_DEG`` the
    user sees more of the head than the photo showed (filled in by the fitted head and mirroring)."""
    angle = float(np.hypot(pose.yaw_deg, pose.pitch_deg))
    text = f"view {pose.yaw_deg:+.0f}/{pose.pitch_deg:+.0f} deg from the photo's"
    return text + (" (past what the photo shows: the rest is filled in)" if angle > PHOTO_SUPPORT_DEG else "")


@dataclass
class Task:
    """A background job with progress (preprocessing, audio analysis, export)."""

    name: str
    progress: float = 0.0
    message: str = ""
    done: bool = False
    error: str | None = None


class _Closed(Exception):
    """Raised in a background task's progress report once the viewer is closing: the task ends
    between two steps instead of being cut off inside native code at interpreter exit."""


TASK_JOIN_S = 15.0  # how long close() waits for background tasks to reach a progress report


class ViewerApp:
    def __init__(self, portrait: Path | None = None, audio: Path | None = None, device: str = "auto",
                 loop: bool = False, framing: str = DEFAULT_FRAMING, zoom: float = 1.0, renderer: str = "auto",
                 coeffs: Path | None = None):
        self.device = device
        self.renderer = renderer
        self._closed = False
        self._threads: list[threading.Thread] = []  # background tasks, joined on close
        self._exports: list[tuple] = []  # (process, output, partial files there before it)
        self._export_dir: Path | None = None  # where the last export went (S saves views there)
        self.session = Session()
        self.performance = Performance()  # the frames shown while playing, for export
        self.session.clock.loop = loop
        # The view a reset returns to: the framing asked for on the command line, at zoom 1.
        self.home_framing = framing
        self.session.settings = self.session.settings.with_(pose=OrbitPose(zoom=zoom), framing=framing)
        self.portrait_path: Path | None = None  # the portrait the render process shows
        self.worker = RenderProcess(device, on_error=self._render_error, renderer=renderer)
        self._size_chosen = False
        self.tasks: dict[str, Task] = {}
        self.messages: deque = deque(maxlen=4)
        self._drag_start: OrbitPose | None = None
        self._uploaded_serial = 0
        self._shown = None
        self._frame_times: deque = deque(maxlen=60)
        self._ui_times: deque = deque(maxlen=120)
        self._last_state_write = 0.0
        self._last_request = None
        self._mic = None
        self._submit_times: dict = {}
        self._sound_times: dict = {}  # microphone: request -> arrival of the sound it shows
        self.mic_latencies: deque = deque(maxlen=3000)  # sound -> shown, per microphone frame (s)
        self._observed_serial = 0
        self.offsets: deque = deque(maxlen=3000)  # A/V offset of every frame shown while playing (ms)
        self._texture = np.zeros((DISPLAY_PX, DISPLAY_PX, 4), np.float32)
        self._texture[..., 3] = 1.0
        self._pending_engine = None
        self._pending_audio = None
        self._audio_file: Path | None = None
        self._coeffs_file: Path | None = None  # a coefficient CSV driving the face instead of the audio
        self._pending_coeffs = None
        self._autoplay = True  # start playing when the first audio is ready
        self.load_portrait(portrait or SAMPLE_PORTRAIT)
        self.load_audio(audio or SAMPLE_SPEECH, then_coeffs=coeffs)

    # ------------------------------------------------------------------ rendering
    @property
    def ready(self) -> bool:
        return self.portrait_path is not None

    def _render_error(self, exc: BaseException) -> None:
        self.say(f"render failed: {exc}")

    def say(self, msg: str) -> None:
        self.messages.append(msg)
        print(msg, flush=True)

    # ------------------------------------------------------------------ loading
    def _run_task(self, key: str, name: str, fn) -> None:
        task = Task(name)
        self.tasks[key] = task

        def body():
            try:
                fn(task)
            except _Closed:
                pass
            except UserInputError as exc:
                task.error = str(exc)
            except Exception as exc:  # never take the viewer down; keep what the user had
                task.error = f"{type(exc).__name__}: {exc}"
                traceback.print_exc()
            finally:
                task.done = True

        thread = threading.Thread(target=body, name=f"task-{key}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _check_open(self) -> None:
        """Called by background tasks between steps: raises ``_Closed`` once the viewer closes."""
        if self._closed:
            raise _Closed()

    def load_portrait(self, path: Path) -> None:
        def job(task: Task):
            from core.preprocess.pipeline import prepare

            def progress(stage: str, fraction: float) -> None:
                self._check_open()
                task.progress, task.message = fraction, stage

            result = prepare(path, progress=progress)  # fills the cache the render process reads
            for note in result.messages:
                self.say(f"note: {note}")
            self._pending_engine = path

        self._run_task("portrait", f"preparing {Path(path).name}", job)

    def load_audio(self, path: Path, then_coeffs: Path | None = None) -> None:
        """Play ``path``; its Audio2Exp coefficients drive the face (or, with ``then_coeffs``,
        that coefficient CSV, loaded once the audio is in)."""
        def job(task: Task):
            from core.audio.audio2exp import coefficients_for_file
            from core.audio.loading import load_audio

            def progress(fraction: float) -> None:
                self._check_open()
                task.progress = fraction

            task.message = "reading audio"
            samples = load_audio(path)
            task.message = "speech -> expressions"
            coeffs = None if then_coeffs is not None else coefficients_for_file(path, progress=progress)
            self._pending_audio = (samples, coeffs, path)
            if then_coeffs is not None:
                self._load_coeffs_now(then_coeffs)

        self._run_task("audio", f"analysing {Path(path).name}", job)

    def load_coefficients(self, path: Path) -> None:
        """Drive the face with a coefficient CSV (``audio2exp``'s, or a Live Link Face recording
        with its blinks, head angles and gaze); the loaded audio keeps playing as the sound."""
        self._run_task("coeffs", f"reading {Path(path).name}", lambda task: self._load_coeffs_now(path))

    def _load_coeffs_now(self, path: Path) -> None:
        from core.audio.coeff_csv import read_coefficients_csv

        self._pending_coeffs = (read_coefficients_csv(path).driver, Path(path))

    def _apply_pending(self) -> None:
        """Swap in finished loads on the UI thread."""
        if self._pending_engine is not None:
            path = self._pending_engine
            self._pending_engine = None
            self.worker.set_subject(path)
            self.performance.clear()
            self.portrait_path = Path(path)
            self._last_request = None
            self.say(f"portrait: {Path(path).name}")
        if self._pending_audio is not None:
            samples, coeffs, path = self._pending_audio
            self._pending_audio = None
            old = self.session.clock
            was_playing = old.playing
            old.close()
            clock = open_clock(samples, 16000)
            clock.loop = old.loop
            if was_playing:
                clock.play()
            self.session.clock = clock
            self._audio_file = Path(path)
            if coeffs is not None:
                self.worker.set_driver(coeffs)
                self._coeffs_file = None
            self.performance.clear()
            self._last_request = None
            self.say(f"audio: {Path(path).name}, {len(samples) / 16000:.1f} s; {clock.status}")
        if self._pending_coeffs is not None and self._pending_audio is None:
            driver, path = self._pending_coeffs
            self._pending_coeffs = None
            self.worker.set_driver(driver)
            self._coeffs_file = path
            self.performance.clear()
            self._last_request = None
            self.say(f"coefficients: {path.name}, {len(driver) / 25:.1f} s drive the face")
        if self._autoplay and self.ready and self._audio_file is not None and self.worker.rendered > 0:
            self._autoplay = False
            self.session.clock.play()  # both ready: start playing once
        for key, task in list(self.tasks.items()):
            if task.done:
                if task.error:
                    self.say(f"{task.name} failed: {task.error}")
                del self.tasks[key]

    # ------------------------------------------------------------------ controls
    def set_setting(self, **changes) -> None:
        self.session.settings = self.session.settings.with_(**changes)

    def choose_size(self, size: int) -> None:
        """The user picked a resolution: it is kept from now on."""
        self._size_chosen = True
        self.set_setting(size=size)

    def live_size(self) -> int | None:
        """The default resolution for the render process's renderer, once known and while the
        user has not picked one (then it is applied and None is returned from then on)."""
        if self._size_chosen or self.worker.renderer is None:
            return None
        self._size_chosen = True
        size = LIVE_SIZE_PX.get(self.worker.renderer, self.session.settings.size)
        self.set_setting(size=size)
        return size

    def reset_view(self) -> None:
        """Back to the photo's own view angle with the default framing (double-click, Reset view)."""
        self.set_setting(pose=OrbitPose(), framing=self.home_framing)

    def toggle_play(self) -> None:
        clock = self.session.clock
        clock.pause() if clock.playing else clock.play()

    def restart(self) -> None:
        self.session.clock.seek(0.0)
        self.session.clock.play()

    def toggle_microphone(self, on: bool, simulated: np.ndarray | None = None) -> bool:
        """Microphone mode on/off. ``simulated``: 16 kHz speech played in instead of a device."""
        from viewer.microphone import LiveMouth

        if on and self._mic is None:
            mic = LiveMouth()
            try:
                if simulated is not None:
                    mic.start_simulated(simulated)
                else:
                    mic.start_device()
            except Exception as exc:
                mic.close()
                self.say(f"microphone unavailable: {str(exc).splitlines()[0] if str(exc) else exc}")
                return False
            self._mic = mic
            self.mic_latencies.clear()
            self._sound_times.clear()
            self.session.clock.pause()
            self.say("microphone on: speak")
        elif not on and self._mic is not None:
            self._mic.close()
            self._mic = None
            self.session.stop_live()
            self.say("microphone off")
        return on

    def export_command(self, out: Path, mode: str = "view") -> list[str]:
        """The ``main.py render`` command line that exports ``mode``: "view" (the current view
        and sliders), "orbit" (the turntable path) or "performance" (what was shown while
        playing, frame by frame: its recording is written beside ``out`` as .performance.json)."""
        import sys

        from core.paths import PROJECT_ROOT

        if not self.ready or self._audio_file is None:
            raise UserInputError("Load a portrait and an audio file first.")
        if mode not in EXPORT_MODES.values():
            raise ValueError(f"export mode {mode!r}")
        s = self.session.settings
        cmd = [sys.executable, str(PROJECT_ROOT / "main.py"), "render", "--portrait", str(self.portrait_path),
               "--audio", str(self._audio_file), "--out", str(out), "--size", str(max(s.size, EXPORT_MIN_SIZE)),
               "--yaw", f"{s.pose.yaw_deg:.3f}", "--pitch", f"{s.pose.pitch_deg:.3f}",
               "--zoom", f"{s.pose.zoom:.4f}", "--framing", s.framing,
               "--alpha-m", f"{s.alpha_m:.4f}", "--lambda-exp", f"{s.lambda_exp:.4f}",
               "--mask-window", str(s.mask_window), "--blink-rate", f"{s.natural.blink_rate:.3f}",
               "--head-motion", f"{s.natural.head_motion:.3f}", "--seed", str(s.natural.seed), "--gaze", s.natural.gaze,
               "--device", self.device, "--renderer", self.renderer]
        if self._coeffs_file is not None:
            cmd += ["--coeffs", str(self._coeffs_file)]
        if mode == "orbit":
            cmd.append("--orbit")
        elif mode == "performance":
            if not len(self.performance):
                raise UserInputError("Nothing performed yet: play the audio (drag, move the sliders), then export.")
            recording = Path(out).with_suffix(".performance.json")
            self.performance.portrait, self.performance.audio = self.portrait_path, self._audio_file
            self.performance.save(recording)
            cmd += ["--performance", str(recording)]
        return cmd

    def export_video(self, out: Path, mode: str = "view") -> None:
        """Render a video with sound in a separate process (the view stays live)."""
        import re
        import subprocess

        self._export_dir = Path(out).absolute().parent

        def job(task: Task):
            cmd = self.export_command(out, mode)
            before = set(partial_files(out))
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
            self._exports.append((proc, Path(out), before))
            if self._closed:  # the viewer closed while this started
                self._cancel_exports()
            tail: deque = deque(maxlen=5)
            for line in proc.stdout:
                tail.append(line.strip())
                m = re.search(r"(\d+(?:\.\d+)?)%", line)
                if m:
                    task.progress = float(m.group(1)) / 100.0
                    task.message = line.strip()[-40:]
            if proc.wait() != 0:
                if self._closed:
                    return  # stopped by close(): not a failure to report
                raise UserInputError(f"export failed: {' / '.join(tail)}")
            self.say(f"exported {out}")

        self._run_task("export", f"exporting {Path(out).name}", job)

    def _cancel_exports(self) -> None:
        """Stop the exports in progress and make sure no partial file of them remains (``main.py
        render`` removes its own on SIGTERM; one killed instead would leave it)."""
        running = [(proc, out, before) for proc, out, before in self._exports if proc.poll() is None]
        for proc, _, _ in running:
            proc.terminate()
        for proc, out, before in running:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            for part in set(partial_files(out)) - before:
                part.unlink(missing_ok=True)

    def views_folder(self) -> Path:
        """Where S saves the view: the folder of the last export, else ``out/`` here."""
        return self._export_dir if self._export_dir is not None else Path.cwd() / "out"

    def save_view(self, folder: Path | None = None) -> Path | None:
        """Save the frame on screen (at its render size) as a PNG named by the time; says where."""
        shown = self._shown
        if shown is None or shown.image is None:
            self.say("no frame to save yet")
            return None
        folder = Path(folder) if folder is not None else self.views_folder()
        stamp = time.strftime("%Y%m%d-%H%M%S")
        path, n = folder / f"view_{stamp}.png", 2
        while path.exists():
            path, n = folder / f"view_{stamp}_{n}.png", n + 1
        try:
            folder.mkdir(parents=True, exist_ok=True)
            ok = cv2.imwrite(str(path), cv2.cvtColor(shown.image, cv2.COLOR_RGB2BGR))
        except (OSError, cv2.error) as exc:
            ok, why = False, str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        else:
            why = "could not write the file"
        if not ok:
            self.say(f"saving the view failed: {path}: {why}")
            return None
        self.say(f"saved view: {path}")
        return path

    # ------------------------------------------------------------------ per UI frame
    def tick(self) -> None:
        now = time.perf_counter()
        self._ui_times.append(now)
        self._apply_pending()
        sound_at = None
        if self._mic is not None:
            # The frame that is due when its render will be done (measured latency + margin).
            lead = self.session.scheduler.latency_s + self.session.scheduler.margin_s
            live = self._mic.current(now + lead)
            sound_at = live.sound_at if live is not None else None
            if live is not None:
                self.session.push_live_frame(live.index, live.coefficients)
            else:
                self.session.push_live_frame(None, np.zeros(NUM_EXPRESSIONS, np.float32))
        if self.ready:
            request = self.session.request()
            if request != self._last_request:
                self.worker.submit(request)
                self._submit_times[request] = time.perf_counter()
                if len(self._submit_times) > 64:
                    self._submit_times.pop(next(iter(self._submit_times)))
                if sound_at is not None:
                    self._sound_times[request] = sound_at
                    if len(self._sound_times) > 64:
                        self._sound_times.pop(next(iter(self._sound_times)))
                self._last_request = request

    def take_new_frame(self) -> np.ndarray | None:
        """The newest finished frame as display RGBA float when it is due, or None."""
        res = self.worker.latest()
        if res is None or res.serial == self._uploaded_serial or res.image is None:
            return None
        clock = self.session.clock
        k = res.request.frame_index
        if res.serial != self._observed_serial:
            self._observed_serial = res.serial
            self.session.scheduler.observe(res.finished_at - self._submit_times.get(res.request, res.finished_at))
        if k is not None and clock.playing and not self.session.live:
            if not self.session.scheduler.due(k, clock.time()):
                return None  # rendered ahead: hold it until its time
            self.offsets.append(self.session.scheduler.offset_ms(k, clock.time()))
        if k is not None and clock.playing and not self.session.live:
            self.performance.record(res.request)  # what the user sees, for "Export: what I performed"
        self._uploaded_serial = res.serial
        self._shown = res
        sound_at = self._sound_times.pop(res.request, None)
        if sound_at is not None:  # microphone: sound at the frame's start -> its image is shown
            self.mic_latencies.append(time.perf_counter() - sound_at)
        self._frame_times.append(res.finished_at)
        img = res.image
        if img.shape[0] != DISPLAY_PX:
            img = cv2.resize(img, (DISPLAY_PX, DISPLAY_PX), interpolation=cv2.INTER_LINEAR)
        self._texture[..., :3] = img.astype(np.float32) * (1.0 / 255.0)
        return self._texture

    def status_line(self) -> str:
        parts = []
        if len(self._frame_times) > 1:
            span = self._frame_times[-1] - self._frame_times[0]
            parts.append(f"{(len(self._frame_times) - 1) / max(span, 1e-6):.1f} fps")
        if self._shown is not None:
            parts.append(f"render {self._shown.render_s * 1000:.0f} ms")
            parts.append(view_from_photo(self._shown.request.pose))
            off = self.session.av_offset_ms(self._shown.request) if not self.session.live else None
            if off is not None and self.session.clock.playing:
                parts.append(f"A/V {off:+.0f} ms")
        if self._mic is not None and self._mic.error:
            parts.append(f"mic: recogniser stopped ({self._mic.error}); mouth follows loudness only")
        elif self._mic is not None and not self._mic.ready:
            parts.append("microphone starting...")
        elif self._mic is not None and self.mic_latencies:
            share = self._mic.settled_share
            parts.append(f"mic: mouth {np.median(self.mic_latencies) * 1000:.0f} ms behind sound"
                         + (f", {share * 100:.0f}% recognised in time" if share is not None else ""))
        if len(self._ui_times) > 1:
            parts.append(f"UI {(len(self._ui_times) - 1) / max(self._ui_times[-1] - self._ui_times[0], 1e-6):.0f} fps")
        return "   ".join(parts)

    def close(self) -> None:
        """End everything the viewer started: the export (its partial file removed), the
        microphone and its recogniser process, the render process and its shared memory, the
        sound stream; background tasks stop at their next progress report (waited for, up to
        ``TASK_JOIN_S``). Idempotent; each step runs even if one before it fails."""
        if self._closed:
            return
        self._closed = True
        mic = self._mic
        for step in (self._cancel_exports, mic.close if mic is not None else None, self.worker.stop,
                     self.session.clock.close):
            if step is None:
                continue
            try:
                step()
            except Exception:
                traceback.print_exc()
        deadline = time.monotonic() + TASK_JOIN_S
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=max(0.0, deadline - time.monotonic()))


_SIGNAL_EXIT = {signal.SIGINT: "interrupted", signal.SIGTERM: "terminated"}


def _stop_on_signals(received: list) -> dict:
    """SIGINT and SIGTERM append to ``received`` (the loop then ends and the viewer closes
    normally) instead of raising wherever the UI thread is. A signal the process was started
    ignoring stays ignored. Returns the previous handlers, for ``_restore_signals``."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum, frame):
        received.append(signum)

    previous = {}
    for sig in _SIGNAL_EXIT:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_signals(previous: dict) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)


def run_viewer(portrait: Path | None = None, audio: Path | None = None, device: str = "auto",
               automation: Path | None = None, max_seconds: float | None = None, loop: bool = False,
               framing: str = DEFAULT_FRAMING, zoom: float = 1.0, natural: "NaturalMotion | None" = None,
               renderer: str = "auto", coeffs: Path | None = None) -> int:
    """Open the window (the caller has checked that a display exists). ``natural``: the blink
    rate, head motion, seed and gaze to start with (default: the render options' defaults);
    ``coeffs``: a coefficient CSV that drives the face instead of the audio."""
    import dearpygui.dearpygui as dpg

    stop_signals: list[int] = []
    previous_handlers = _stop_on_signals(stop_signals)  # from here a signal only ends the loop
    app = ViewerApp(portrait, audio, device, loop, framing, zoom, renderer, coeffs)
    if natural is not None:
        app.set_setting(blink_rate=natural.blink_rate, head_motion=natural.head_motion, seed=natural.seed,
                        gaze=natural.gaze)
    defaults = ViewSettings()  # the sliders start at the render options' defaults
    now = app.session.settings.natural
    defaults = defaults.with_(blink_rate=now.blink_rate, head_motion=now.head_motion, seed=now.seed, gaze=now.gaze)
    dpg.create_context()
    with dpg.texture_registry():
        dpg.add_raw_texture(DISPLAY_PX, DISPLAY_PX, app._texture, format=dpg.mvFormat_Float_rgba, tag="frame_tex")

    def on_portrait(sender, data):
        path = Path(data.get("file_path_name", ""))
        if path.suffix:
            app.load_portrait(path)

    def on_audio(sender, data):
        path = Path(data.get("file_path_name", ""))
        if path.suffix:
            app.load_audio(path)

    def on_coeffs(sender, data):
        path = Path(data.get("file_path_name", ""))
        if path.suffix:
            app.load_coefficients(path)

    def on_export(sender, data):
        path = Path(data.get("file_path_name", ""))
        if path.name:
            app.export_video(path.with_suffix(".mp4"), EXPORT_MODES[dpg.get_value("export_mode")])

    for tag, cb, exts in (("dlg_portrait", on_portrait, IMAGE_EXTS), ("dlg_audio", on_audio, AUDIO_EXTS),
                          ("dlg_coeffs", on_coeffs, COEFFS_EXTS)):
        with dpg.file_dialog(tag=tag, show=False, callback=cb, width=700, height=420, modal=True):
            dpg.add_file_extension("{" + ",".join(exts) + "}", color=(120, 220, 120, 255))
            dpg.add_file_extension(".*")
    with dpg.file_dialog(tag="dlg_export", show=False, callback=on_export, width=700, height=420, modal=True,
                         default_filename="talking_head"):
        dpg.add_file_extension(".mp4")

    with dpg.window(tag="main", no_scrollbar=True):
        with dpg.group(horizontal=True):
            dpg.add_image("frame_tex", tag="view", width=DISPLAY_PX, height=DISPLAY_PX)
            with dpg.group():
                with dpg.group(horizontal=True):
                    dpg.add_button(label="Open portrait...", width=PANEL_PX // 2 - 4,
                                   callback=lambda: dpg.show_item("dlg_portrait"))
                    dpg.add_button(label="Open audio...", width=PANEL_PX // 2 - 4,
                                   callback=lambda: dpg.show_item("dlg_audio"))
                dpg.add_button(label="Open coefficients (CSV)...", width=PANEL_PX,
                               callback=lambda: dpg.show_item("dlg_coeffs"))
                dpg.add_checkbox(label="Microphone", tag="mic",
                                 callback=lambda s, v: dpg.set_value("mic", bool(app.toggle_microphone(v))))
                with dpg.group(horizontal=True):
                    dpg.add_button(label="Play / Pause", tag="play", width=100, callback=lambda: app.toggle_play())
                    dpg.add_button(label="Restart", width=70, callback=lambda: app.restart())
                    dpg.add_checkbox(label="Loop", tag="loop", default_value=loop,
                                     callback=lambda s, v: setattr(app.session.clock, "loop", bool(v)))
                dpg.add_slider_float(label="time (s)", tag="time", width=PANEL_PX, min_value=0.0, max_value=1.0,
                                     callback=lambda s, v: app.session.clock.seek(v))
                dpg.add_separator()
                dpg.add_slider_float(label="alpha_m", tag="alpha_m", width=PANEL_PX, default_value=defaults.alpha_m, min_value=0.0, max_value=1.0,
                                     callback=lambda s, v: app.set_setting(alpha_m=float(v)))
                dpg.add_slider_float(label="lambda_exp", tag="lambda_exp", width=PANEL_PX, default_value=defaults.lambda_exp, min_value=0.0,
                                     max_value=3.0, callback=lambda s, v: app.set_setting(lambda_exp=float(v)))
                dpg.add_slider_int(label="mask window n", tag="mask_window", width=PANEL_PX, default_value=defaults.mask_window, min_value=1,
                                   max_value=15, callback=lambda s, v: app.set_setting(mask_window=int(v)))
                dpg.add_slider_float(label="blinks / min", tag="blink_rate", width=PANEL_PX, default_value=defaults.natural.blink_rate,
                                     min_value=0.0, max_value=40.0, callback=lambda s, v: app.set_setting(blink_rate=float(v)))
                dpg.add_slider_float(label="head motion", tag="head_motion", width=PANEL_PX, default_value=defaults.natural.head_motion,
                                     min_value=0.0, max_value=2.0, callback=lambda s, v: app.set_setting(head_motion=float(v)))
                gaze_label = {v: k for k, v in GAZE_CHOICES.items()}[defaults.natural.gaze]
                dpg.add_combo(list(GAZE_CHOICES), label="gaze", tag="gaze", width=PANEL_PX, default_value=gaze_label,
                              callback=lambda s, v: app.set_setting(gaze=GAZE_CHOICES[v]))
                dpg.add_input_int(label="motion seed", tag="seed", width=PANEL_PX, default_value=defaults.natural.seed,
                                  callback=lambda s, v: app.set_setting(seed=int(v)))
                dpg.add_combo(RESOLUTIONS, label="resolution", tag="resolution", width=PANEL_PX, default_value=str(defaults.size),
                              callback=lambda s, v: app.choose_size(int(v)))
                dpg.add_button(label="Reset view", width=PANEL_PX, callback=lambda: app.reset_view())
                dpg.add_separator()
                dpg.add_radio_button(list(EXPORT_MODES), tag="export_mode", default_value="current view")
                dpg.add_button(label="Export video...", width=PANEL_PX, callback=lambda: dpg.show_item("dlg_export"))
                dpg.add_progress_bar(tag="progress", default_value=0.0, width=PANEL_PX, show=False)
                dpg.add_text("", tag="task_text", wrap=PANEL_PX + 100)
                dpg.add_separator()
                dpg.add_text(KEYS_HELP, color=(160, 160, 160))
                dpg.add_text("", tag="messages", wrap=PANEL_PX + 100)
        dpg.add_text("", tag="status")

    def on_down(sender, data):
        if dpg.is_item_hovered("view"):
            app._drag_start = app.session.settings.pose

    def on_drag(sender, data):
        if app._drag_start is not None:
            app.set_setting(pose=app._drag_start.dragged(data[1], data[2]))

    def on_release(sender, data):
        app._drag_start = None

    def on_wheel(sender, data):
        if dpg.is_item_hovered("view"):
            app.set_setting(pose=app.session.settings.pose.zoomed(float(data)))

    def on_double(sender, data):
        if dpg.is_item_hovered("view"):
            app.reset_view()

    key_names = {dpg.mvKey_Spacebar: "space", dpg.mvKey_R: "r", dpg.mvKey_S: "s", dpg.mvKey_Left: "left",
                 dpg.mvKey_Right: "right", dpg.mvKey_Up: "up", dpg.mvKey_Down: "down"}

    def keys_blocked() -> bool:
        """A file dialog is open, or a control takes the keys (a slider typed into, the combo)."""
        return (any(dpg.is_item_shown(d) for d in ("dlg_portrait", "dlg_audio", "dlg_export"))
                or any(dpg.is_item_active(t) for t in ("time", "alpha_m", "lambda_exp", "mask_window", "blink_rate",
                                                       "head_motion", "seed", "resolution")))

    def on_key(sender, key):
        if key in key_names and not keys_blocked():
            apply_key(app, key_names[key])

    with dpg.handler_registry():
        dpg.add_key_press_handler(callback=on_key)  # repeats while held
        dpg.add_mouse_click_handler(button=dpg.mvMouseButton_Left, callback=on_down)
        dpg.add_mouse_drag_handler(button=dpg.mvMouseButton_Left, threshold=2.0, callback=on_drag)
        dpg.add_mouse_release_handler(button=dpg.mvMouseButton_Left, callback=on_release)
        dpg.add_mouse_wheel_handler(callback=on_wheel)
        dpg.add_mouse_double_click_handler(button=dpg.mvMouseButton_Left, callback=on_double)

    dpg.create_viewport(title="Talking head", width=DISPLAY_PX + PANEL_PX + 150, height=DISPLAY_PX + 70, vsync=True)
    dpg.setup_dearpygui()
    dpg.show_viewport()
    dpg.set_primary_window("main", True)
    started = time.perf_counter()
    pending_capture: list = []
    try:
        while dpg.is_dearpygui_running() and not stop_signals:
            frame_start = time.perf_counter()
            app.tick()
            if (size := app.live_size()) is not None:
                dpg.set_value("resolution", str(size))
            tex = app.take_new_frame()
            if tex is not None:
                dpg.set_value("frame_tex", tex)
            clock = app.session.clock
            if not dpg.is_item_active("time"):
                dpg.configure_item("time", max_value=max(clock.duration, 0.01))
                dpg.set_value("time", clock.time())
            dpg.set_value("mic", app._mic is not None)  # also when turned on by the automation hook
            dpg.set_value("status", app.status_line() + ("" if clock.audible else "   (silent: no sound device)"))
            dpg.set_value("messages", "\n".join(app.messages))
            if app.tasks:
                task = next(iter(app.tasks.values()))
                dpg.configure_item("progress", show=True)
                dpg.set_value("progress", task.progress)
                dpg.set_value("task_text", f"{task.name}: {task.message}")
            else:
                dpg.configure_item("progress", show=False)
                dpg.set_value("task_text", "")
            if automation is not None:
                _automation_step(app, dpg, automation, pending_capture)
            dpg.render_dearpygui_frame()
            # Leave the CPU to the renderer: a UI faster than UI_FPS_CAP shows nothing new.
            spare = 1.0 / UI_FPS_CAP - (time.perf_counter() - frame_start)
            if spare > 0:
                time.sleep(spare)
            if max_seconds is not None and time.perf_counter() - started > max_seconds:
                break
    finally:
        app.close()
        dpg.destroy_context()
        _restore_signals(previous_handlers)
    if stop_signals:
        print(_SIGNAL_EXIT[stop_signals[0]], file=sys.stderr, flush=True)
        return 128 + stop_signals[0]
    return 0


def _offset_stats(offsets) -> dict | None:
    if not offsets:
        return None
    o = np.asarray(offsets, np.float64)
    return {"count": int(o.size), "median_ms": float(np.median(o)), "p95_ms": float(np.percentile(o, 95)),
            "max_ms": float(o.max()), "min_ms": float(o.min()), "within_one_frame": float(np.mean((o >= 0) & (o < 40)))}


def _latency_stats(seconds) -> dict | None:
    if not seconds:
        return None
    ms = np.asarray(seconds, np.float64) * 1000
    return {"median": float(np.median(ms)), "p95": float(np.percentile(ms, 95)), "max": float(ms.max()),
            "n": int(ms.size)}


def _automation_step(app: ViewerApp, dpg, path: Path, pending_capture: list) -> None:
    """Test hook: write the viewer's state as JSON, run commands from ``<path>.cmd``."""
    now = time.perf_counter()
    cmd_file = path.with_suffix(".cmd")
    if cmd_file.exists():
        try:
            cmd = json.loads(cmd_file.read_text())
            cmd_file.unlink()
        except (OSError, json.JSONDecodeError):
            cmd = {}
        if "capture" in cmd:
            dpg.output_frame_buffer(file=cmd["capture"])
        if "mic_file" in cmd:  # a recording played in as if spoken into the microphone
            from core.audio.loading import load_audio

            try:
                app.toggle_microphone(True, simulated=load_audio(cmd["mic_file"]))
            except ValueError as exc:  # an unusable file: say so, keep the viewer running
                app.say(f"microphone file: {exc}")
        if "export" in cmd:  # {"export": "out.mp4", "mode": "view"}: what the Export button does
            app.export_video(Path(cmd["export"]), str(cmd.get("mode", "view")))
        if cmd.get("quit"):
            dpg.stop_dearpygui()
    if now - app._last_state_write < 0.2:
        return
    app._last_state_write = now
    rects = {}
    for tag in ("view", "alpha_m", "lambda_exp", "mask_window", "play"):
        rects[tag] = {"min": list(dpg.get_item_rect_min(tag)), "size": list(dpg.get_item_rect_size(tag))}
    shown = app._shown.request if app._shown is not None else None
    ui = list(app._ui_times)
    state = {
        "frames_uploaded": app._uploaded_serial,
        "engine_ready": app.ready,
        "pose": vars(app.session.settings.pose) if hasattr(app.session.settings.pose, "__dict__") else None,
        "settings": {"alpha_m": app.session.settings.alpha_m, "lambda_exp": app.session.settings.lambda_exp,
                     "mask_window": app.session.settings.mask_window},
        "rendered": None if shown is None else {"alpha_m": shown.motion.alpha_m, "lambda_exp": shown.motion.lambda_exp,
                                                "mask_window": shown.mask_window, "yaw": shown.pose.yaw_deg,
                                                "size": shown.size,
                                                "pitch": shown.pose.pitch_deg, "frame_index": shown.frame_index,
                                                "jaw_open": (None if shown.coefficients is None
                                                             else shown.coefficients[EXPRESSION_INDEX["jawOpen"]])},
        "ui_fps": (len(ui) - 1) / max(ui[-1] - ui[0], 1e-6) if len(ui) > 1 else 0.0,
        "clock": {"time": app.session.clock.time(), "playing": app.session.clock.playing,
                  "audible": app.session.clock.audible, "status": app.session.clock.status},
        "av_offset_ms": None if shown is None else app.session.av_offset_ms(shown),
        "offsets_ms": list(app.offsets)[-200:],
        "offset_stats": _offset_stats(app.offsets),
        "latency_ms": app.session.scheduler.latency_s * 1000,
        "render_ms": None if app._shown is None else app._shown.render_s * 1000,
        "dropped": app.worker.dropped,
        "renderer": app.worker.renderer,
        "mic": None if app._mic is None else {
            "sound_to_shown_ms": _latency_stats(app.mic_latencies),
            "recogniser_ms": _latency_stats(app._mic.latencies),
            "settled_share": app._mic.settled_share},
        "rects": rects,
        "messages": list(app.messages),
        "tasks": {key: {"progress": task.progress, "message": task.message} for key, task in list(app.tasks.items())},
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    tmp.replace(path)
