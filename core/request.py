"""``FrameRequest``: the frozen description of one frame, the only way into the engine."""
from __future__ import annotations

from dataclasses import dataclass

from core.audio.motion import MotionParams
from core.expression.natural import NaturalMotion
from core.options import DEFAULT_MASK_WINDOW, DEFAULT_SIZE_PX, RenderOptions
from core.render.camera import DEFAULT_FRAMING, FRAMINGS, OrbitPose

Coefficients = tuple[float, ...]
"""beta_t^audio of one frame, NUM_EXPRESSIONS floats (ARKit order of core.face.arkit)."""


@dataclass(frozen=True)
class FrameRequest:
    """Everything that decides one rendered frame: rendering the same request twice, in any
    order, gives the same image.

    pose:         orbit offset from the photo's camera
    size:         output height and width in pixels
    frame_index:  video frame of the engine's driver (floor(audio time * 25)); the driver also
                  gives the n - 1 frames before it that Eq. 13 averages. None = ``coefficients``
    coefficients: beta_t^audio of a live frame (microphone); None with no frame_index = silence
    recent_coefficients: the live frames before it, oldest first (the mask history of Eq. 13;
                  only the last n - 1 are used)
    motion:       alpha_m and lambda_exp (paper 4.3)
    mask_window:  n of Eq. 13 (1 = no averaging)
    framing:      "head" (head and shoulders) or "photo" (the photo's largest square), at zoom 1
    reference:    render with the plain reference path (per-sample deformation; slow)
    natural:      blinks and head motion (``core.expression.natural``); they need a time: the
                  frame_index, or live_frame. A request with neither shows the still photo's head
    live_frame:   the live frame's number in the microphone stream (None before it starts)
    activity_history: speech activity of the live frames before it, oldest first (at most
                  ``ACTIVITY_HISTORY_FRAMES`` are used; ``natural.speech_activity``)
    """

    pose: OrbitPose = OrbitPose()
    size: int = DEFAULT_SIZE_PX
    frame_index: int | None = None
    coefficients: Coefficients | None = None
    recent_coefficients: tuple[Coefficients, ...] = ()
    motion: MotionParams = MotionParams()
    mask_window: int = DEFAULT_MASK_WINDOW
    framing: str = DEFAULT_FRAMING
    reference: bool = False
    natural: NaturalMotion = NaturalMotion()
    live_frame: int | None = None
    activity_history: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {FRAMINGS}, got {self.framing!r}")

    @property
    def options(self) -> RenderOptions:
        """The user's options this request was made with (the inverse of ``with_options``)."""
        return RenderOptions(self.size, self.motion, self.mask_window, self.framing, self.natural)

    @staticmethod
    def with_options(options: RenderOptions, **fields) -> "FrameRequest":
        """A request with the user's ``options`` (size, motion, mask window, framing, natural
        motion) and ``fields``."""
        return FrameRequest(size=options.size, motion=options.motion, mask_window=options.mask_window,
                            framing=options.framing, natural=options.natural, **fields)
