"""The expression track: a frame request -> the state of the face in that frame.

The driver gives beta_t^audio per video frame (25 fps): Audio2Exp output, a coefficient CSV, or
live frames from the microphone (carried by the request itself). The track applies the motion
parameters of paper 4.3 (``core.audio.motion``) against the photo's expression beta_init, adds
our lip seal, and returns the current frame's face together with the n - 1 frames before it that
the mouth mask of Eq. 13 averages. It is a pure function of the request and the driver: no state
is carried from one request to the next.

Every per-frame channel of the face lives here: the expression coefficients, the lip seal, the
eyelids' closure (blinks), the gaze and the head's rigid motion (``core.expression.natural``:
generated from the request's seed and the speech activity up to the frame; a driver's eyeBlink
channels add to the generated blinks; a driver's own head angles or eyeLook channels replace the
generated ones).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from core.audio.motion import mouth_mask
from core.expression.natural import (ACTIVITY_HISTORY_FRAMES, NaturalMotionConfig, blink_curve, gaze_direction,
                                     head_pose, speech_activity)
from core.face.arkit import (EXPRESSION_INDEX, EYE_LOOK_CHANNELS, HEAD_CHANNELS, NUM_EXPRESSIONS, eye_look_to_gaze,
                             full_driver)
from core.request import FrameRequest

_JAW, _CLOSE = EXPRESSION_INDEX["jawOpen"], EXPRESSION_INDEX["mouthClose"]
_PRESS_L, _PRESS_R = EXPRESSION_INDEX["mouthPressLeft"], EXPRESSION_INDEX["mouthPressRight"]
_BLINK = [EXPRESSION_INDEX["eyeBlinkLeft"], EXPRESSION_INDEX["eyeBlinkRight"]]
STILL_HEAD = (0.0,) * 6
STILL_GAZE = (0.0,) * 4


@dataclass(frozen=True)
class ExpressionConfig:
    """Per-frame policy on top of the paper's motion formula."""

    seal_press_start: float = 0.03  # mean mouthPress from the audio where the lip seal starts ...
    seal_press_full: float = 0.15  # ... and where it is complete (smoothstep in between)
    seal_full_alpha_m: float = 0.5  # the seal scales with alpha_m up to this value
    beta_min: float = -0.5  # every coefficient is clipped to [beta_min, beta_max]
    beta_max: float = 2.0
    natural: NaturalMotionConfig = NaturalMotionConfig()  # blink timing and head motion
    # The faces of the frames before a driver frame (Eq. 13's window: beta, seal and head motion,
    # pure functions of their frame number) are kept for this many frames and reused by the next
    # frames' windows; 0: every window is computed anew (the reference).
    past_faces_kept: int = 64


@dataclass(frozen=True)
class FaceState:
    """The face in one frame.

    beta: float32 [NUM_EXPRESSIONS] expression after the motion parameters, the seal and clipping
    seal: how firmly the lips meet, 0..1 (the renderer closes the lips over the jaw's opening)
    blink: eyelid closure (subject's left, right), 0..1 (1: shut)
    head: the head's rigid motion relative to the torso: yaw, pitch, roll (degrees), x, y, z (cm,
          head frame); ``core.render.motion_field.HEAD_POSE_CHANNELS``
    gaze: the eyes' turn relative to the photo's gaze, degrees (left h, left v, right h, right v;
          ``core.render.motion_field.GAZE_CHANNELS``)
    gaze_at_camera: the renderer adds the turn toward the view's camera to ``gaze``
    """

    beta: np.ndarray
    seal: float
    blink: tuple[float, float] = (0.0, 0.0)
    head: tuple[float, ...] = STILL_HEAD
    gaze: tuple[float, ...] = STILL_GAZE
    gaze_at_camera: bool = False

    def key(self) -> tuple:
        """A hashable identity of this state (two equal keys render the same face)."""
        return self.beta.tobytes(), self.seal, self.blink, self.head, self.gaze, self.gaze_at_camera


@dataclass(frozen=True)
class FrameFaces:
    """The face of the requested frame and of the frames before it (Eq. 13's window).

    current: this frame;  recent: up to n - 1 earlier frames, oldest first
    """

    current: FaceState
    recent: tuple[FaceState, ...] = ()

    @property
    def window(self) -> tuple[FaceState, ...]:
        """recent + current: the n frames whose masks are averaged, current last."""
        return self.recent + (self.current,)


