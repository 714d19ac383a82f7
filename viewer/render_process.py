"""The engine in a child process, behind a single latest-request slot (``viewer.frame_slot``).

A DearPyGui frame holds the GIL while it draws, so a render thread in the UI process waits for
the GIL between its many small tensor operations and slows down by an order of magnitude. The
child process renders without that contention; frames come back through shared memory. The
slot's pump thread in the UI process forwards only the newest pending request when the child is
idle (late frames are dropped, never queued) and publishes each finished frame in a result slot.

Exit: the parent decides when the child stops. The child ignores SIGINT (a Ctrl+C in a terminal
reaches the whole process group) and ends on the parent's ``quit`` message or when its pipe
closes (the parent is gone). ``stop()`` may be called any number of times, from a ``finally``
block or a signal handler; the shared memory is unlinked exactly once.
"""
from __future__ import annotations

import contextlib
import multiprocessing as mp
import signal
import threading
import time
from multiprocessing import shared_memory
from pathlib import Path

import numpy as np

from viewer.frame_slot import FinishedFrame, FrameSlot, Message

MAX_SIZE = 1024


@contextlib.contextmanager
def sigint_ignored():
    """Start a child process inside this block and it is born ignoring SIGINT (the disposition
    survives exec), so a Ctrl+C during its start-up cannot interrupt it. Only the main thread may
    change signal handlers; elsewhere the child ignores SIGINT once its own code runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _child_main(conn, shm_name: str, device: str, renderer: str = "auto") -> None:
    import os

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when this process ends
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
            try:
                kind, payload = conn.recv()
            except (EOFError, OSError):  # the parent is gone: quit quietly
                break
            try:
                if kind == "quit":
                    break
                if kind == "subject":
                    if engine is not None:
                        engine.close()
                    engine = Engine(prepare(Path(payload)).subject, device, renderer=renderer)
                    if driver is not None:
                        engine.set_driver(driver)
                    from core.engine import FrameRequest

                    engine.render(FrameRequest(size=128))  # warm-up: first-call costs off the clock
                    conn.send(("ok", (str(engine.device), engine.renderer)))
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
            except (ConnectionError, EOFError):  # nobody to reply to: quit
                break
            except Exception as exc:  # report, keep serving
                try:
                    conn.send(("error", f"{type(exc).__name__}: {exc}"))
                except (OSError, EOFError):
                    break
    finally:
        del frame_buf
        shm.close()


class RenderProcess:
    """submit(request) / latest() on a single latest-request slot; set_subject(path) /
    set_driver(array) go to the child before any pending request."""

    def __init__(self, device: str = "auto", on_error=None, renderer: str = "auto"):
        ctx = mp.get_context("spawn")
        self._stop_lock = threading.Lock()   # held for good by the first stop()
        self._send_lock = threading.Lock()   # the pump and stop() both send on the pipe
        self._stopping = False
        self._on_error = on_error
        self._shm = shared_memory.SharedMemory(create=True, size=MAX_SIZE * MAX_SIZE * 3)
        self._frames = np.ndarray((MAX_SIZE, MAX_SIZE, 3), np.uint8, buffer=self._shm.buf)
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_child_main, args=(child, self._shm.name, device, renderer), daemon=True,
                                 name="render-process")
        try:
            with sigint_ignored():
                self._proc.start()
        except BaseException:
            self._shm.close()
            self._shm.unlink()
            raise
        child.close()  # the child's end lives in the child: its exit closes the pipe for us
        self.device: str | None = None  # the engine's device and renderer, once a subject is loaded
        self.renderer: str | None = None
        self._slot = FrameSlot(self._exchange, self._report)

    def _report(self, exc: BaseException) -> None:
        if not self._stopping and self._on_error is not None:  # a pipe closing on exit is no error
            self._on_error(exc)

    def _exchange(self, message: Message) -> Message:
        """Send one message to the child and wait for its reply (a frame is read from shared memory)."""
        with self._send_lock:
            if self._stopping:
                raise EOFError("stopping")
            self._conn.send(message)
        kind, payload = self._conn.recv()
        if kind == "ok" and message[0] == "subject":
            self.device, self.renderer = payload
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

    def stop(self, timeout: float = 5.0) -> None:
        """End the child (after the render in flight), the pump, and free the shared memory.
        Idempotent and never blocking on a second call; bounded in time (the child is terminated,
        then killed, if it does not quit)."""
        if not self._stop_lock.acquire(blocking=False):
            return
        self._stopping = True
        self._slot.stop(timeout=0)  # no new message goes out; the one in flight finishes
        try:
            if self._send_lock.acquire(timeout=timeout):
                try:
                    self._conn.send(("quit", None))
                except (OSError, ValueError):
                    pass
                finally:
                    self._send_lock.release()
            self._proc.join(timeout=timeout)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(timeout=2)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join(timeout=2)
            self._slot.stop(timeout=2)  # the pump sees the reply or the closed pipe
            self._conn.close()
        finally:
            self._frames = None
            try:
                self._shm.close()
            except BufferError:  # a pump stuck mid-copy still holds a view: unlinking is what counts
                pass
            try:
                self._shm.unlink()
            except FileNotFoundError:
                pass
