"""Natural motion beside the speech: blinks and head motion, per frame, from a seed.

Every channel is a pure function of (frame index, the speech activity of the frames up to it, the
seed, the user's controls): the same frame comes out the same in any render order, and nothing
looks ahead, so the microphone's live frames get the same motion as a file (the live request
carries its recent activity, ``ACTIVITY_HISTORY_FRAMES`` of it).

* Speech activity (``speech_activity``): per frame, how open and busy the mouth is (0..1), from
  beta^audio; a pause is a run of quiet frames after speech.
* Blinks (``blink_curve``): one blink per slot of 60 / rate seconds, due at a seeded place within
  the slot (intervals of a few seconds, varying); it comes at the first pause known from a little
  before it is due to a little after (blinks come at phrase ends more than mid-word; causal: a
  blink due mid-word waits up to ``pause_wait_s``); sometimes a double blink.
  Each closes in ~120 ms, stays shut one frame and opens more slowly (~280 ms).
* Gaze (``gaze_direction``): fixations on points near the listener, a saccade (two frames) to
  the next one every second or so at a seeded time; while speaking, sometimes a glance away
  (sideways or down, for about a second) and back; a small fixational drift throughout. Angles of
  both eyes, relative to the photo's gaze. With gaze "camera" the renderer turns the eyes toward
  the viewer's camera and only the drift is generated; "off" leaves the photo's gaze.
* Head motion (``head_pose``): slow seeded sway (a few incommensurate sinusoids per channel, a
  few degrees), livelier while speaking; nods that follow the speech's stresses (the activity
  against its own recent mean, through a short causal kernel); breathing-like drift in silence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from core.face.arkit import EXPRESSION_INDEX

FPS = 25
BLINK_RATE_LIMITS = (0.0, 60.0)  # blinks per minute
HEAD_MOTION_LIMITS = (0.0, 3.0)  # head motion amount (1 = natural)
GAZE_MODES = ("on", "off", "camera")
"""on: natural eye movements; off: the photo's gaze; camera: the eyes follow the viewer's camera."""


@dataclass(frozen=True)
class NaturalMotion:
    """The user's controls of the motion beside the speech.

    blink_rate:  blinks per minute (0 = no blinks)
    head_motion: amount of head motion, 1 = like a real speaker (0 = the head stays still)
    seed:        the same seed gives the same blinks, gaze and head motion
    gaze:        one of ``GAZE_MODES``
    """

    blink_rate: float = 15.0
    head_motion: float = 1.0
    seed: int = 0
    gaze: str = "on"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.blink_rate) and 0.0 <= self.blink_rate <= BLINK_RATE_LIMITS[1]):
            raise ValueError(f"blink rate must be in [0, {BLINK_RATE_LIMITS[1]}] per minute, got {self.blink_rate!r}")
        if not (math.isfinite(self.head_motion) and 0.0 <= self.head_motion <= HEAD_MOTION_LIMITS[1]):
            raise ValueError(f"head motion must be in [0, {HEAD_MOTION_LIMITS[1]}], got {self.head_motion!r}")
        if self.gaze not in GAZE_MODES:
            raise ValueError(f"gaze must be one of {', '.join(GAZE_MODES)}, got {self.gaze!r}")

    @property
    def still(self) -> bool:
        """No blinks, no head motion and the photo's gaze."""
        return self.blink_rate == 0 and self.head_motion == 0 and self.gaze == "off"


STILL = NaturalMotion(blink_rate=0.0, head_motion=0.0, gaze="off")


@dataclass(frozen=True)
class ActivityConfig:
    jaw_weight: float = 2.0  # activity = clip(jaw_weight * jawOpen + lip_weight * mean lip channels, 0, 1)
    lip_weight: float = 1.5
    quiet_level: float = 0.06  # a frame below this activity is quiet
    pause_frames: int = 6  # a pause is detected after this many quiet frames (240 ms) following speech


