"""Render options a user sets, with their defaults in one place.

The command line (``render``, ``eval``), the viewer's sliders, its video export and the
benchmark all start from ``RenderOptions()``; the motion defaults come from the paper's values
in ``core.audio.motion``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.audio.motion import MotionParams
from core.errors import UserInputError
from core.expression.natural import NaturalMotion
from core.render.camera import DEFAULT_FRAMING, FRAMINGS, ZOOM_LIMITS

DEFAULT_SIZE_PX = 256  # output height and width
DEFAULT_MASK_WINDOW = 7  # n of Eq. 13 (frames)
SIZE_LIMITS_PX = (32, 2048)
MASK_WINDOW_LIMITS = (1, 60)
# How frames are drawn: "raster", the OpenGL mesh renderer (fails where no OpenGL context can be
# made); "march", the torch ray marcher (CPU or CUDA); "auto": raster where OpenGL works, else march.
RENDERERS = ("auto", "raster", "march")
DEFAULT_RENDERER = "auto"


@dataclass(frozen=True)
class RenderOptions:
    """What the user chooses for a render: size (px), the motion parameters (alpha_m,
    lambda_exp; paper 4.3), the mask window n (Eq. 13; 1 = no averaging) and the framing at
    zoom 1 ("head": head and shoulders, the face filling ``FramingConfig.face_share`` of the
    height; "photo": the photo's largest square) and the natural motion beside the speech
    (blink rate, head motion amount, seed; ``core.expression.natural.NaturalMotion``)."""

    size: int = DEFAULT_SIZE_PX
    motion: MotionParams = field(default_factory=MotionParams)
    mask_window: int = DEFAULT_MASK_WINDOW
    framing: str = DEFAULT_FRAMING
    natural: NaturalMotion = field(default_factory=NaturalMotion)

    @staticmethod
    def from_values(size: int = DEFAULT_SIZE_PX, alpha_m: float | None = None, lambda_exp: float | None = None,
                    mask_window: int = DEFAULT_MASK_WINDOW, framing: str = DEFAULT_FRAMING,
                    blink_rate: float | None = None, head_motion: float | None = None,
                    seed: int | None = None, gaze: str | None = None) -> "RenderOptions":
        """Checked options from plain values (command-line flags); None keeps a default.
        Raises UserInputError with a message naming the flag."""
        lo, hi = SIZE_LIMITS_PX
        if not lo <= int(size) <= hi:
            raise UserInputError(f"--size must be between {lo} and {hi} pixels")
        lo, hi = MASK_WINDOW_LIMITS
        if not lo <= int(mask_window) <= hi:
            raise UserInputError(f"--mask-window must be between {lo} and {hi} frames")
        if framing not in FRAMINGS:
            raise UserInputError(f"--framing must be one of {', '.join(FRAMINGS)}")
        defaults = MotionParams()
        try:
            motion = MotionParams(alpha_m=defaults.alpha_m if alpha_m is None else float(alpha_m),
                                  lambda_exp=defaults.lambda_exp if lambda_exp is None else float(lambda_exp))
        except ValueError as exc:
            raise UserInputError(str(exc)) from None
        nat = NaturalMotion()
        try:
            natural = NaturalMotion(blink_rate=nat.blink_rate if blink_rate is None else float(blink_rate),
                                    head_motion=nat.head_motion if head_motion is None else float(head_motion),
                                    seed=nat.seed if seed is None else int(seed),
                                    gaze=nat.gaze if gaze is None else str(gaze))
        except ValueError as exc:
            raise UserInputError(f"--{str(exc).split(' must')[0].replace(' ', '-')}: {exc}") from None
        return RenderOptions(int(size), motion, int(mask_window), framing, natural)


def checked_zoom(zoom: float | None) -> float:
    """The ``--zoom`` value (None = 1), or UserInputError outside the orbit camera's limits."""
    if zoom is None:
        return 1.0
    lo, hi = ZOOM_LIMITS
    if not (lo <= float(zoom) <= hi):
        raise UserInputError(f"--zoom must be between {lo} and {hi}")
    return float(zoom)
