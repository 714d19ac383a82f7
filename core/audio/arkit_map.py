"""openfacefx's ARKit preset as a dense matrix onto our expression names.

openfacefx blends 15 Oculus visemes (``sil PP FF TH DD kk CH SS nn RR aa E I O U``); its
``retarget.PRESETS["arkit"]`` table says which ARKit blendshapes (with weights) form each viseme.
``retarget()`` itself works on RDP-reduced keyframes; we need dense per-frame values, so we apply
the same table as a linear map and clamp to [0, 1] like ``retarget`` does. Preset targets that are
not in ``EXPRESSION_NAMES`` (``tongueOut``) are dropped.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np

from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS

PRESET_NAME = "arkit"


@lru_cache(maxsize=1)
def viseme_names() -> tuple[str, ...]:
    """The 15 openfacefx viseme names, in the column order of its blend matrices."""
    from openfacefx.visemes import VISEMES

    return tuple(VISEMES)


@lru_cache(maxsize=1)
def viseme_to_expression_matrix() -> np.ndarray:
    """float64 [15 visemes, NUM_EXPRESSIONS]: row v = ARKit coefficients of viseme v at weight 1."""
    from openfacefx.retarget import PRESETS

    visemes = viseme_names()
    matrix = np.zeros((len(visemes), NUM_EXPRESSIONS), dtype=np.float64)
    for viseme, targets in PRESETS[PRESET_NAME].items():
        for name, weight in targets:
            col = EXPRESSION_INDEX.get(name)
            if col is not None:                      # e.g. tongueOut is not in our basis
                matrix[visemes.index(viseme), col] += weight
    matrix.setflags(write=False)
    return matrix


@lru_cache(maxsize=1)
def dropped_targets() -> tuple[str, ...]:
    """ARKit names the preset drives that our face model lacks (they are ignored)."""
    from openfacefx.retarget import PRESETS

    names = {n for targets in PRESETS[PRESET_NAME].values() for n, _ in targets}
    return tuple(sorted(n for n in names if n not in EXPRESSION_INDEX))


def visemes_to_expressions(viseme_weights: np.ndarray) -> np.ndarray:
    """Map viseme weights to expression coefficients.

    Args:
        viseme_weights: float [T, 15] (rows of openfacefx's blend, each summing to about 1).
    Returns:
        float32 [T, NUM_EXPRESSIONS] in [0, 1].
    """
    out = np.asarray(viseme_weights, dtype=np.float64) @ viseme_to_expression_matrix()
    return np.clip(out, 0.0, 1.0).astype(np.float32)