@dataclass(frozen=True)
class BlinkConfig:
    slot_start: float = 0.15  # a slot's blink starts between these fractions of the slot
    slot_end: float = 0.85
    pause_pull_s: float = 1.5  # a blink due within this time after a pause is detected comes then ...
    pause_pull_slot_share: float = 0.35  # ... at most this share of a slot early;
    pause_wait_s: float = 1.0  # a blink due while speaking waits this long for a pause (then comes anyway)
    double_chance: float = 0.12  # chance that a blink is followed by a second one ...
    double_gap_frames: int = 9  # ... this many frames later
    close_s: float = 0.12  # closing time
    closed_s: float = 0.04  # fully shut
    open_s: float = 0.28  # opening time

    @property
    def span_frames(self) -> int:
        """Frames from a blink's onset until a double blink has reopened."""
        return int(math.ceil((self.close_s + self.closed_s + self.open_s) * FPS)) + self.double_gap_frames + 1


@dataclass(frozen=True)
class HeadMotionConfig:
    """Amplitudes at head_motion = 1 (degrees; cm for translations)."""

    sway_std: tuple[float, ...] = (3.2, 1.4, 2.3, 0.25, 0.08, 0.2)  # yaw, pitch, roll, x, y, z
    sway_components: int = 4  # sinusoids per channel
    sway_hz: tuple[float, float] = (0.06, 0.45)  # their frequency range
    quiet_share: float = 0.55  # sway in silence, relative to sway while speaking
    speaking_level: float = 0.25  # mean activity that counts as fully speaking
    level_frames: int = 25  # the mean activity (speaking or not) is over this many frames
    nod_deg: float = 6.0  # pitch per unit activity above its recent mean
    nod_roll_share: float = 0.25  # the nods tilt the head a little too
    nod_tau_frames: float = 3.0  # the nod kernel k exp(-k / tau): peak ~tau frames after the stress
    nod_frames: int = 16  # its length
    breath_period_s: float = 4.0  # breathing-like drift in silence
    breath_pitch_deg: float = 0.4
    breath_y_cm: float = 0.05


@dataclass(frozen=True)
class GazeMotionConfig:
    """Eye movements (degrees of eye rotation; + toward the subject's left, + up)."""

    fixation_s: float = 1.2  # one fixation slot: its saccade comes at a seeded time within it
    saccade_start: float = 0.1  # a slot's saccade starts between these fractions of the slot
    saccade_end: float = 0.9
    saccade_frames: int = 2  # a saccade takes this many frames (~80 ms)
    near_std_deg: tuple[float, float] = (2.5, 1.2)  # fixations on points near the listener's face
    near_limit_deg: tuple[float, float] = (6.0, 3.0)
    glance_chance: float = 0.18  # chance that a slot's saccade is a glance away, while speaking
    glance_deg: tuple[float, float] = (9.0, 15.0)  # its size
    glance_down_share: float = 0.35  # a glance goes down (thinking) with this chance, else sideways
    glance_hold_s: tuple[float, float] = (0.5, 1.0)  # how long before the eyes come back
    drift_deg: float = 0.25  # fixational drift amplitude
    drift_hz: tuple[float, float] = (0.3, 0.8)
    drift_hold_frames: int = 5  # the drift moves on every this many frames (a steadier eye costs fewer redraws)
    speaking_level: float = 0.25  # mean activity (over ``level_frames``) that counts as speaking
    level_frames: int = 25


@dataclass(frozen=True)
class NaturalMotionConfig:
    activity: ActivityConfig = field(default_factory=ActivityConfig)
    blink: BlinkConfig = field(default_factory=BlinkConfig)
    head: HeadMotionConfig = field(default_factory=HeadMotionConfig)
    gaze: GazeMotionConfig = field(default_factory=GazeMotionConfig)

    @property
    def history_frames(self) -> int:
        """Frames of activity before the current one that the channels depend on."""
        b = self.blink
        pull = int(math.ceil((b.pause_pull_s + b.pause_wait_s) * FPS)) + self.activity.pause_frames + 1
        slot = int(math.ceil(self.gaze.fixation_s * FPS))
        return max(pull + b.span_frames, self.head.level_frames, self.head.nod_frames,
                   2 * slot + self.gaze.level_frames)


