"""Multi-view consistency: identity and face detection over a grid of orbit yaw and pitch.

Each view is rendered with the photo's own expression (no speech), at the evaluation's framing.
A view counts as detected when FaceMesh finds a face in it; its identity is the dlib cosine
similarity to the source portrait (None where dlib finds no face or is not installed).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from core.engine import Engine
from core.evaluation.config import ViewGridConfig
from core.evaluation.identity import IdentityModel, cosine_similarity
from core.evaluation.lipsync import face_landmarks
from core.evaluation.rendering import render_view
from core.render.camera import DEFAULT_FRAMING, OrbitPose


@dataclass(frozen=True)
class ViewResult:
    """One view: offsets (degrees), FaceMesh found a face, dlib cosine to the source (or None)."""

    yaw_deg: float
    pitch_deg: float
    face_found: bool
    csim: float | None


@dataclass
class ViewGrid:
    """All views of one portrait, and the rendered tiles (uint8 [S, S, 3], row-major by pitch)."""

    portrait: str
    zoom: float
    views: list[ViewResult]
    tiles: list[np.ndarray] = field(default_factory=list, repr=False)

    @property
    def detection_rate(self) -> float:
        return float(np.mean([v.face_found for v in self.views])) if self.views else 0.0

    @property
    def mean_csim(self) -> float | None:
        sims = [v.csim for v in self.views if v.csim is not None]
        return float(np.mean(sims)) if sims else None

    @property
    def identity_rate(self) -> float | None:
        """Share of views in which dlib found (and embedded) a face; None without dlib."""
        return None if not self.views else float(np.mean([v.csim is not None for v in self.views]))

    def to_json(self, with_identity: bool) -> dict:
        return {"portrait": self.portrait, "zoom": self.zoom, "detection_rate": self.detection_rate,
                "mean_csim": self.mean_csim,
                "identity_rate": self.identity_rate if with_identity else None,
                "views": [asdict(v) for v in self.views]}


def view_grid(engine: Engine, portrait: str, size: int, zoom: float, config: ViewGridConfig,
              identity_model: IdentityModel | None, reference_embedding: np.ndarray | None,
              framing: str = DEFAULT_FRAMING) -> ViewGrid:
    """Render and score every (pitch, yaw) of ``config``; tiles in the same order as views."""
    views, tiles = [], []
    for pitch in config.pitches_deg:
        for yaw in config.yaws_deg:
            img = render_view(engine, OrbitPose(yaw, pitch, zoom), size, framing)
            found = face_landmarks(img) is not None
            sim = None
            if identity_model is not None and reference_embedding is not None:
                emb = identity_model.embed(img)
                sim = cosine_similarity(reference_embedding, emb.vector) if emb is not None else None
            views.append(ViewResult(float(yaw), float(pitch), found, sim))
            tiles.append(img)
    return ViewGrid(portrait, zoom, views, tiles)
