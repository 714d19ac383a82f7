"""A second engine in its own process, so that a video's frames render two at a time.

moderngl holds the interpreter lock while it draws and reads back, so inside one process the
Python work of one frame (expression, deformation, the mouth) cannot overlap the drawing of
another, and on two cores one of them idles much of the time. Frames are pure functions of their
requests (the engine keeps no history between them), so an engine in another process, built from
the same recipe and driver, renders any frame exactly as this one would.

    worker = FrameWorker(engine.recipe)    # starts the process: it builds its engine (a few seconds)
    worker.set_driver(engine.driver)       # may come later (after Audio2Exp)

or ``worker = FrameWorker()`` first (the process imports the engine's modules while it waits)
and ``worker.build(recipe)`` once there is one.
    for image in frames_in_order(engine, requests, worker): ...
    worker.close()

``frames_in_order`` hands frames to the worker while it is ready and renders the rest itself,
yielding images in request order. If the worker fails or dies, its frames are rendered here.
"""
from __future__ import annotations

import multiprocessing as mp
import signal
from collections import deque
from dataclasses import dataclass
from typing import Iterable, Iterator

import numpy as np

_FRAME, _STATUS = b"F", b"S"  # the first byte of each message from the worker
WORKER_AHEAD = 3  # frames handed to the worker before its first is back (keeps it busy)
RENDER_AHEAD = 32  # frames the parent renders past the oldest unwritten one (bounds memory)
STOP_GRACE_S = 5.0  # a closing worker's time to exit before it is killed


@dataclass(frozen=True)
class EngineRecipe:
    """What builds an engine like another one (picklable: sent to the worker process)."""

    subject: object
    device: str
    config: object
    expression: object
    renderer: str
    mesh: object
    head: object
    model: object = None  # None: the bundled face model

    def build(self):
        from core.engine import Engine

        return Engine(self.subject, self.device, self.model, config=self.config, expression=self.expression,
                      renderer=self.renderer, mesh=self.mesh, head=self.head)


def _on_sigterm(signum, frame):  # pragma: no cover - runs in the worker
    raise SystemExit(0)


def _send_status(conn, kind: str, text: str) -> None:
    conn.send_bytes(_STATUS + f"{kind}\n{text}".encode())


def _worker_main(conn) -> None:  # pragma: no cover - a child process
    """Build the engine from the recipe, then take ("driver", array) and ("frame", index,
    request) messages until None; say ready once both the engine and a driver are there."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what Ctrl+C does
    signal.signal(signal.SIGTERM, _on_sigterm)
    engine = None
    try:
        import core.engine  # noqa: F401 - the heavy imports, while the recipe is not there yet

        recipe = conn.recv()
        if recipe is None:  # closed before it was given one
            return
        engine = recipe.build()
        while True:
            task = conn.recv()
            if task is None:
                return
            if task[0] == "driver":
                engine.set_driver(task[1])
                _send_status(conn, "ready", engine.renderer)
                continue
            _, index, request = task
            image = engine.render(request)
            conn.send_bytes(_FRAME + np.int64(index).tobytes() + np.ascontiguousarray(image).tobytes())
    except (EOFError, BrokenPipeError, KeyboardInterrupt, SystemExit):
        return
    except BaseException as err:
        try:
            _send_status(conn, "error", f"{type(err).__name__}: {err}")
        except (OSError, BrokenPipeError):
            pass
    finally:
        if engine is not None:
            engine.close()
        conn.close()


class FrameWorker:
    """An engine in a child process (``spawn``: no fork of a process running GL or torch threads)."""

    def __init__(self, recipe: EngineRecipe | None = None):
        """Start the process; it builds its engine from ``recipe``, now or from ``build``."""
        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child,), name="frame-worker", daemon=True)
        self.process.start()
        child.close()
        self.ready = False
        self.failed: str | None = None
        self.pending: deque[int] = deque()  # frame indices handed over, oldest first
        if recipe is not None:
            self.build(recipe)

    def build(self, recipe: EngineRecipe) -> None:
        """The recipe of its engine (once, unless given to the constructor)."""
        self._send(recipe)

    def _send(self, message) -> None:
        try:
            self._conn.send(message)
        except (OSError, BrokenPipeError):
            self.failed = self.failed or "the frame worker stopped"

    def set_driver(self, driver: np.ndarray) -> None:
        """The driver [T, w] its engine renders (``Engine.set_driver``); ready once it has it."""
        self._send(("driver", np.asarray(driver)))

    def submit(self, index: int, request) -> None:
        self._send(("frame", index, request))
        self.pending.append(index)

    def receive(self, shape: tuple[int, ...], timeout: float = 0.0) -> list[tuple[int, np.ndarray]]:
        """Frames finished by now (waiting up to ``timeout`` s for the first): (index, uint8 image
        of ``shape``). Sets ``ready`` and ``failed`` from the worker's messages."""
        out: list[tuple[int, np.ndarray]] = []
        try:
            while not self.failed and self._conn.poll(timeout if not out else 0.0):
                message = self._conn.recv_bytes()
                if message[:1] == _STATUS:
                    kind, _, text = message[1:].decode().partition("\n")
                    if kind == "ready":
                        self.ready = True
                    else:
                        self.failed = text
                    continue
                index = int(np.frombuffer(message[1:9], np.int64)[0])
                out.append((index, np.frombuffer(message[9:], np.uint8).reshape(shape).copy()))
                self.pending.remove(index)
        except (EOFError, OSError):
            self.failed = self.failed or "the frame worker stopped"
        if not self.failed and not self.process.is_alive() and not out:
            self.failed = "the frame worker stopped"
        return out

    def close(self) -> None:
        """Stop the process (asking first, then SIGTERM, then SIGKILL) and reap it."""
        try:
            self._conn.send(None)
        except (OSError, BrokenPipeError):
            pass
        self.process.join(STOP_GRACE_S)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(STOP_GRACE_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self._conn.close()


def frames_in_order(engine, requests: Iterable, worker: FrameWorker | None = None) -> Iterator[np.ndarray]:
    """Render ``requests`` (``FrameRequest`` s) and yield their images in order. With a
    ``worker``, frames go to it while it is ready and keeps up; the rest are rendered by
    ``engine`` here. A failed worker's frames are rendered here too."""
    requests = list(requests)
    done: dict[int, np.ndarray] = {}
    next_index = 0  # the first frame nobody has been given yet
    for write in range(len(requests)):
        while write not in done:
            if worker is not None and not worker.failed:
                shape = (requests[write].size, requests[write].size, 3)
                for index, image in worker.receive(shape):
                    done[index] = image
                while (worker.ready and not worker.failed and len(worker.pending) < WORKER_AHEAD
                       and next_index < len(requests)):
                    worker.submit(next_index, requests[next_index])
                    next_index += 1
                if write in done:
                    break
                waiting_on_worker = write in worker.pending
                if waiting_on_worker and (next_index >= len(requests) or next_index - write >= RENDER_AHEAD):
                    for index, image in worker.receive(shape, timeout=0.05):
                        done[index] = image
                    continue
            if worker is not None and worker.failed and worker.pending:
                lost = sorted(worker.pending)  # render them here
                worker.pending.clear()
                for index in lost:
                    done[index] = engine.render(requests[index])
                continue
            if next_index < len(requests):
                done[next_index] = engine.render(requests[next_index])
                next_index += 1
        yield done.pop(write)
