"""Rebuild assets/face_model/face_model.npz from the rules in core/face/basis_builder.py.

Usage: python tools/build_face_model.py
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.face.basis_builder import build_face_model  # noqa: E402
from core.face.face_model import FACE_MODEL_FILE  # noqa: E402


def mediapipe_edges() -> set[tuple[int, int]]:
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_TESSELATION

    return {tuple(sorted(e)) for e in FACEMESH_TESSELATION}


def main() -> None:
    arrays = build_face_model(mediapipe_edges())
    tmp = FACE_MODEL_FILE.with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(FACE_MODEL_FILE)
    print(f"wrote {FACE_MODEL_FILE.name}: {len(arrays['names'])} shapes, "
          f"{len(arrays['mean'])} vertices, {len(arrays['triangles'])} triangles")


if __name__ == "__main__":
    main()
