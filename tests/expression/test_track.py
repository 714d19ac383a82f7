"""The expression track: request -> the face of its frame and of the frames before it."""
from __future__ import annotations

import numpy as np
import pytest

from core.audio.motion import MotionParams
from core.engine import FrameRequest
from core.expression.track import ExpressionTrack
from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS

JAW = EXPRESSION_INDEX["jawOpen"]


def coeffs(**values) -> tuple[float, ...]:
    c = np.zeros(NUM_EXPRESSIONS, np.float32)
    for name, v in values.items():
        c[EXPRESSION_INDEX[name]] = v
    return tuple(map(float, c))


@pytest.fixture
def track(sample_subject) -> ExpressionTrack:
    return ExpressionTrack(sample_subject.beta_init)


def test_motion_parameters_change_the_expression(track, sample_subject):
    c = coeffs(jawOpen=0.6)
    base = track.frame(FrameRequest(coefficients=c)).current.beta
    stronger = track.frame(FrameRequest(coefficients=c, motion=MotionParams(lambda_exp=3.0))).current.beta
    frozen = track.frame(FrameRequest(coefficients=c, motion=MotionParams(alpha_m=0.0))).current.beta
    assert stronger[JAW] > base[JAW] > frozen[JAW]
    np.testing.assert_allclose(frozen, sample_subject.beta_init, atol=1e-6)
    # Eyes and brows are not driven by speech: they keep the photo's values.
    blink = EXPRESSION_INDEX["eyeBlinkLeft"]
    assert base[blink] == pytest.approx(sample_subject.beta_init[blink])


def test_driver_frames_come_with_the_frames_before_them(track):
    driver = np.zeros((20, NUM_EXPRESSIONS), np.float32)
    driver[:, JAW] = np.linspace(0.0, 0.95, 20)
    track = track.with_driver(driver)
    assert track.num_frames == 20
    faces = track.frame(FrameRequest(frame_index=10, mask_window=4))
    jaws = [f.beta[JAW] for f in faces.window]
    assert len(faces.recent) == 3 and jaws == sorted(jaws)  # oldest first, current last
    assert faces.current.beta[JAW] == pytest.approx(track.frame(FrameRequest(frame_index=10, mask_window=1)).current.beta[JAW])
    assert track.frame(FrameRequest(frame_index=0, mask_window=7)).recent == ()  # nothing before the start
    assert len(track.frame(FrameRequest(frame_index=2, mask_window=7)).recent) == 2
    # Past the end the last frame holds.
    np.testing.assert_array_equal(track.frame(FrameRequest(frame_index=50, mask_window=1)).current.beta,
                                  track.frame(FrameRequest(frame_index=19, mask_window=1)).current.beta)


def test_live_frames_use_the_recent_frames_the_request_carries(track):
    recent = tuple(coeffs(jawOpen=v) for v in (0.1, 0.2, 0.3, 0.4))
    req = FrameRequest(coefficients=coeffs(jawOpen=0.5), recent_coefficients=recent, mask_window=3)
    faces = track.frame(req)
    assert len(faces.recent) == 2  # only the last n - 1 are used
    assert faces.recent[0].beta[JAW] < faces.recent[1].beta[JAW] < faces.current.beta[JAW]
    assert track.frame(req).current.key() == faces.current.key()  # a pure function of the request
    silent = track.frame(FrameRequest(mask_window=7))
    assert silent.recent == () and silent.current.seal == 0.0


def test_bilabial_press_seals_the_lips_and_scales_with_alpha_m(track):
    press = coeffs(jawOpen=0.35, mouthPressLeft=0.3, mouthPressRight=0.3)
    full = track.frame(FrameRequest(coefficients=press))
    half = track.frame(FrameRequest(coefficients=press, motion=MotionParams(alpha_m=0.25)))
    none = track.frame(FrameRequest(coefficients=press, motion=MotionParams(alpha_m=0.0)))
    assert full.current.seal == pytest.approx(1.0) and half.current.seal == pytest.approx(0.5)
    assert none.current.seal == 0.0
    close = EXPRESSION_INDEX["mouthClose"]
    assert full.current.beta[close] >= full.current.beta[JAW] - 1e-6  # mouthClose cancels the jaw at the lips


def test_a_malformed_driver_is_refused(track):
    with pytest.raises(ValueError):
        track.with_driver(np.zeros((5, NUM_EXPRESSIONS + 1), np.float32))
