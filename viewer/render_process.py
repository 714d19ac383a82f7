"""The engine in a child process, behind a single latest-request slot (``viewer.frame_slot``).

A DearPyGui frame holds the GIL while it draws, so a render thread in the UI process waits for
the GIL between its many small tensor operations and slows down by an order of magnitude. The
child process renders without that contention; frames come back through shared memory. The
slot's pump thread in the UI process forwards only the newest pending request when the child is
idle (late frames are dropped, never queued) and publishes each finished frame in a result slot.
"""
from __future__ import annotations

import multiprocessing as mp
import time
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from viewer.frame_slot import FinishedFrame, FrameSlot, Message

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
    """submit(request) / latest() on a single latest-request slot; set_subject(path) /
    set_driver(array) go to the child before any pending request."""

    def __init__(self, device: str = "auto", on_error=None):
        ctx = mp.get_context("spawn")
        self._shm = shared_memory.SharedMemory(create=True, size=MAX_SIZE * MAX_SIZE * 3)
        self._frames = np.ndarray((MAX_SIZE, MAX_SIZE, 3), np.uint8, buffer=self._shm.buf)
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child_main, args=(child, self._shm.name, device), daemon=True,
                                 name="render-process")
        self._proc.start()
        self.device: str | None = None
        self._slot = FrameSlot(self._exchange, on_error)

    def _exchange(self, message: Message) -> Message:
        """Send one message to the child and wait for its reply (a frame is read from shared memory)."""
        self._conn.send(message)
        kind, payload = self._conn.recv()
        if kind == "ok" and message[0] == "subject":
            self.device = payload
        elif kind == "frame":
            h, w, render_s = payload
            return kind, (self._frames[:h, :w].copy(), render_s)
        return kind, payload

    def set_subject(self, portrait: Path) -> None:
        """Load a prepared portrait (its cache entry must exist) in the child."""
        self._slot.command("subject", str(portrait))

    def set_driver(self, coefficients: np.ndarray) -> None:
        self._slot.command("driver", np.asarray(coefficients, np.float32))

    def submit(self, request) -> None:
        self._slot.submit(request)

    def latest(self) -> FinishedFrame | None:
        return self._slot.latest()

    @property
    def dropped(self) -> int:
        return self._slot.dropped

    @property
    def rendered(self) -> int:
        return self._slot.rendered

    def stop(self) -> None:
        self._slot.stop()
        try:
            self._conn.send(("quit", None))
        except (OSError, BrokenPipeError):
            pass
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.terminate()
        self._shm.close()
        self._shm.unlink()
