"""Motion parameters (paper 4.3): beta = (1 - alpha_m) beta_init + alpha_m lambda_exp beta_audio."""
from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from core.audio.motion import MotionParams, apply_motion, mouth_mask
from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS

RNG = np.random.default_rng(3)


def test_formula_and_defaults():
    audio, init = RNG.random(NUM_EXPRESSIONS), RNG.random(NUM_EXPRESSIONS)
    beta = apply_motion(audio, init)
    np.testing.assert_allclose(beta, 0.5 * init + 0.5 * 1.5 * audio, rtol=1e-6)
    assert beta.dtype == np.float32 and beta.shape == (NUM_EXPRESSIONS,)
    assert MotionParams() == MotionParams(alpha_m=0.5, lambda_exp=1.5)


def test_extremes():
    audio, init = RNG.random(NUM_EXPRESSIONS), RNG.random(NUM_EXPRESSIONS)
    np.testing.assert_allclose(apply_motion(audio, init, alpha_m=0.0), init, rtol=1e-6)
    np.testing.assert_allclose(apply_motion(audio, init, 1.0, 1.0), audio, rtol=1e-6)
    np.testing.assert_allclose(apply_motion(audio, init, 1.0, 2.0), 2 * audio, rtol=1e-6)
    np.testing.assert_allclose(apply_motion(audio, init, 0.3, 0.0), 0.7 * init, rtol=1e-6)


def test_batch_and_mask():
    audio = RNG.random((7, NUM_EXPRESSIONS))
    init = RNG.random(NUM_EXPRESSIONS)
    beta = MotionParams(0.4, 2.0).apply(audio, init, driven=mouth_mask())
    assert beta.shape == (7, NUM_EXPRESSIONS)
    eye = EXPRESSION_INDEX["eyeBlinkLeft"]
    jaw = EXPRESSION_INDEX["jawOpen"]
    np.testing.assert_allclose(beta[:, eye], init[eye], rtol=1e-6)          # not audio-driven
    np.testing.assert_allclose(beta[:, jaw], 0.6 * init[jaw] + 0.8 * audio[:, jaw], rtol=1e-5)


@pytest.mark.parametrize("kwargs", [{"alpha_m": -0.1}, {"alpha_m": 1.5},
                                    {"lambda_exp": -1.0}, {"alpha_m": float("nan")}])
def test_invalid_parameters(kwargs):
    with pytest.raises(ValueError):
        MotionParams(**kwargs)


def test_frozen_and_shape_checked():
    params = MotionParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.alpha_m = 0.9                                           # type: ignore[misc]
    with pytest.raises(ValueError):
        apply_motion(np.zeros(5), np.zeros(NUM_EXPRESSIONS))


def test_cheap_enough_for_every_frame():
    audio, init = RNG.random(NUM_EXPRESSIONS), RNG.random(NUM_EXPRESSIONS)
    start = time.perf_counter()
    for _ in range(1000):
        apply_motion(audio, init, 0.5, 1.5)
    assert (time.perf_counter() - start) / 1000 < 1e-3   # far below one 40 ms frame