ACTIVITY_HISTORY_FRAMES = NaturalMotionConfig().history_frames
_JAW = EXPRESSION_INDEX["jawOpen"]
_LIPS = [EXPRESSION_INDEX[n] for n in ("mouthFunnel", "mouthPucker", "mouthLowerDownLeft", "mouthLowerDownRight",
                                       "mouthUpperUpLeft", "mouthUpperUpRight", "mouthStretchLeft", "mouthStretchRight")]


def speech_activity(coefficients: np.ndarray, config: ActivityConfig = ActivityConfig()) -> np.ndarray:
    """beta^audio [T, NUM_EXPRESSIONS] (or [NUM_EXPRESSIONS]) -> activity float32 [T] (or scalar) in 0..1."""
    c = np.asarray(coefficients, np.float32)
    a = config.jaw_weight * c[..., _JAW] + config.lip_weight * np.abs(c[..., _LIPS]).mean(axis=-1)
    return np.clip(a, 0.0, 1.0).astype(np.float32)


def _pause_detections(activity: np.ndarray, config: ActivityConfig) -> np.ndarray:
    """bool [W]: True at the frame where a pause (``pause_frames`` quiet frames after a non-quiet
    one) becomes known. ``activity`` [W] is a window ending at the current frame."""
    quiet = activity < config.quiet_level
    m = config.pause_frames
    out = np.zeros(len(activity), bool)
    if len(activity) <= m:
        return out
    runs = np.concatenate([[0], np.cumsum(quiet)])
    last_m_quiet = (runs[m + 1:] - runs[1:-m]) == m  # frames i = m .. W-1: quiet[i-m+1 .. i]
    out[m:] = last_m_quiet & ~quiet[:-m]
    return out


