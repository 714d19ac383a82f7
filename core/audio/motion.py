"""Motion parameters of paper section 4.3, applied per frame after Audio2Exp.

    beta = (1 - alpha_m) * beta_init + alpha_m * lambda_exp * beta_audio

- ``beta_init``  [NUM_EXPRESSIONS] expression of the input portrait (from the face fit).
- ``beta_audio`` [NUM_EXPRESSIONS] or [T, NUM_EXPRESSIONS]: Audio2Exp output for a frame.
- ``alpha_m`` (momentum, default 0.5, in [0, 1]) is how far the face moves from the portrait's own
  expression towards the (scaled) audio expression. 0: the face keeps ``beta_init`` and does not
  talk; 1: ``beta_init`` is ignored and the face shows only the audio expression. At 0.5 the
  portrait's expression (e.g. a smile) is kept at half strength under the speech motion.
- ``lambda_exp`` (expression scale, default 1.5, >= 0) multiplies ``beta_audio`` only. With the
  defaults the audio coefficients enter at 0.5 * 1.5 = 0.75 of their value, and beta_init at 0.5.

The formula is applied to every coefficient, as in the paper. Audio2Exp leaves eyes and brows at 0,
so with alpha_m = 0.5 those coefficients end at half of ``beta_init``; pass ``driven`` (e.g.
``mouth_mask()``) to apply the formula only to the coefficients the audio drives and keep the others
at ``beta_init``. The result is not clipped: a large lambda_exp can push values above 1, which the
renderer may clamp. The function is a few vector operations (microseconds), so a slider change
takes effect on the next rendered frame without recomputing Audio2Exp.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.face.arkit import EXPRESSION_INDEX, MOUTH_NAMES, NUM_EXPRESSIONS

DEFAULT_ALPHA_M: float = 0.5      # paper 5.1 / official code
DEFAULT_LAMBDA_EXP: float = 1.5   # paper 5.1 / official code


@dataclass(frozen=True)
class MotionParams:
    """The two motion sliders. Frozen: build a new one (``dataclasses.replace``) to change it."""

    alpha_m: float = DEFAULT_ALPHA_M        # momentum in [0, 1]: weight of the audio expression
    lambda_exp: float = DEFAULT_LAMBDA_EXP  # >= 0: scale of beta_audio before blending

    def __post_init__(self) -> None:
        if not (math.isfinite(self.alpha_m) and 0.0 <= self.alpha_m <= 1.0):
            raise ValueError(f"alpha_m must be in [0, 1], got {self.alpha_m!r}")
        if not (math.isfinite(self.lambda_exp) and self.lambda_exp >= 0.0):
            raise ValueError(f"lambda_exp must be a finite number >= 0, got {self.lambda_exp!r}")

    def apply(self, beta_audio: np.ndarray, beta_init: np.ndarray,
              driven: np.ndarray | None = None) -> np.ndarray:
        """``apply_motion`` with these parameters."""
        return apply_motion(beta_audio, beta_init, self.alpha_m, self.lambda_exp, driven=driven)


def mouth_mask() -> np.ndarray:
    """bool [NUM_EXPRESSIONS]: True for the jaw/mouth/cheek coefficients the audio drives."""
    mask = np.zeros(NUM_EXPRESSIONS, dtype=bool)
    mask[[EXPRESSION_INDEX[n] for n in MOUTH_NAMES]] = True
    return mask


def apply_motion(beta_audio: np.ndarray, beta_init: np.ndarray,
                 alpha_m: float = DEFAULT_ALPHA_M, lambda_exp: float = DEFAULT_LAMBDA_EXP,
                 *, driven: np.ndarray | None = None) -> np.ndarray:
    """beta = (1 - alpha_m) * beta_init + alpha_m * lambda_exp * beta_audio.

    Args:
        beta_audio: float [..., NUM_EXPRESSIONS], one frame or a batch of frames.
        beta_init: float [NUM_EXPRESSIONS], broadcast over the batch.
        alpha_m: momentum in [0, 1].
        lambda_exp: expression scale >= 0.
        driven: optional bool [NUM_EXPRESSIONS]; where False the output is ``beta_init``.
    Returns:
        float32 [..., NUM_EXPRESSIONS] (same leading shape as ``beta_audio``).
    """
    beta_audio = np.asarray(beta_audio, dtype=np.float32)
    beta_init = np.asarray(beta_init, dtype=np.float32)
    if beta_audio.shape[-1:] != (NUM_EXPRESSIONS,) or beta_init.shape != (NUM_EXPRESSIONS,):
        raise ValueError(
            f"expected beta_audio [..., {NUM_EXPRESSIONS}] and beta_init [{NUM_EXPRESSIONS}], "
            f"got {beta_audio.shape} and {beta_init.shape}")
    a = np.float32(alpha_m)
    beta = (np.float32(1.0) - a) * beta_init + (a * np.float32(lambda_exp)) * beta_audio
    if driven is not None:
        beta = np.where(np.asarray(driven, dtype=bool), beta, beta_init)
    return beta.astype(np.float32, copy=False)
