"""Keyboard shortcuts (viewer.keys): the key -> action table and what each action does to the
viewer's state, without a window."""
from __future__ import annotations

from collections import deque

import cv2
import numpy as np
import pytest

from core.render.camera import PITCH_LIMIT_DEG, YAW_LIMIT_DEG, OrbitPose
from viewer import keys
from viewer.app import ViewerApp
from viewer.clock import WallClock
from viewer.frame_slot import FinishedFrame
from viewer.session import Session


def _app() -> ViewerApp:
    """A ViewerApp's state and methods without its render process, tasks or window."""
    app = ViewerApp.__new__(ViewerApp)
    app.session = Session(WallClock(3.0))
    app.messages = deque(maxlen=4)
    app._shown = None
    app._export_dir = None
    app.home_framing = "head"
    return app


def test_the_table():
    assert {k: keys.action_for(k) for k in ("space", "R", "s", "Left", "right", "up", "DOWN")} == {
        "space": keys.TOGGLE_PLAY, "R": keys.RESET_VIEW, "s": keys.SAVE_VIEW, "Left": keys.ORBIT_LEFT,
        "right": keys.ORBIT_RIGHT, "up": keys.ORBIT_UP, "DOWN": keys.ORBIT_DOWN}
    assert keys.action_for("q") is None and keys.action_for("") is None
    for word in ("arrow", "R", "space", "S"):
        assert word in keys.HELP


def test_arrows_turn_like_a_drag_and_repeat():
    pose = OrbitPose(0.0, 0.0, 1.3)
    left = keys.pose_after(keys.ORBIT_LEFT, pose)
    assert (left.yaw_deg, left.pitch_deg, left.zoom) == (keys.ORBIT_STEP_DEG, 0.0, 1.3)
    # the same sign as a mouse drag to the left / upwards
    assert np.sign(left.yaw_deg) == np.sign(pose.dragged(-10, 0).yaw_deg)
    up = keys.pose_after(keys.ORBIT_UP, pose)
    assert up.pitch_deg == -keys.ORBIT_STEP_DEG and np.sign(up.pitch_deg) == np.sign(pose.dragged(0, -10).pitch_deg)
    assert keys.pose_after(keys.ORBIT_RIGHT, pose).yaw_deg == -keys.ORBIT_STEP_DEG
    assert keys.pose_after(keys.ORBIT_DOWN, pose).pitch_deg == keys.ORBIT_STEP_DEG
    held = pose
    for _ in range(1000):  # a held key repeats; the orbit stops at its limits
        held = keys.pose_after(keys.ORBIT_RIGHT, keys.pose_after(keys.ORBIT_DOWN, held))
    assert (held.yaw_deg, held.pitch_deg) == (-YAW_LIMIT_DEG, PITCH_LIMIT_DEG)
    assert keys.pose_after(keys.TOGGLE_PLAY, held) == held


def test_keys_on_the_viewer_state():
    app = _app()
    assert not app.session.clock.playing
    assert keys.apply_key(app, "space") == keys.TOGGLE_PLAY and app.session.clock.playing
    keys.apply_key(app, "space")
    assert not app.session.clock.playing
    for key in ("left", "left", "up"):
        keys.apply_key(app, key)
    pose = app.session.settings.pose
    assert (pose.yaw_deg, pose.pitch_deg) == (2 * keys.ORBIT_STEP_DEG, -keys.ORBIT_STEP_DEG)
    assert app.session.request().pose == pose  # the next frame asked for is seen from there
    app.set_setting(framing="photo")
    assert keys.apply_key(app, "r") == keys.RESET_VIEW and app.session.settings.pose == OrbitPose()
    assert app.session.settings.framing == "head"  # back to the default framing
    assert keys.apply_key(app, "x") is None


def test_s_saves_the_view_next_to_the_exports(tmp_path, monkeypatch):
    app = _app()
    assert keys.apply_key(app, "s") == keys.SAVE_VIEW
    assert "no frame" in app.messages[-1]
    image = np.zeros((64, 64, 3), np.uint8)
    image[..., 0] = 200  # red
    app._shown = FinishedFrame(None, image, 0.01, 0.0, 1)

    monkeypatch.chdir(tmp_path)
    first = app.save_view()  # no export yet: out/ here
    assert first.parent == tmp_path / "out" and first.name.startswith("view_") and first.suffix == ".png"
    assert str(first) in app.messages[-1]
    saved = cv2.imread(str(first))
    assert saved.shape == (64, 64, 3) and tuple(saved[0, 0]) == (0, 0, 200)  # BGR on disk: red stays red

    app._export_dir = tmp_path / "exports"
    keys.apply_key(app, "s")
    second = app.save_view()  # the same second twice: a second name, nothing overwritten
    names = sorted(p.name for p in (tmp_path / "exports").iterdir())
    assert len(names) == 2 and second.parent == tmp_path / "exports"


def test_a_failed_save_says_so(tmp_path):
    app = _app()
    app._shown = FinishedFrame(None, np.zeros((8, 8, 3), np.uint8), 0.01, 0.0, 1)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert app.save_view(blocker / "sub") is None
    assert app.messages[-1].startswith("saving the view failed")


@pytest.mark.parametrize("key", ["space", "left", "r"])
def test_apply_key_returns_the_action(key):
    assert keys.apply_key(_app(), key) == keys.action_for(key)


def test_status_says_how_far_the_view_is_from_the_photos():
    """The status line tells the user the view's offset from the photo, and says when it is past
    what the photo shows (the rest of the head is filled in there)."""
    from viewer.app import PHOTO_SUPPORT_DEG, view_from_photo

    near = view_from_photo(OrbitPose(10.0, -5.0))
    assert "+10/-5" in near and "filled in" not in near
    assert "filled in" in view_from_photo(OrbitPose(PHOTO_SUPPORT_DEG + 5.0, 0.0))
    assert "filled in" in view_from_photo(OrbitPose(-20.0, 20.0))  # 28 degrees off, diagonally
