"""Keyboard shortcuts of the viewer, independent of the UI toolkit.

``KEY_ACTIONS`` maps a key name to an action; ``apply_key`` does the action on a ``ViewerApp``
(anything with ``toggle_play()``, ``reset_view()``, ``set_setting(pose=...)``, ``session.settings.pose`` and
``save_view()``). The window (``viewer.app``) translates DearPyGui key codes into these names.
An arrow key turns the head as a drag in that direction would; a held key repeats.
"""
from __future__ import annotations

from core.render.camera import OrbitPose

ORBIT_STEP_DEG = 5.0

TOGGLE_PLAY = "toggle_play"
RESET_VIEW = "reset_view"
SAVE_VIEW = "save_view"
ORBIT_LEFT, ORBIT_RIGHT, ORBIT_UP, ORBIT_DOWN = "orbit_left", "orbit_right", "orbit_up", "orbit_down"

KEY_ACTIONS: dict[str, str] = {
    "space": TOGGLE_PLAY,
    "r": RESET_VIEW,
    "s": SAVE_VIEW,
    "left": ORBIT_LEFT,
    "right": ORBIT_RIGHT,
    "up": ORBIT_UP,
    "down": ORBIT_DOWN,
}

# (yaw, pitch) change per press, in steps, with the signs of a mouse drag in that direction
# (OrbitPose.dragged: a drag to the left raises the yaw, a drag upwards lowers the pitch).
_ORBIT_STEPS = {ORBIT_LEFT: (1, 0), ORBIT_RIGHT: (-1, 0), ORBIT_UP: (0, -1), ORBIT_DOWN: (0, 1)}

HELP = ("drag / arrow keys: orbit   wheel: zoom\n"
        "double-click / R: reset view\n"
        "space: play / pause   S: save PNG")


def action_for(key: str) -> str | None:
    """The action of a key name ("space", "r", "left", ...; any case), or None."""
    return KEY_ACTIONS.get(key.lower())


def pose_after(action: str, pose: OrbitPose, step_deg: float = ORBIT_STEP_DEG) -> OrbitPose:
    """The camera pose after one press of an orbit key (other actions: unchanged; the reset key
    is ``ViewerApp.reset_view``, which also restores the framing)."""
    if action in _ORBIT_STEPS:
        dyaw, dpitch = _ORBIT_STEPS[action]
        return OrbitPose(pose.yaw_deg + dyaw * step_deg, pose.pitch_deg + dpitch * step_deg,
                         pose.zoom).clamped()
    return pose


def apply_key(app, key: str) -> str | None:
    """Do what ``key`` does on the viewer ``app``; returns the action, or None for other keys."""
    action = action_for(key)
    if action == TOGGLE_PLAY:
        app.toggle_play()
    elif action == SAVE_VIEW:
        app.save_view()
    elif action == RESET_VIEW:
        app.reset_view()  # the photo's view angle in the default framing, like a double-click
    elif action is not None:
        app.set_setting(pose=pose_after(action, app.session.settings.pose))
    return action
