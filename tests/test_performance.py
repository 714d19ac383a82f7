"""Export what you performed: the frames shown while playing, recorded and rendered again."""
from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest

from core.audio.motion import MotionParams
from core.engine import Engine, FrameRequest
from core.errors import UserInputError
from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS
from core.options import RenderOptions
from core.performance import Performance
from core.render.camera import OrbitPose
from core.video import VideoJob, write_video
from viewer.clock import WallClock
from viewer.session import Session


class FakeTime:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_a_recording_round_trips_and_holds_the_view_over_frames_not_shown(tmp_path):
    perf = Performance(tmp_path / "me.png", tmp_path / "hello.wav")
    perf.record(FrameRequest(pose=OrbitPose(10.0, -5.0, 1.2), frame_index=2, size=384,
                             motion=MotionParams(0.3, 2.0), mask_window=3, framing="photo"))
    perf.record(FrameRequest(pose=OrbitPose(25.0, 0.0), frame_index=5))
    perf.record(FrameRequest(coefficients=(0.0,) * NUM_EXPRESSIONS))  # a live frame: not a driver frame
    assert len(perf) == 2
    path = tmp_path / "take.performance.json"
    perf.save(path)
    again = Performance.load(path)
    assert (again.portrait, again.audio) == (tmp_path / "me.png", tmp_path / "hello.wav")
    reqs = again.requests(8, size=256)
    assert [r.frame_index for r in reqs] == list(range(8))
    assert all(r.size == 256 for r in reqs)
    assert reqs[0].pose == reqs[2].pose == reqs[4].pose == OrbitPose(10.0, -5.0, 1.2)  # held
    assert reqs[2].motion == MotionParams(0.3, 2.0) and reqs[2].mask_window == 3 and reqs[2].framing == "photo"
    assert reqs[5].pose == reqs[7].pose == OrbitPose(25.0, 0.0)
    assert not list(tmp_path.glob("*.part"))


@pytest.mark.parametrize("content", ["not json", json.dumps({"format": 1, "frames": []}),
                                     json.dumps({"format": 1, "frames": [{"frame": 0, "yaw": "x"}]}),
                                     json.dumps({"format": 1, "frames": [{"frame": 0, "yaw": 0, "pitch": 0, "zoom": 9,
                                                                          "alpha_m": 0.5, "lambda_exp": 1,
                                                                          "mask_window": 7}]}),
                                     json.dumps({"format": 1, "frames": [{"frame": 0, "yaw": 0, "pitch": 0, "zoom": 1,
                                                                          "alpha_m": 0.5, "lambda_exp": 1,
                                                                          "mask_window": 100000}]})])
def test_an_unusable_recording_is_refused_with_a_message(tmp_path, content):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(UserInputError):
        Performance.load(path)


def test_an_exported_performance_matches_the_frames_shown(sample_subject, tmp_path):
    """Play, drag the head and move a slider mid-way; every frame the session asked for is what
    the exported video shows (up to H.264)."""
    n = 20
    driver = np.zeros((n, NUM_EXPRESSIONS), np.float32)
    driver[:, EXPRESSION_INDEX["jawOpen"]] = 0.5 + 0.4 * np.sin(np.arange(n) / 3.0)
    engine = Engine(sample_subject, "cpu")
    engine.set_driver(driver)
    now = FakeTime()
    session = Session(WallClock(n / 25.0, now=now))
    session.settings = session.settings.with_(size=128)
    session.clock.play()
    perf, shown = Performance(), {}
    for k in range(n):
        now.t = (k + 0.5) / 25.0
        if k == 6:
            session.settings = session.settings.with_(pose=OrbitPose(20.0, 5.0))  # a drag
        if k == 12:
            session.settings = session.settings.with_(alpha_m=0.9, pose=OrbitPose(-15.0, 0.0, 1.3))
        request = session.request()
        if k % 4 == 3:
            continue  # a frame dropped by the viewer: never shown
        shown[request.frame_index] = engine.render(request)
        perf.record(request)
    # Frame for frame, the export asks for what was shown (so renders it identically) ...
    requests = perf.requests(n, size=128)
    for k, image in shown.items():
        assert np.array_equal(engine.render(requests[k]), image), k
    # ... and writes it: every frame, within what H.264 at crf 18 changes on a 128 px image.
    out = tmp_path / "performed.mp4"
    write_video(engine, VideoJob(out=out, options=RenderOptions(size=128), performance=perf))
    frames = np.stack(list(iio.imiter(out)))
    assert len(frames) == n
    diffs = [np.abs(frames[k].astype(float) - img.astype(float)).mean() for k, img in shown.items()]
    assert max(diffs) < 4.0, diffs
    # The recording did change the view: the frames before and after the drag differ.
    assert np.abs(frames[1].astype(float) - frames[-1].astype(float)).mean() > 5.0
