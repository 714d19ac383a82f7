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


def test_reused_past_faces_equal_the_recomputed_ones(sample_subject):
    """The window's past faces kept from earlier frames (the default) against every window
    computed anew (``past_faces_kept=0``), frames asked in a scattered order, as two drawing
    processes ask them, with two motion settings."""
    from dataclasses import replace as with_fields

    from core.expression.natural import NaturalMotion
    from core.expression.track import ExpressionConfig

    rng = np.random.default_rng(7)
    driver = np.clip(rng.normal(0.2, 0.2, (120, NUM_EXPRESSIONS)), 0, 1).astype(np.float32)
    kept = ExpressionTrack(sample_subject.beta_init, driver)
    plain = ExpressionTrack(sample_subject.beta_init, driver, ExpressionConfig(past_faces_kept=0))
    order = list(range(0, 120, 3)) + list(range(1, 120, 3)) + [5, 4, 3, 2, 1, 0, 119, 60]
    for k in order:
        for request in (FrameRequest(frame_index=k), FrameRequest(frame_index=k, motion=MotionParams(alpha_m=0.8),
                                                                  natural=NaturalMotion(head_motion=0.5))):
            a, b = kept.frame(request), plain.frame(request)
            assert len(a.window) == len(b.window)
            for x, y in zip(a.window, b.window):
                np.testing.assert_array_equal(x.beta, y.beta)
                assert with_fields(x, beta=None) == with_fields(y, beta=None)
    assert len(kept._past) == ExpressionConfig().past_faces_kept
