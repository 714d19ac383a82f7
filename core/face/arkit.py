"""Names of the expression coefficients (ARKit blendshape naming).

The expression basis of the face model (``assets/face_model/face_model.npz``) holds one
displacement field per name below, in this order. Every expression vector in the program
(beta_init, beta_t^audio, CSV drivers) is a float32 array of ``len(EXPRESSION_NAMES)`` values in
this order, each nominally in [0, 1]. "Left"/"Right" are the subject's own left and right.
"""
from __future__ import annotations

import numpy as np

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

# Channels of a driver after the expressions (ARKit / Live Link Face names): a driver array is
# [T, NUM_EXPRESSIONS], [T, NUM_EXPRESSIONS + 3] (with the head) or [T, NUM_DRIVER_CHANNELS].
# Head rotation: in a driver array in degrees (yaw + turns the face toward the subject's right, pitch + nodding
# down, roll + toward the subject's left; ``core.render.motion_field``); in a CSV, radians as
# ARKit reports them. Gaze: eyeLook* as ARKit has them, 0..1 each.
HEAD_NAMES: tuple[str, ...] = ("headYaw", "headPitch", "headRoll")
EYE_LOOK_NAMES: tuple[str, ...] = tuple(f"eyeLook{d}{s}" for s in ("Left", "Right") for d in ("Down", "In", "Out", "Up"))
NUM_DRIVER_CHANNELS = NUM_EXPRESSIONS + len(HEAD_NAMES) + len(EYE_LOOK_NAMES)
DRIVER_WIDTHS = (NUM_EXPRESSIONS, NUM_EXPRESSIONS + len(HEAD_NAMES), NUM_DRIVER_CHANNELS)
HEAD_CHANNELS = slice(NUM_EXPRESSIONS, NUM_EXPRESSIONS + len(HEAD_NAMES))  # a driver's columns of the head's angles
EYE_LOOK_CHANNELS = slice(HEAD_CHANNELS.stop, NUM_DRIVER_CHANNELS)  # ... and of the gaze (eyeLook*)
EYE_LOOK_FULL_DEG = (30.0, 25.0)  # the eye's turn (horizontal, vertical) at an eyeLook value of 1


def full_driver(driver: np.ndarray) -> np.ndarray:
    """A driver [T, w] (w in ``DRIVER_WIDTHS``) -> float32 [T, NUM_DRIVER_CHANNELS], zeros added."""
    driver = np.asarray(driver, np.float32)
    if driver.ndim != 2 or driver.shape[1] not in DRIVER_WIDTHS:
        raise ValueError(f"driver must be [T, w] with w in {DRIVER_WIDTHS} (expressions, head yaw, pitch, roll, "
                         f"eyeLook*), got {driver.shape}")
    out = np.zeros((len(driver), NUM_DRIVER_CHANNELS), np.float32)
    out[:, :driver.shape[1]] = driver
    return out


def eye_look_to_gaze(eye_look: np.ndarray) -> np.ndarray:
    """eyeLook* values [..., 8] (``EYE_LOOK_NAMES`` order) -> gaze [..., 4] degrees (left h, left v,
    right h, right v; h + toward the subject's left, v + up: ``motion_field.GAZE_CHANNELS``)."""
    e = np.asarray(eye_look, np.float64)
    (fh, fv), d = EYE_LOOK_FULL_DEG, lambda name: e[..., EYE_LOOK_NAMES.index(name)]
    return np.stack([fh * (d("eyeLookOutLeft") - d("eyeLookInLeft")), fv * (d("eyeLookUpLeft") - d("eyeLookDownLeft")),
                     fh * (d("eyeLookInRight") - d("eyeLookOutRight")), fv * (d("eyeLookUpRight") - d("eyeLookDownRight"))],
                    axis=-1)


def gaze_to_eye_look(gaze: np.ndarray) -> np.ndarray:
    """The inverse of ``eye_look_to_gaze`` (each value clipped to 0..1): [..., 4] -> [..., 8]."""
    g = np.asarray(gaze, np.float64)
    fh, fv = EYE_LOOK_FULL_DEG
    h_l, v_l, h_r, v_r = g[..., 0] / fh, g[..., 1] / fv, g[..., 2] / fh, g[..., 3] / fv
    values = {"eyeLookDownLeft": -v_l, "eyeLookInLeft": -h_l, "eyeLookOutLeft": h_l, "eyeLookUpLeft": v_l,
              "eyeLookDownRight": -v_r, "eyeLookInRight": h_r, "eyeLookOutRight": -h_r, "eyeLookUpRight": v_r}
    return np.clip(np.stack([values[n] for n in EYE_LOOK_NAMES], axis=-1), 0.0, 1.0)
