"""The parametric face model S = S_mean + identity + beta * S_exp (paper Eq. 3, 5).

Identity is not a PCA space here: the subject's fitted mesh S_init (478 vertices) already holds
mean + identity + beta_init * S_exp, so a new expression beta gives

    V(beta) = V_init + R @ (beta - beta_init) * S_exp

with R the head rotation. Arrays are in the head frame of ``core.face.basis_builder``
(cm; x subject's left, y down, z into the head).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.face.arkit import EXPRESSION_NAMES

FACE_MODEL_FILE = Path(__file__).resolve().parents[2] / "assets" / "face_model" / "face_model.npz"


@dataclass(frozen=True)
class FaceModel:
    """Neutral mesh, expression basis and topology.

    mean:       float32 [N, 3]     neutral face, cm
    basis:      float32 [K, N, 3]  displacement per unit coefficient, cm
    names:      K ARKit names, the order of every expression vector
    triangles:  int32 [F, 3]       mesh faces (the 468 surface vertices)
    mirror:     int32 [N]          index of each vertex's left/right mirror
    jaw_weight: float32 [N]        how much each vertex follows the jaw (0 skull .. 1 jaw)
    digest:     content hash of the model file (part of every subject cache key)
    """

    mean: np.ndarray
    basis: np.ndarray
    names: tuple[str, ...]
    triangles: np.ndarray
    mirror: np.ndarray
    jaw_weight: np.ndarray
    digest: str

    @property
    def num_expressions(self) -> int:
        return len(self.names)

    def displacement(self, beta: np.ndarray) -> np.ndarray:
        """Expression displacement sum_k beta_k S_exp,k. beta [K] -> [N, 3] (cm, head frame)."""
        beta = np.asarray(beta, dtype=np.float32)
        assert beta.shape == (self.num_expressions,), beta.shape
        return np.tensordot(beta, self.basis, axes=1)

    def shape(self, beta: np.ndarray) -> np.ndarray:
        """Mean face with expression beta. [K] -> [N, 3]."""
        return self.mean + self.displacement(beta)


@lru_cache(maxsize=2)
def load_face_model(path: Path = FACE_MODEL_FILE) -> FaceModel:
    """Load the stored model (built by ``tools/build_face_model.py``)."""
    raw = path.read_bytes()
    with np.load(path, allow_pickle=False) as data:
        names = tuple(str(n) for n in data["names"])
        if names != EXPRESSION_NAMES:
            raise RuntimeError(f"{path.name} is out of date with core/face/arkit.py; "
                               "run python tools/build_face_model.py")
        return FaceModel(
            mean=data["mean"], basis=data["basis"], names=names, triangles=data["triangles"],
            mirror=data["mirror"], jaw_weight=data["jaw_weight"],
            digest=hashlib.sha256(raw).hexdigest()[:16],
        )
