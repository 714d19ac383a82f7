"""A render thread with a single latest-request slot.

The UI thread submits requests as fast as it likes; bursts collapse to the newest one (late
frames are dropped, never queued). The worker publishes each finished frame in a single result
slot that the UI thread reads without blocking.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class FinishedFrame:
    request: object
    image: np.ndarray
    render_s: float
    finished_at: float
    serial: int


class RenderWorker:
    """Runs ``render(request) -> image`` on its own thread."""

    def __init__(self, render: Callable[[object], np.ndarray], on_error: Callable[[BaseException], None] | None = None):
        self._render = render
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: object | None = None
        self._result: FinishedFrame | None = None
        self._stop = False
        self._serial = 0
        self.dropped = 0
        self.rendered = 0
        self._thread = threading.Thread(target=self._run, name="render-worker", daemon=True)
        self._thread.start()

    def submit(self, request: object) -> None:
        """Ask for a frame; replaces any request not yet started."""
        with self._cond:
            if self._pending is not None:
                self.dropped += 1
            self._pending = request
            self._cond.notify()

    def set_renderer(self, render: Callable[[object], np.ndarray]) -> None:
        with self._cond:
            self._render = render

    def latest(self) -> FinishedFrame | None:
        """The newest finished frame (or None); never blocks on rendering."""
        with self._cond:
            return self._result

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._pending is not None

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
                request, self._pending = self._pending, None
                render = self._render
            t = time.perf_counter()
            try:
                image = render(request)
            except BaseException as exc:  # keep the viewer alive; report the problem
                if self._on_error:
                    self._on_error(exc)
                continue
            done = time.perf_counter()
            with self._cond:
                self._serial += 1
                self.rendered += 1
                self._result = FinishedFrame(request, image, done - t, done, self._serial)

    def stop(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=5)
