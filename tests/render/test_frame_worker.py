"""A second engine process drawing a video's frames: the same images in the same order, and
nothing lost when it fails."""
from __future__ import annotations

import time

import numpy as np
import pytest

from core.engine import Engine, FrameRequest
from core.expression.natural import STILL
from core.frame_worker import FrameWorker, frames_in_order
from glcheck import requires_opengl


class _Counting:
    """Frames numbered by their request's frame index (no OpenGL needed)."""

    def __init__(self):
        self.rendered = []

    def render(self, request) -> np.ndarray:
        self.rendered.append(request.frame_index)
        return np.full((8, 8, 3), request.frame_index, np.uint8)


def test_frames_come_in_request_order_without_a_worker():
    engine = _Counting()
    requests = [FrameRequest(size=8, frame_index=k) for k in range(30)]
    images = list(frames_in_order(engine, requests))
    assert [int(im[0, 0, 0]) for im in images] == list(range(30))
    assert engine.rendered == list(range(30))


def _ready(worker: FrameWorker, shape, timeout_s: float = 120.0) -> None:
    deadline = time.time() + timeout_s
    while not worker.ready and not worker.failed and time.time() < deadline:
        worker.receive(shape, timeout=0.1)
    assert worker.ready, worker.failed


@requires_opengl()
def test_a_worker_renders_frames_exactly_as_the_engine_does(sample_subject):
    engine = Engine(sample_subject, "cpu", renderer="raster")
    driver = np.zeros((40, 33), np.float32)
    driver[:, 0] = np.linspace(0.0, 0.8, 40)  # jawOpen
    engine.set_driver(driver)
    requests = [FrameRequest(size=96, frame_index=k) for k in range(40)]
    worker = FrameWorker()  # started before its recipe is there, as ``render`` starts it
    try:
        worker.build(engine.recipe)
        worker.set_driver(engine.driver)
        _ready(worker, (96, 96, 3))
        handed = []
        submit = worker.submit
        worker.submit = lambda index, request: (handed.append(index), submit(index, request))
        images = list(frames_in_order(engine, requests, worker))
    finally:
        worker.close()
        engine.close()
    assert handed, "the worker drew no frame"
    alone = Engine(sample_subject, "cpu", renderer="raster")
    try:
        alone.set_driver(driver)
        for request, image in zip(requests, images):
            np.testing.assert_array_equal(image, alone.render(request))
    finally:
        alone.close()
    assert not worker.process.is_alive()


@requires_opengl()
def test_frames_of_a_dead_worker_are_rendered_here(sample_subject):
    engine = Engine(sample_subject, "cpu", renderer="raster")
    engine.set_driver(np.zeros((30, 33), np.float32))
    requests = [FrameRequest(size=64, frame_index=k, natural=STILL) for k in range(30)]
    worker = FrameWorker(engine.recipe)
    try:
        worker.set_driver(engine.driver)
        _ready(worker, (64, 64, 3))
        handed = []
        submit = worker.submit

        def submit_then_crash(index, request):
            submit(index, request)
            handed.append(index)
            if len(handed) == 3:
                worker.process.kill()  # as if it crashed, with a frame just handed to it

        worker.submit = submit_then_crash
        images = list(frames_in_order(engine, requests, worker))
        assert worker.failed
    finally:
        worker.close()
        engine.close()
    assert len(images) == 30
    assert all(image.shape == (64, 64, 3) for image in images)
    np.testing.assert_array_equal(images[-1], images[0])  # the same still face throughout


def test_driver_job_hands_over_the_driver_or_its_error(tmp_path):
    from core.commands import DriverJob
    from core.errors import UserInputError
    from core.paths import SAMPLE_SPEECH

    job = DriverJob(SAMPLE_SPEECH, None)
    driver = job.result()
    assert driver.ndim == 2 and len(driver) > 25 and job.seconds > 0
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wave file")
    with pytest.raises(UserInputError):
        DriverJob(bad, None).result()


def test_a_worker_closed_before_its_recipe_exits():
    worker = FrameWorker()
    worker.close()
    assert not worker.process.is_alive() and worker.process.exitcode == 0
