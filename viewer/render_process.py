"""The engine in a child process, behind the same single-slot interface as ``RenderWorker``.

A DearPyGui frame holds the GIL while it draws, so a render thread in the UI process waits for
the GIL between its many small tensor operations and slows down by an order of magnitude. The
child process renders without that contention; frames come back through shared memory. A pump
thread in the UI process forwards only the newest pending request when the child is idle (late
frames are dropped, never queued) and publishes each finished frame in a result slot.
"""
from __future__ import annotations

import multiprocessing as mp
import threading
import time
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from viewer.render_worker import FinishedFrame

MAX_SIZE = 1024


def _child_main(conn, shm_name: str, device: str) -> None:
    import os

    os.environ.setdefault("GLOG_minloglevel", "2")
    import torch

    # Leave a core to the UI process (DearPyGui, and Mesa's software GL under Xvfb): two
    # processes competing for every core make torch's thread barriers stall.
    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))
    from core.engine import Engine
    from core.preprocess.pipeline import prepare

    shm = shared_memory.SharedMemory(name=shm_name)
    frame_buf = np.ndarray((MAX_SIZE, MAX_SIZE, 3), np.uint8, buffer=shm.buf)
    engine = None
    driver = None
    try:
        while True:
            kind, payload = conn.recv()
            try:
                if kind == "quit":
                    break
                if kind == "subject":
                    engine = Engine(prepare(Path(payload)).subject, device)
                    if driver is not None:
                        engine.set_driver(driver)
                    from core.engine import FrameRequest

                    engine.render(FrameRequest(size=128))  # warm-up: first-call costs off the clock
                    conn.send(("ok", str(engine.device)))
                elif kind == "driver":
                    driver = payload
                    if engine is not None:
                        engine.set_driver(driver)
                    conn.send(("ok", None))
                elif kind == "render":
                    if engine is None:
                        conn.send(("error", "no portrait loaded"))
                        continue
                    t = time.perf_counter()
                    img = engine.render(payload)
                    h, w = img.shape[:2]
                    frame_buf[:h, :w] = img
                    conn.send(("frame", (h, w, time.perf_counter() - t)))
            except Exception as exc:  # report, keep serving
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        del frame_buf
        shm.close()


class RenderProcess:
    """submit(request) / latest() like RenderWorker; set_subject(path) / set_driver(array)."""

    def __init__(self, device: str = "auto", on_error=None):
        ctx = mp.get_context("spawn")
        self._shm = shared_memory.SharedMemory(create=True, size=MAX_SIZE * MAX_SIZE * 3)
        self._frames = np.ndarray((MAX_SIZE, MAX_SIZE, 3), np.uint8, buffer=self._shm.buf)
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child_main, args=(child, self._shm.name, device), daemon=True,
                                 name="render-process")
        self._proc.start()
        self._on_error = on_error
        self._cond = threading.Condition()
        self._commands: list = []
        self._pending = None
        self._result: FinishedFrame | None = None
        self._serial = 0
        self._stop = False
        self.dropped = 0
        self.rendered = 0
        self.device: str | None = None
        self._thread = threading.Thread(target=self._pump, name="render-pump", daemon=True)
        self._thread.start()

    def set_subject(self, portrait: Path) -> None:
        """Load a prepared portrait (its cache entry must exist) in the child."""
        with self._cond:
            self._commands.append(("subject", str(portrait)))
            self._cond.notify()

    def set_driver(self, coefficients: np.ndarray) -> None:
        with self._cond:
            self._commands.append(("driver", np.asarray(coefficients, np.float32)))
            self._cond.notify()

    def submit(self, request) -> None:
        with self._cond:
            if self._pending is not None:
                self.dropped += 1
            self._pending = request
            self._cond.notify()

    def latest(self) -> FinishedFrame | None:
        with self._cond:
            return self._result

    def _pump(self) -> None:
        while True:
            with self._cond:
                while not self._stop and not self._commands and self._pending is None:
                    self._cond.wait()
                if self._stop:
                    return
                if self._commands:
                    message = self._commands.pop(0)
                else:
                    message = ("render", self._pending)
                    self._pending = None
            try:
                self._conn.send(message)
                kind, payload = self._conn.recv()
            except (EOFError, OSError, BrokenPipeError) as exc:
                if self._on_error:
                    self._on_error(RuntimeError(f"render process stopped ({exc})"))
                return
            if kind == "error":
                if self._on_error:
                    self._on_error(RuntimeError(payload))
            elif kind == "ok" and message[0] == "subject":
                self.device = payload
            elif kind == "frame":
                h, w, render_s = payload
                image = self._frames[:h, :w].copy()
                with self._cond:
                    self._serial += 1
                    self.rendered += 1
                    self._result = FinishedFrame(message[1], image, render_s, time.perf_counter(), self._serial)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)
        try:
            self._conn.send(("quit", None))
        except (OSError, BrokenPipeError):
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.terminate()
        self._shm.close()
        self._shm.unlink()
