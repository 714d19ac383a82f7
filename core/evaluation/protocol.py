"""The paper's pose-robustness protocol (Table 2) and the per-clip metrics.

For one portrait and one speech file, the talking head is rendered twice: at the input pose (the
photo's own camera) and at the horizontally flipped pose (``rendering.flipped_pose``). Every
metric is computed for both clips, and the difference input - flipped, as the paper's Delta.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Iterable, Sequence

import numpy as np

from core.evaluation.config import EvalConfig
from core.evaluation.cpbd import cpbd_score
from core.evaluation.identity import IdentityModel, IdentityScore, evenly_spaced, score_frames
from core.evaluation.lipsync import (PhoneApertures, SyncResult, aperture_from_landmarks, face_landmarks,
                                     phone_apertures, sync_offset)
from core.render.camera import OrbitPose

CONDITIONS = ("input", "flipped")

# The scalar figures of a clip, in table order: name -> (label, higher is better or None).
SCALARS: dict[str, tuple[str, bool | None]] = {
    "csim": ("CSIM* (dlib cos)", True),
    "id_distance": ("dlib dist", False),
    "same_person": ("same-person rate", True),
    "cpbd": ("CPBD", True),
    "face_rate": ("face found", True),
    "sync_corr": ("AV corr @ best lag", True),
    "sync_conf": ("AV confidence", True),
    "sync_lag_ms": ("AV offset (ms)", None),
    "closure_ratio": ("bilabial/open aperture", False),
}


@dataclass
class ClipMetrics:
    """Every metric of one rendered clip.

    pose:        the orbit pose rendered (degrees / zoom)
    frames:      number of frames
    face_rate:   share of frames in which FaceMesh finds a face
    cpbd:        mean CPBD over the frames (0..1, higher is sharper)
    identity:    dlib identity against the source portrait, None when dlib is not installed
    sync:        aperture-vs-envelope offset and correlation
    phones:      bilabial / open-vowel apertures, None without phone labels
    aperture:    per-frame mouth aperture (NaN: no face), kept for the report's JSON
    seconds:     wall time spent per stage
    """

    condition: str
    pose: OrbitPose
    frames: int
    face_rate: float
    cpbd: float
    identity: IdentityScore | None
    sync: SyncResult
    phones: PhoneApertures | None
    aperture: list[float | None] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    def scalars(self) -> dict[str, float | None]:
        """The table figures (see ``SCALARS``)."""
        ident = self.identity
        return {
            "csim": ident.csim if ident else None,
            "id_distance": ident.distance if ident else None,
            "same_person": ident.same_person_rate if ident else None,
            "cpbd": self.cpbd,
            "face_rate": self.face_rate,
            "sync_corr": self.sync.corr_at_lag,
            "sync_conf": self.sync.confidence,
            "sync_lag_ms": self.sync.lag_ms,
            "closure_ratio": self.phones.closure_ratio if self.phones else None,
        }

    def to_json(self) -> dict:
        return {
            "condition": self.condition,
            "pose": asdict(self.pose),
            "frames": self.frames,
            "metrics": self.scalars(),
            "identity": asdict(self.identity) if self.identity else None,
            "sync": asdict(self.sync),
            "phones": asdict(self.phones) if self.phones else None,
            "mouth_aperture": self.aperture,
            "seconds": self.seconds,
        }


def difference(a: dict[str, float | None], b: dict[str, float | None]) -> dict[str, float | None]:
    """a - b per key (None where either is missing): the paper's Delta = input - flipped."""
    return {k: (a[k] - b[k]) if a.get(k) is not None and b.get(k) is not None else None for k in a}


def measure_clip(condition: str, pose: OrbitPose, frames: Iterable[np.ndarray], n_frames: int,
                 envelope: np.ndarray, phones: Sequence | None, identity_model: IdentityModel | None,
                 reference_embedding: np.ndarray | None, config: EvalConfig = EvalConfig(),
                 on_frame: Callable[[int, np.ndarray], None] | None = None) -> ClipMetrics:
    """Metrics of a clip whose frames (uint8 [S, S, 3], 25 fps from the audio's start) arrive one
    at a time, so long clips need no memory per frame beyond the few kept for identity.

    n_frames: how many frames ``frames`` yields (to spread the identity frames over the clip)
    envelope: float [>= n_frames] speech envelope per frame (``lipsync.speech_envelope``)
    on_frame: called with (index, frame) for every frame (video writing, stills)
    """
    seconds = {"render": 0.0, "facemesh": 0.0, "cpbd": 0.0, "identity": 0.0}
    picks = set(evenly_spaced(n_frames, config.identity.max_frames)) if identity_model is not None else set()
    kept: list[np.ndarray] = []
    apertures: list[float] = []
    sharpness: list[float] = []
    t_start = time.perf_counter()
    iterator = iter(frames)
    k = 0
    while True:
        t0 = time.perf_counter()
        frame = next(iterator, None)
        seconds["render"] += time.perf_counter() - t0
        if frame is None:
            break
        t0 = time.perf_counter()
        pts = face_landmarks(frame)
        apertures.append(aperture_from_landmarks(pts) if pts is not None else float("nan"))
        t1 = time.perf_counter()
        sharpness.append(cpbd_score(frame, config.cpbd))
        seconds["facemesh"] += t1 - t0
        seconds["cpbd"] += time.perf_counter() - t1
        if k in picks:
            kept.append(frame)
        if on_frame is not None:
            on_frame(k, frame)
        k += 1
    aperture = np.asarray(apertures, np.float64)
    t0 = time.perf_counter()
    ident = None
    if identity_model is not None and reference_embedding is not None:
        ident = score_frames(identity_model, reference_embedding, kept)
    seconds["identity"] = time.perf_counter() - t0
    seconds["total"] = time.perf_counter() - t_start
    sync = sync_offset(aperture, np.asarray(envelope, np.float64)[:k], config.sync)
    pa = phone_apertures(aperture, phones) if phones else None
    return ClipMetrics(condition, pose, k, float(np.isfinite(aperture).mean()) if k else 0.0,
                       float(np.mean(sharpness)) if sharpness else 0.0, ident, sync, pa,
                       [None if not np.isfinite(v) else round(float(v), 5) for v in aperture],
                       {name: round(v, 3) for name, v in seconds.items()})


@dataclass
class PoseRobustness:
    """One portrait x one speech file: both conditions and their difference (input - flipped).

    head_yaw_deg:      the photo's head yaw
    flip_offset_deg:   the yaw offset the flipped clip was rendered with (after the orbit limit)
    flip_clamped:      True when the full flip (-2 * head yaw) exceeded the orbit limit
    """

    portrait: str
    audio: str
    head_yaw_deg: float
    flip_offset_deg: float
    flip_clamped: bool
    input: ClipMetrics
    flipped: ClipMetrics
    videos: dict[str, str] = field(default_factory=dict)
    stills: dict[str, np.ndarray] = field(default_factory=dict, repr=False)  # condition -> mid frame

    @property
    def delta(self) -> dict[str, float | None]:
        return difference(self.input.scalars(), self.flipped.scalars())

    def to_json(self) -> dict:
        return {
            "portrait": self.portrait, "audio": self.audio,
            "head_yaw_deg": self.head_yaw_deg, "flip_offset_deg": self.flip_offset_deg,
            "flip_clamped": self.flip_clamped,
            "input": self.input.to_json(), "flipped": self.flipped.to_json(), "delta": self.delta,
            "videos": self.videos,
        }
