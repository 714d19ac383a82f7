"""Names of the expression coefficients (ARKit blendshape naming).

The expression basis of the face model (``assets/face_model/face_model.npz``) holds one
displacement field per name below, in this order. Every expression vector in the program
(beta_init, beta_t^audio, CSV drivers) is a float32 array of ``len(EXPRESSION_NAMES)`` values in
this order, each nominally in [0, 1]. "Left"/"Right" are the subject's own left and right.
"""
from __future__ import annotations

EXPRESSION_NAMES: tuple[str, ...] = (
    "jawOpen",
    "jawForward",
    "jawLeft",
    "jawRight",
    "mouthClose",
    "mouthFunnel",
    "mouthPucker",
    "mouthLeft",
    "mouthRight",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "browInnerUp",
    "browDownLeft",
    "browDownRight",
    "cheekPuff",
)

NUM_EXPRESSIONS = len(EXPRESSION_NAMES)
EXPRESSION_INDEX: dict[str, int] = {name: i for i, name in enumerate(EXPRESSION_NAMES)}

# Coefficients the audio drives (mouth and jaw). Blinks and brows are left to other drivers.
MOUTH_NAMES: tuple[str, ...] = tuple(
    n for n in EXPRESSION_NAMES if n.startswith(("jaw", "mouth", "cheek"))
)

# Head rotation channels of a driver (ARKit / Live Link Face names), after the expressions: a
# driver array is [T, NUM_EXPRESSIONS] or [T, NUM_DRIVER_CHANNELS]. In a driver array they are in
# degrees (yaw + toward the subject's left, pitch + nodding down, roll + toward the subject's
# left; ``core.render.motion_field``); in a CSV, radians as ARKit reports them.
HEAD_NAMES: tuple[str, ...] = ("headYaw", "headPitch", "headRoll")
NUM_DRIVER_CHANNELS = NUM_EXPRESSIONS + len(HEAD_NAMES)
# Gaze channels: read from a CSV without complaint, not rendered yet.
EYE_LOOK_NAMES: tuple[str, ...] = tuple(f"eyeLook{d}{s}" for s in ("Left", "Right") for d in ("Down", "In", "Out", "Up"))