def _slot_rng(seed: int, slot: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([salt, int(seed) & 0xFFFFFFFF, slot + (1 << 40)])


def blink_profile(frames_since_onset: np.ndarray, config: BlinkConfig = BlinkConfig()) -> np.ndarray:
    """Lid closure 0..1 at whole frames after a blink's onset (frame 0 = still open)."""
    t = np.asarray(frames_since_onset, np.float64) / FPS
    close = np.clip(t / config.close_s, 0, 1)
    opening = np.clip((t - config.close_s - config.closed_s) / config.open_s, 0, 1)
    s = lambda x: x * x * (3 - 2 * x)  # noqa: E731
    out = s(close) * (1 - s(opening))
    return np.where((t >= 0) & (opening < 1), out, 0.0)


def blink_curve(frame: int, activity: np.ndarray, controls: NaturalMotion,
                config: NaturalMotionConfig = NaturalMotionConfig()) -> float:
    """Lid closure (both eyes) at ``frame`` (>= 0), from the activity [W] of frames
    frame - W + 1 .. frame (oldest first; frames before the start are quiet)."""
    if controls.blink_rate <= 0 or frame < 0:
        return 0.0
    b = config.blink
    slot_frames = 60.0 / controls.blink_rate * FPS
    detected = _pause_detections(np.asarray(activity, np.float32), config.activity)
    first = frame - len(activity) + 1  # frame of activity[0]
    pull = min(b.pause_pull_s * FPS, b.pause_pull_slot_share * slot_frames)
    wait = int(round(b.pause_wait_s * FPS))
    span = b.span_frames + wait
    closure = 0.0
    here = int(frame // slot_frames)
    for slot in range(here - int(math.ceil((span + pull) / slot_frames)) - 1, here + 1):
        if slot < 0:
            continue
        rng = _slot_rng(controls.seed, slot, salt=1)
        u, double = rng.random(2)
        due = int(round((slot + b.slot_start + u * (b.slot_end - b.slot_start)) * slot_frames))
        # The blink comes at the first pause known from a little before it is due until a little
        # after (a blink due mid-word waits for the phrase end); without one, when the wait is over.
        onset = due + wait
        lo = max(int(math.ceil(due - pull)), first)
        for d in range(lo, min(due + wait, frame) + 1):
            if detected[d - first]:
                onset = d
                break
        onsets = [onset] + ([onset + b.double_gap_frames] if double < b.double_chance else [])
        for k0 in onsets:
            closure = max(closure, float(blink_profile(np.array([frame - k0]), b)[0]))
    return closure


@lru_cache(maxsize=16)
def _sway_terms(seed: int, config: HeadMotionConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per channel and component: amplitude, angular frequency (rad/frame), phase. [6, K] each."""
    rng = np.random.default_rng([2, int(seed) & 0xFFFFFFFF])
    k = config.sway_components
    lo, hi = config.sway_hz
    freq = np.exp(rng.uniform(np.log(lo), np.log(hi), (6, k)))
    phase = rng.uniform(0, 2 * np.pi, (6, k))
    weight = rng.uniform(0.5, 1.0, (6, k)) / np.sqrt(freq)  # slower components are larger
    amp = weight / np.sqrt((weight ** 2).sum(axis=1, keepdims=True) / 2) * np.array(config.sway_std)[:, None]
    return amp, 2 * np.pi * freq / FPS, phase


def head_pose(frame: int, activity: np.ndarray, controls: NaturalMotion,
              config: NaturalMotionConfig = NaturalMotionConfig()) -> tuple[float, ...]:
    """(yaw, pitch, roll degrees, x, y, z cm) of the head at ``frame`` relative to the photo's,
    from the activity [W] of the frames up to it (oldest first). Zeros when head_motion is 0."""
    if controls.head_motion <= 0 or frame < 0:
        return (0.0,) * 6
    h = config.head
    a = np.asarray(activity, np.float64)
    level_window = a[-h.level_frames:]
    ramp = np.arange(1, len(level_window) + 1, dtype=np.float64)  # recent frames count more
    level = float((level_window * ramp).sum() / ramp.sum()) if len(level_window) else 0.0
    speaking = min(1.0, level / h.speaking_level)
    amp, omega, phase = _sway_terms(int(controls.seed), h)
    sway = (amp * np.sin(omega * frame + phase)).sum(axis=1) * (h.quiet_share + (1 - h.quiet_share) * speaking)
    j = np.arange(h.nod_frames, dtype=np.float64)
    kernel = j * np.exp(-j / h.nod_tau_frames)
    kernel /= kernel.sum()
    recent = a[::-1][:h.nod_frames]  # current first
    nod = float((kernel[:len(recent)] * recent).sum()) - level
    breath = math.sin(2 * math.pi * frame / (h.breath_period_s * FPS)) * (1 - speaking)
    pose = sway.copy()
    pose[1] += h.nod_deg * nod + h.breath_pitch_deg * breath
    pose[2] += h.nod_deg * h.nod_roll_share * nod
    pose[4] += h.breath_y_cm * breath
    return tuple(float(v) for v in pose * controls.head_motion)


def _gaze_target(seed: int, slot: int, activity: np.ndarray, saccade_at: int, first: int,
                 config: GazeMotionConfig) -> tuple[np.ndarray, int]:
    """The fixation slot's target (h, v degrees) and, for a glance away, the frame it ends (else
    -1). ``activity`` [W] starts at frame ``first``; the glance chance follows the speech level
    just before the saccade."""
    rng = _slot_rng(seed, slot, salt=3)
    near = np.clip(rng.normal(0.0, 1.0, 2) * config.near_std_deg, -np.array(config.near_limit_deg),
                   np.array(config.near_limit_deg))
    glance_u, down_u, size_u, hold_u, side_u = rng.random(5)
    lo = max(saccade_at - config.level_frames - first, 0)
    hi = max(saccade_at - first, 0)
    window = activity[lo:hi]
    level = float(window.mean()) if len(window) else 0.0
    speaking = min(1.0, level / config.speaking_level)
    if glance_u >= config.glance_chance * speaking:
        return near, -1
    size = config.glance_deg[0] + size_u * (config.glance_deg[1] - config.glance_deg[0])
    if down_u < config.glance_down_share:
        target = np.array([0.3 * size * (side_u - 0.5), -0.6 * size])
    else:
        target = np.array([size if side_u < 0.5 else -size, 0.15 * size * (down_u - 0.5)])
    hold = config.glance_hold_s[0] + hold_u * (config.glance_hold_s[1] - config.glance_hold_s[0])
    return target, saccade_at + int(round(hold * FPS))


def gaze_direction(frame: int, activity: np.ndarray, controls: NaturalMotion,
                   config: NaturalMotionConfig = NaturalMotionConfig()) -> tuple[float, float]:
    """Gaze (h, v) degrees of both eyes at ``frame`` relative to the photo's gaze, from the
    activity [W] of frames frame - W + 1 .. frame. (0, 0) with gaze "off"; only the drift with
    "camera" (the renderer adds the turn toward the camera)."""
    if controls.gaze == "off" or frame < 0:
        return (0.0, 0.0)
    g = config.gaze
    amp, omega, phase = _drift_terms(int(controls.seed), g)
    drift = (amp * np.sin(omega * (frame - frame % g.drift_hold_frames) + phase)).sum(axis=1)
    if controls.gaze == "camera":
        return float(drift[0]), float(drift[1])
    slot_frames = g.fixation_s * FPS
    first = frame - len(activity) + 1
    activity = np.asarray(activity, np.float32)

    def saccade_frame(slot: int) -> int:
        u = _slot_rng(controls.seed, slot, salt=4).random()
        return int(round((slot + g.saccade_start + u * (g.saccade_end - g.saccade_start)) * slot_frames))

    here = int(frame // slot_frames)
    slot = here if saccade_frame(here) <= frame else here - 1  # the slot whose saccade came last
    if slot < 0:
        return float(drift[0]), float(drift[1])
    at = saccade_frame(slot)
    previous = np.zeros(2)
    if slot > 0:
        prev_at = saccade_frame(slot - 1)
        previous, prev_end = _gaze_target(controls.seed, slot - 1, activity, prev_at, first, g)
        if 0 <= prev_end <= at:
            previous = np.zeros(2)  # the glance had already come back to the listener
    target, glance_end = _gaze_target(controls.seed, slot, activity, at, first, g)
    s = lambda x: x * x * (3 - 2 * x)  # noqa: E731
    t = s(min(1.0, (frame - at + 1) / g.saccade_frames))
    gaze = previous + t * (target - previous)
    if 0 <= glance_end <= frame:  # the glance's way back
        gaze = target + s(min(1.0, (frame - glance_end + 1) / g.saccade_frames)) * (np.zeros(2) - target)
    return float(gaze[0] + drift[0]), float(gaze[1] + drift[1])


@lru_cache(maxsize=16)
def _drift_terms(seed: int, config: GazeMotionConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixational drift: per channel (h, v) and component, amplitude, rad/frame, phase. [2, 3] each."""
    rng = np.random.default_rng([5, int(seed) & 0xFFFFFFFF])
    lo, hi = config.drift_hz
    freq = rng.uniform(lo, hi, (2, 3))
    amp = np.full((2, 3), config.drift_deg / np.sqrt(1.5))
    return amp, 2 * np.pi * freq / FPS, rng.uniform(0, 2 * np.pi, (2, 3))


class MotionStream:
    """The same channels for a stream of frames in order (``audio2exp`` writing a CSV): push
    beta^audio blocks, get each frame's blink closure, head pose and gaze. Frame k's values equal
    those the expression track gives frame k of the same driver."""

    def __init__(self, controls: NaturalMotion = NaturalMotion(), config: NaturalMotionConfig = NaturalMotionConfig()):
        self.controls = controls
        self.config = config
        self.frame = 0
        self._history = np.zeros(ACTIVITY_HISTORY_FRAMES, np.float32)

    def push(self, coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """beta^audio [k, NUM_EXPRESSIONS] -> (blink closure [k], head pose [k, 6], gaze [k, 2]
        degrees; "camera" gaze is written as its drift)."""
        activity = speech_activity(np.asarray(coefficients, np.float32).reshape(-1, len(coefficients[0]) if len(coefficients) else 1),
                                   self.config.activity) if len(coefficients) else np.zeros(0, np.float32)
        blinks, heads, gazes = np.zeros(len(activity)), np.zeros((len(activity), 6)), np.zeros((len(activity), 2))
        for i, a in enumerate(activity):
            self._history = np.concatenate([self._history[1:], [a]]).astype(np.float32)
            blinks[i] = blink_curve(self.frame, self._history, self.controls, self.config)
            heads[i] = head_pose(self.frame, self._history, self.controls, self.config)
            gazes[i] = gaze_direction(self.frame, self._history, self.controls, self.config)
            self.frame += 1
        return blinks, heads, gazes
