"""Identity similarity: dlib's 128-D ResNet face embedding, the stand-in for the paper's CSIM.

The paper's CSIM is the cosine similarity of ArcFace embeddings between the source portrait and
the generated frames. ArcFace weights are not obtainable here; dlib's face-recognition ResNet
(``dlib-bin`` + ``face-recognition-models``, see ``requirements-eval.txt``) is. It is trained for
Euclidean distance (same person below 0.6), so its cosine similarities sit in a narrow high band
(about 0.99 for the same photo resized or mirrored, about 0.8 for different people): compare
figures with each other, not with the paper's ArcFace numbers.

Faces are found with dlib's HOG detector; where it finds none (turned or small renders) the box
comes from FaceMesh, so that a face MediaPipe sees is still embedded. The 5-point aligner places
the face chip, as dlib recommends.

Both packages are optional. ``load_identity_model`` returns None (and ``unavailable_reason`` says
why) when they are missing; nothing here raises for that.
"""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.evaluation.config import IdentityConfig

EMBEDDING_DIM = 128
NOT_AVAILABLE = "not available: pip install -r requirements-eval.txt"
SHAPE_MODEL = "shape_predictor_5_face_landmarks.dat"
RECOGNITION_MODEL = "dlib_face_recognition_resnet_model_v1.dat"
# A FaceMesh landmark box (forehead..chin, cheek..cheek) is larger than dlib's HOG box (brows..lip,
# eye corner..eye corner, roughly); shrink it about its centre by this factor before aligning.
MESH_BOX_SCALE = 0.8
MESH_BOX_SHIFT = 0.1   # and move it down by this share of its height (HOG boxes start at the brows)


@dataclass(frozen=True)
class FaceEmbedding:
    """vector: float64 [128]; box: (x0, y0, x1, y1) pixels; source: "dlib" or "facemesh"."""

    vector: np.ndarray
    box: tuple[int, int, int, int]
    source: str


def models_dir() -> Path | None:
    """The ``models/`` folder of face_recognition_models, found without importing the package
    (its ``__init__`` imports ``pkg_resources``, which new setuptools no longer ships)."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        folder = Path(root) / "models"
        if (folder / SHAPE_MODEL).is_file() and (folder / RECOGNITION_MODEL).is_file():
            return folder
    return None


_MODELS: dict[IdentityConfig, "IdentityModel"] = {}
_LOAD_ERRORS: dict[IdentityConfig, str] = {}


def load_identity_model(config: IdentityConfig = IdentityConfig()) -> "IdentityModel | None":
    """The dlib model, loaded once per process; None when dlib or the model files are missing."""
    if config not in _MODELS and config not in _LOAD_ERRORS:
        try:
            _MODELS[config] = IdentityModel(config)
        except (ImportError, OSError, RuntimeError) as exc:
            _LOAD_ERRORS[config] = f"{NOT_AVAILABLE} ({type(exc).__name__}: {exc})"
    return _MODELS.get(config)


def unavailable_reason(config: IdentityConfig = IdentityConfig()) -> str | None:
    """None when the identity model loads, else the message the report shows instead of figures."""
    if load_identity_model(config) is not None:
        return None
    return _LOAD_ERRORS.get(config, NOT_AVAILABLE)


class IdentityModel:
    """dlib HOG detector + 5-point aligner + ResNet embedding. ~0.1 s per face on 2 CPU cores."""

    def __init__(self, config: IdentityConfig = IdentityConfig()):
        import dlib  # noqa: PLC0415 (optional dependency)

        folder = models_dir()
        if folder is None:
            raise FileNotFoundError("face_recognition_models (its models/ folder) is not installed")
        self.config = config
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(folder / SHAPE_MODEL))
        self._encoder = dlib.face_recognition_model_v1(str(folder / RECOGNITION_MODEL))

    def _boxes(self, rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], str]]:
        dets = self._detector(rgb, self.config.detector_upsample)
        if len(dets):
            best = max(dets, key=lambda r: r.area())
            return [((best.left(), best.top(), best.right(), best.bottom()), "dlib")]
        from core.preprocess.face_fit import _run_face_mesh

        faces = _run_face_mesh(rgb, max_faces=1)
        if not faces:
            return []
        pts = faces[0][:, :2]
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1) + MESH_BOX_SHIFT * (y1 - y0)
        half = 0.5 * MESH_BOX_SCALE * max(x1 - x0, y1 - y0)
        return [((int(cx - half), int(cy - half), int(cx + half), int(cy + half)), "facemesh")]

    def embed(self, rgb: np.ndarray) -> FaceEmbedding | None:
        """Embedding of the largest face in uint8 RGB [H, W, 3]; None when no face is found."""
        rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        boxes = self._boxes(rgb)
        if not boxes:
            return None
        (x0, y0, x1, y1), source = boxes[0]
        rect = self._dlib.rectangle(int(x0), int(y0), int(x1), int(y1))
        shape = self._shape(rgb, rect)
        vec = np.asarray(self._encoder.compute_face_descriptor(rgb, shape, self.config.jitter), np.float64)
        assert vec.shape == (EMBEDDING_DIM,), vec.shape
        return FaceEmbedding(vec, (int(x0), int(y0), int(x1), int(y1)), source)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine of two [D] vectors (the CSIM formula)."""
    return float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


@dataclass(frozen=True)
class IdentityScore:
    """Identity of a set of frames against the source portrait.

    csim:            mean cosine similarity (stand-in CSIM), None when nothing was embedded
    distance:        mean dlib Euclidean distance (same person below 0.6)
    same_person_rate: share of embedded frames closer than the same-person threshold
    frames_embedded / frames_tried: frames with a face found / frames looked at
    """

    csim: float | None
    distance: float | None
    same_person_rate: float | None
    frames_embedded: int
    frames_tried: int


def score_frames(model: IdentityModel, reference: np.ndarray, frames: list[np.ndarray]) -> IdentityScore:
    """Identity of ``frames`` (uint8 RGB [H, W, 3] each) against a reference embedding [128]."""
    sims, dists = [], []
    for frame in frames:
        emb = model.embed(frame)
        if emb is None:
            continue
        sims.append(cosine_similarity(reference, emb.vector))
        dists.append(float(np.linalg.norm(reference - emb.vector)))
    if not sims:
        return IdentityScore(None, None, None, 0, len(frames))
    threshold = model.config.same_person_distance
    return IdentityScore(float(np.mean(sims)), float(np.mean(dists)),
                         float(np.mean(np.asarray(dists) < threshold)), len(sims), len(frames))


def evenly_spaced(n_total: int, n_pick: int) -> list[int]:
    """Up to ``n_pick`` indices spread evenly over range(n_total), first and last included."""
    if n_total <= 0 or n_pick <= 0:
        return []
    if n_total <= n_pick:
        return list(range(n_total))
    return sorted({int(round(x)) for x in np.linspace(0, n_total - 1, n_pick)})
