"""The viewer keeps what the user had when a new portrait or audio file cannot be used."""
from __future__ import annotations

import time

import pytest

from viewer.app import ViewerApp


def _settle(app: ViewerApp, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        app._apply_pending()
        if not app.tasks:
            return
        time.sleep(0.05)
    raise AssertionError(f"tasks did not finish: {list(app.tasks)}")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    import os

    old = os.environ.get("TALKINGHEAD_CACHE")
    os.environ["TALKINGHEAD_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    viewer = ViewerApp(device="cpu")
    try:
        _settle(viewer)
        yield viewer
    finally:
        viewer.close()
        if old is None:
            os.environ.pop("TALKINGHEAD_CACHE", None)
        else:
            os.environ["TALKINGHEAD_CACHE"] = old


def test_bad_portrait_and_audio_leave_the_current_ones(app, tmp_path):
    portrait, audio = app.portrait_path, app._audio_file
    assert portrait is not None and audio is not None
    bad_image = tmp_path / "broken.png"
    bad_image.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    bad_audio = tmp_path / "broken.wav"
    bad_audio.write_bytes(b"RIFF0000WAVEjunk")
    app.load_portrait(bad_image)
    _settle(app)
    app.load_audio(bad_audio)
    _settle(app)
    assert app.portrait_path == portrait and app._audio_file == audio
    failures = [m for m in app.messages if "failed" in m]
    assert len(failures) == 2, list(app.messages)
    assert "broken.png" in failures[0] and "broken.wav" in failures[1]
    # The view still renders.
    app.tick()
    deadline = time.time() + 60
    while app.worker.latest() is None and time.time() < deadline:
        time.sleep(0.05)
    assert app.worker.latest() is not None


def test_microphone_without_an_input_device_says_so_and_stays_off(app):
    try:
        import sounddevice as sd

        sd.query_devices(kind="input")
    except Exception:  # no PortAudio or no input device: the case under test
        pass
    else:
        pytest.skip("this machine has an input device")
    playing = app.session.clock.playing
    assert app.toggle_microphone(True) is False
    assert app._mic is None and not app.session.live
    assert "microphone unavailable" in app.messages[-1]
    assert app.session.clock.playing == playing          # playback untouched


def test_export_of_what_was_performed_writes_the_recording(app, tmp_path):
    from core.engine import FrameRequest
    from core.errors import UserInputError
    from core.performance import Performance
    from core.render.camera import OrbitPose

    app.performance.clear()
    with pytest.raises(UserInputError):
        app.export_command(tmp_path / "take.mp4", "performance")  # nothing played yet
    app.performance.record(FrameRequest(pose=OrbitPose(12.0, 3.0), frame_index=4))
    cmd = app.export_command(tmp_path / "take.mp4", "performance")
    recording = tmp_path / "take.performance.json"
    assert cmd[cmd.index("--performance") + 1] == str(recording)
    assert Performance.load(recording).frames[4].pose == OrbitPose(12.0, 3.0)
    assert "--orbit" in app.export_command(tmp_path / "orbit.mp4", "orbit")
    view = app.export_command(tmp_path / "view.mp4", "view")
    assert "--orbit" not in view and "--performance" not in view and "--framing" in view


def test_a_coefficient_csv_drives_the_face_and_goes_with_the_export(app, tmp_path):
    import numpy as np

    from core.audio.coeff_csv import write_coefficients_csv
    from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS

    audio = app._audio_file
    bad = tmp_path / "broken.csv"
    bad.write_text("not,a,coefficient,file\n1,2,3,4\n")
    app.load_coefficients(bad)
    _settle(app)
    assert app._coeffs_file is None and "broken.csv" in [m for m in app.messages if "failed" in m][-1]
    driver = np.zeros((50, NUM_EXPRESSIONS), np.float32)
    driver[:, EXPRESSION_INDEX["jawOpen"]] = 0.8
    good = tmp_path / "take.csv"
    write_coefficients_csv(good, driver)
    app.load_coefficients(good)
    _settle(app)
    assert app._coeffs_file == good and app._audio_file == audio  # the audio still plays
    app.set_setting(gaze="camera")
    cmd = app.export_command(tmp_path / "view.mp4", "view")
    assert cmd[cmd.index("--coeffs") + 1] == str(good) and cmd[cmd.index("--audio") + 1] == str(audio)
    assert cmd[cmd.index("--gaze") + 1] == "camera"
    # A new audio file drives the face by its own speech again.
    app.load_audio(audio)
    _settle(app)
    assert app._coeffs_file is None and "--coeffs" not in app.export_command(tmp_path / "v.mp4", "view")
    app.set_setting(gaze="on")
