"""The single latest-request slot between the UI thread and a renderer.

The UI thread submits requests as fast as it likes; a pump thread forwards them to the renderer
one at a time. A request still pending when a newer one arrives is replaced (counted as
dropped): late frames are dropped, never queued. Commands (load a portrait, set the driver) are
forwarded in order, before any pending request. Each finished frame is published in one result
slot that the UI thread reads without blocking.

The renderer is reached through ``exchange(message) -> reply``, one message at a time:
messages are ``(kind, payload)`` (a command, or ``("render", request)``); replies are
``("frame", (image, render_s))``, ``("ok", value)`` or ``("error", text)``. A failed message
(an ``"error"`` reply, or an exception from ``exchange``) is reported through ``on_error`` and the
pump goes on; a closed connection (``EOFError`` / ``OSError``) is reported and ends the pump.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Callable

import numpy as np

Message = tuple[str, object]


@dataclass
class FinishedFrame:
    request: object
    image: np.ndarray
    render_s: float
    finished_at: float
    serial: int


class FrameSlot:
    """Pump thread with one pending-request slot, a command queue and one result slot."""

    def __init__(self, exchange: Callable[[Message], Message],
                 on_error: Callable[[BaseException], None] | None = None, name: str = "render-pump"):
        self._exchange = exchange
        self._on_error = on_error
        self._cond = threading.Condition()
        self._commands: deque[Message] = deque()
        self._pending: object | None = None
        self._result: FinishedFrame | None = None
        self._serial = 0
        self._stop = False
        self.dropped = 0
        self.rendered = 0
        self._thread = threading.Thread(target=self._pump, name=name, daemon=True)
        self._thread.start()

    def command(self, kind: str, payload: object = None) -> None:
        """Queue a command; commands go out in order, before any pending request."""
        with self._cond:
            self._commands.append((kind, payload))
            self._cond.notify()

    def submit(self, request: object) -> None:
        """Ask for a frame; replaces (and counts as dropped) any request not yet started."""
        with self._cond:
            if self._pending is not None:
                self.dropped += 1
            self._pending = request
            self._cond.notify()

    def latest(self) -> FinishedFrame | None:
        """The newest finished frame (or None); never waits for a render."""
        with self._cond:
            return self._result

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """End the pump (after the message in flight, if any)."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout=timeout)

    def _report(self, exc: BaseException) -> None:
        if self._on_error:
            self._on_error(exc)

    def _next_message(self) -> Message | None:
        with self._cond:
            while not self._stop and not self._commands and self._pending is None:
                self._cond.wait()
            if self._stop:
                return None
            if self._commands:
                return self._commands.popleft()
            request, self._pending = self._pending, None
            return ("render", request)

    def _pump(self) -> None:
        while (message := self._next_message()) is not None:
            try:
                kind, payload = self._exchange(message)
            except (EOFError, OSError) as exc:
                self._report(RuntimeError(f"render process stopped ({exc})"))
                return
            except Exception as exc:  # keep the viewer alive; report the problem
                self._report(exc)
                continue
            if kind == "error":
                self._report(RuntimeError(payload))
            elif kind == "frame":
                image, render_s = payload
                with self._cond:
                    self._serial += 1
                    self.rendered += 1
                    self._result = FinishedFrame(message[1], image, render_s, time.perf_counter(), self._serial)