class ExpressionTrack:
    """beta_init and a driver [T, w] (``core.face.arkit.DRIVER_WIDTHS``; may be empty) ->
    ``FrameFaces`` per request."""

    def __init__(self, beta_init: np.ndarray, driver: np.ndarray | None = None,
                 config: ExpressionConfig = ExpressionConfig()):
        self.beta_init = np.asarray(beta_init, np.float32)
        driver = full_driver(np.zeros((0, NUM_EXPRESSIONS), np.float32) if driver is None else driver)
        # A recorded head or gaze (a Live Link Face CSV) replaces the generated one; recorded
        # blinks replace the generated blinks.
        head = driver[:, HEAD_CHANNELS]
        self.recorded_head = head.astype(np.float64) if head.size and np.any(head != 0) else None
        eye_look = driver[:, EYE_LOOK_CHANNELS]
        self.recorded_gaze = eye_look_to_gaze(eye_look) if eye_look.size and np.any(eye_look != 0) else None
        self.driver = np.ascontiguousarray(driver[:, :NUM_EXPRESSIONS])
        self.recorded_blinks = bool(len(self.driver) and np.any(self.driver[:, _BLINK] > 0))
        self.config = config
        self._driven = mouth_mask()
        self._activity = speech_activity(self.driver, config.natural.activity) if len(self.driver) else np.zeros(0, np.float32)
        self._past: dict[tuple, FaceState] = {}  # (frame, motion, natural) -> that frame's face as a past face

    @property
    def num_frames(self) -> int:
        return len(self.driver)

    def with_driver(self, driver: np.ndarray) -> "ExpressionTrack":
        return ExpressionTrack(self.beta_init, driver, self.config)

    def _head(self, k: int, activity: np.ndarray, request: FrameRequest) -> tuple[float, ...]:
        """The head's motion at frame k: the driver's recorded head angles, or generated."""
        if request.natural.head_motion <= 0 or k < 0:
            return STILL_HEAD
        if self.recorded_head is not None and request.frame_index is not None:
            yaw, pitch, roll = self.recorded_head[int(np.clip(k, 0, len(self.recorded_head) - 1))]
            return (float(yaw), float(pitch), float(roll), 0.0, 0.0, 0.0)
        return head_pose(k, activity, request.natural, self.config.natural)

    def _gaze(self, k: int, activity: np.ndarray, request: FrameRequest) -> tuple[float, ...]:
        """The eyes' turn at frame k: the driver's recorded eyeLook channels, or generated."""
        if request.natural.gaze == "off" or k < 0:
            return STILL_GAZE
        if self.recorded_gaze is not None and request.frame_index is not None:
            return tuple(float(v) for v in self.recorded_gaze[int(np.clip(k, 0, len(self.recorded_gaze) - 1))])
        h, v = gaze_direction(k, activity, request.natural, self.config.natural)
        return (h, v, h, v)

    # ----------------------------------------------------------------- one frame
    def audio_window(self, request: FrameRequest) -> list[np.ndarray]:
        """beta^audio of the request's window, oldest first, current last ([NUM_EXPRESSIONS] each)."""
        n = max(1, int(request.mask_window))
        if request.frame_index is not None and len(self.driver):
            last = len(self.driver) - 1
            ks = [request.frame_index - back for back in range(n - 1, 0, -1) if request.frame_index - back >= 0]
            ks.append(request.frame_index)
            return [self.driver[int(np.clip(k, 0, last))] for k in ks]
        if request.coefficients is None:
            return [np.zeros(NUM_EXPRESSIONS, np.float32)]
        recent = list(request.recent_coefficients[-(n - 1):]) if n > 1 else []
        return [np.asarray(c, np.float32) for c in recent + [request.coefficients]]

    def face(self, audio: np.ndarray, request: FrameRequest) -> FaceState:
        """One frame's face from its beta^audio [NUM_EXPRESSIONS] and the request's motion
        parameters. Where the audio presses the lips together (bilabials), mouthClose cancels
        the jaw's opening at the lips."""
        beta = request.motion.apply(audio, self.beta_init, driven=self._driven)
        seal = self.lip_seal(audio, request)
        if seal > 0:
            beta[_CLOSE] = max(beta[_CLOSE], seal * beta[_JAW])
        return FaceState(np.clip(beta, self.config.beta_min, self.config.beta_max).astype(np.float32), seal)

    def lip_seal(self, audio: np.ndarray, request: FrameRequest) -> float:
        """How firmly the lips should meet, 0..1: a bilabial closure (/p b m/ press the lips) is a
        hard articulatory target, so it is honoured even over the jaw's coarticulated opening and
        the photo's own open mouth. Scales with alpha_m up to ``seal_full_alpha_m``."""
        c = self.config
        press = 0.5 * float(audio[_PRESS_L] + audio[_PRESS_R])
        t = min(max((press - c.seal_press_start) / (c.seal_press_full - c.seal_press_start), 0.0), 1.0)
        return t * t * (3 - 2 * t) * min(1.0, request.motion.alpha_m / c.seal_full_alpha_m)

    def frame(self, request: FrameRequest) -> FrameFaces:
        """The faces of the request's frame and of the frames before it. The frames before it
        carry the head's motion (the mask of Eq. 13 follows the head), not blinks or gaze."""
        window = self.audio_window(request)
        faces = [_LazyFace(self, audio, request) for audio in window]
        k = self.motion_frame(request)
        driven = self._driver_blinks(window[-1])
        if k is None or request.natural.still:
            at_camera = request.natural.gaze == "camera"  # needs no time
            faces = [face.state for face in faces]
            if driven == (0.0, 0.0) and not at_camera:
                return FrameFaces(faces[-1], tuple(faces[:-1]))
            return FrameFaces(replace(faces[-1], blink=driven, gaze_at_camera=at_camera), tuple(faces[:-1]))
        activity = self.activity_window(request, k, len(window) - 1)
        w = ACTIVITY_HISTORY_FRAMES
        cfg = self.config.natural
        # A driver frame's past faces depend on their frame number alone (the activity before
        # them comes from the driver too), so later windows reuse them.
        keep = self.config.past_faces_kept if request.frame_index is not None else 0
        out = []
        for back, face in zip(range(len(faces) - 1, -1, -1), faces):
            key = (k - back, request.motion, request.natural)
            if back > 0 and keep and key in self._past:
                out.append(self._past[key])
                continue
            act = activity[len(activity) - back - w:len(activity) - back]
            head = self._head(k - back, act, request)
            blink, gaze = (0.0, 0.0), STILL_GAZE
            if back == 0:
                b = 0.0 if self.recorded_blinks and request.frame_index is not None else blink_curve(k, act, request.natural, cfg)
                blink = (max(b, driven[0]), max(b, driven[1]))
                gaze = self._gaze(k, act, request)
            face = face.state
            out.append(FaceState(face.beta, face.seal, blink, head, gaze,
                                 gaze_at_camera=back == 0 and request.natural.gaze == "camera"))
            if back > 0 and keep:
                self._past[key] = out[-1]
                while len(self._past) > keep:
                    del self._past[next(iter(self._past))]  # the oldest
        return FrameFaces(out[-1], tuple(out[:-1]))

    @staticmethod
    def _driver_blinks(audio: np.ndarray) -> tuple[float, float]:
        """The driver's own eyeBlinkLeft/Right (a Live Link Face CSV), 0..1."""
        return float(np.clip(audio[_BLINK[0]], 0, 1)), float(np.clip(audio[_BLINK[1]], 0, 1))

    @staticmethod
    def motion_frame(request: FrameRequest) -> int | None:
        """The frame number the natural motion is generated for (None: no time, a still head)."""
        return request.frame_index if request.frame_index is not None else request.live_frame

    def activity_window(self, request: FrameRequest, k: int, extra: int) -> np.ndarray:
        """Speech activity of frames k - ACTIVITY_HISTORY_FRAMES - extra + 1 .. k, float32; frames
        before the start are quiet."""
        n = ACTIVITY_HISTORY_FRAMES + extra
        if request.frame_index is not None:
            if not len(self._activity):
                return np.zeros(n, np.float32)
            ks = np.arange(k - n + 1, k + 1)
            act = self._activity[np.clip(ks, 0, len(self._activity) - 1)]
            return np.where(ks >= 0, act, 0.0).astype(np.float32)
        current = speech_activity(np.asarray(request.coefficients, np.float32), self.config.natural.activity) \
            if request.coefficients is not None else 0.0
        history = np.asarray(request.activity_history, np.float32)[-(n - 1):]
        out = np.zeros(n, np.float32)
        out[-1] = current
        if len(history):
            out[-1 - len(history):-1] = history
        return out


class _LazyFace:
    """``ExpressionTrack.face(audio, request)``, computed when first read (a reused past face
    never needs it)."""

    __slots__ = ("_track", "_audio", "_request", "_state")

    def __init__(self, track: ExpressionTrack, audio: np.ndarray, request: FrameRequest):
        self._track, self._audio, self._request, self._state = track, audio, request, None

    @property
    def state(self) -> FaceState:
        if self._state is None:
            self._state = self._track.face(self._audio, self._request)
        return self._state
