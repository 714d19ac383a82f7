"""The viewer's single latest-request slot (viewer.frame_slot), with a stub renderer in place
of the render process."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from viewer.frame_slot import FrameSlot


class StubRenderer:
    """Answers the slot's messages as the render process does. Renders of requests in ``fail``
    raise (``how="raise"``) or are answered with an error reply (``how="reply"``); while ``gate``
    is clear a render waits for it."""

    def __init__(self, fail=(), how="raise", blocked=False):
        self.messages: list = []
        self.gate = threading.Event()
        if not blocked:
            self.gate.set()
        self.rendering = threading.Event()  # set when a render has started
        self.fail, self.how = set(fail), how

    def __call__(self, message):
        kind, payload = message
        self.messages.append(message)
        if kind != "render":
            return "ok", None
        self.rendering.set()
        assert self.gate.wait(timeout=5)
        if payload in self.fail:
            if self.how == "raise":
                raise ValueError("boom")
            return "error", "ValueError: boom"
        return "frame", (np.full((4, 4, 3), 7, np.uint8), 0.001)

    @property
    def renders(self) -> list:
        return [payload for kind, payload in self.messages if kind == "render"]


def wait_until(condition, timeout=5.0) -> bool:
    deadline = time.time() + timeout
    while not condition() and time.time() < deadline:
        time.sleep(0.005)
    return condition()


@pytest.fixture()
def slots():
    made = []

    def make(renderer, on_error=None):
        slot = FrameSlot(renderer, on_error)
        made.append(slot)
        return slot

    yield make
    for slot in made:
        slot.stop()


def test_only_the_latest_request_is_rendered(slots):
    stub = StubRenderer(blocked=True)
    slot = slots(stub)
    slot.submit(1)
    assert stub.rendering.wait(timeout=5)  # 1 is being rendered
    for r in (2, 3, 4, 5):
        slot.submit(r)
    stub.gate.set()
    assert wait_until(lambda: slot.latest() is not None and slot.latest().request == 5)
    assert slot.latest().request == 5
    assert stub.renders == [1, 5]  # 2, 3 and 4 were dropped, not queued
    assert slot.dropped == 3
    assert slot.rendered == 2 and slot.latest().serial == 2


@pytest.mark.parametrize("how", ["raise", "reply"])
def test_a_failing_render_does_not_stop_later_ones(slots, how):
    errors = []
    stub = StubRenderer(fail={"bad"}, how=how)
    slot = slots(stub, errors.append)
    slot.submit("bad")
    assert wait_until(lambda: len(errors) == 1)
    slot.submit("good")
    assert wait_until(lambda: slot.latest() is not None)
    assert slot.latest().request == "good" and len(errors) == 1
    assert "boom" in str(errors[0])
    assert slot.running and slot.rendered == 1 and stub.renders == ["bad", "good"]


def test_commands_go_before_pending_renders_and_in_order(slots):
    stub = StubRenderer(blocked=True)
    slot = slots(stub)
    slot.submit(1)
    assert stub.rendering.wait(timeout=5)
    slot.submit(2)
    slot.command("subject", "portrait.png")
    slot.command("driver", "coefficients")
    stub.gate.set()
    assert wait_until(lambda: slot.latest() is not None and slot.latest().request == 2)
    assert stub.messages == [("render", 1), ("subject", "portrait.png"), ("driver", "coefficients"),
                             ("render", 2)]
    assert slot.dropped == 0


def test_latest_does_not_wait_for_a_render(slots):
    stub = StubRenderer()
    slot = slots(stub)
    slot.submit(1)
    assert wait_until(lambda: slot.latest() is not None)
    first = slot.latest()
    stub.gate.clear()
    stub.rendering.clear()
    slot.submit(2)
    assert stub.rendering.wait(timeout=5)  # 2 is being rendered
    t = time.perf_counter()
    assert slot.latest() is first  # the previous frame, at once
    assert time.perf_counter() - t < 0.1
    stub.gate.set()
    assert wait_until(lambda: slot.latest().request == 2)
    assert slot.latest().serial == first.serial + 1


def test_stop_ends_the_pump(slots):
    stub = StubRenderer()
    slot = slots(stub)
    slot.submit(1)
    assert wait_until(lambda: slot.latest() is not None)
    slot.stop()
    assert not slot.running
    slot.submit(2)
    slot.command("driver", None)
    time.sleep(0.05)
    assert stub.messages == [("render", 1)]


def test_a_closed_connection_is_reported_and_ends_the_pump(slots):
    errors = []

    def closed(message):
        raise EOFError("pipe closed")

    slot = slots(closed, errors.append)
    slot.submit(1)
    assert wait_until(lambda: not slot.running)
    assert len(errors) == 1 and "stopped" in str(errors[0])
    assert slot.latest() is None
