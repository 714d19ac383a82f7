"""Blink timing and head motion: natural statistics, reproducible from the seed, the same in any
order and causal (a live stream gets the same motion as the file)."""
from __future__ import annotations

import numpy as np
import pytest

from core.audio.coeff_csv import read_coefficients_csv, write_coefficients_csv
from core.expression.natural import (ACTIVITY_HISTORY_FRAMES, STILL, MotionStream, NaturalMotion, blink_profile, gaze_direction,
                                     speech_activity)
from core.expression.track import ExpressionTrack
from core.face.arkit import (EXPRESSION_INDEX, EYE_LOOK_FULL_DEG, NUM_DRIVER_CHANNELS, NUM_EXPRESSIONS, eye_look_to_gaze,
                             gaze_to_eye_look)
from core.request import FrameRequest

FPS = 25


def speech_like(seconds: float, seed: int = 0) -> np.ndarray:
    """A driver with phrases of ~2-4 s of syllables (jaw opening ~4 Hz) and pauses of 0.5-1 s."""
    rng = np.random.default_rng(seed)
    n = int(seconds * FPS)
    d = np.zeros((n, NUM_EXPRESSIONS), np.float32)
    k = 0
    while k < n:
        talk = int(rng.uniform(2, 4) * FPS)
        t = np.arange(min(talk, n - k))
        d[k:k + len(t), EXPRESSION_INDEX["jawOpen"]] = 0.3 * (1 + np.sin(2 * np.pi * 4 * t / FPS + rng.uniform(0, 6))) / 2
        k += talk + int(rng.uniform(0.5, 1.0) * FPS)
    return d


def closures(track: ExpressionTrack, natural: NaturalMotion, frames) -> np.ndarray:
    return np.array([track.frame(FrameRequest(frame_index=k, mask_window=1, natural=natural)).current.blink[0]
                     for k in frames])


def onsets(closure: np.ndarray) -> np.ndarray:
    shut = closure > 0.99
    return np.nonzero(shut[1:] & ~shut[:-1])[0] + 1


@pytest.fixture(scope="module")
def track() -> ExpressionTrack:
    return ExpressionTrack(np.zeros(NUM_EXPRESSIONS, np.float32), speech_like(120.0))


def test_blinks_have_natural_timing(track):
    c = closures(track, NaturalMotion(blink_rate=15.0), range(track.num_frames))
    starts = onsets(c)
    per_min = len(starts) / (track.num_frames / FPS / 60)
    assert 12 <= per_min <= 22  # 15 a minute plus the occasional double blink
    gaps = np.diff(starts) / FPS
    assert gaps.std() > 0.5 and np.median(gaps) > 2.0  # a few seconds apart, varying
    assert np.any(gaps < 0.6)  # a double blink
    # ~120 ms closing, slower opening; shut in at least one frame.
    p = blink_profile(np.arange(15))
    assert np.argmax(p) * 1000 / FPS in (120, 160)
    assert (p[np.argmax(p):] > 0.05).sum() > (p[:np.argmax(p)] > 0.05).sum()
    # More blinks start in pauses (quiet for 6 frames or more) than the pauses' share of the time.
    quiet = speech_activity(track.driver) < 0.06
    pause = np.zeros(len(quiet), bool)
    k = 0
    while k < len(quiet):  # whole quiet runs of >= 6 frames
        j = k
        while j < len(quiet) and quiet[j]:
            j += 1
        if j - k >= 6:
            pause[k:j] = True
        k = max(j, k + 1)
    assert pause[starts].mean() > 1.5 * pause.mean()


def test_blink_rate_zero_and_head_motion_zero_are_still(track):
    faces = [track.frame(FrameRequest(frame_index=k, natural=STILL)).current for k in range(0, 600, 7)]
    assert all(f.blink == (0.0, 0.0) and not any(f.head) for f in faces)


def test_head_motion_has_a_few_degrees_and_follows_the_seed(track):
    def poses(natural):
        return np.array([track.frame(FrameRequest(frame_index=k, mask_window=1, natural=natural)).current.head
                         for k in range(0, track.num_frames, 2)])

    a, b, c = poses(NaturalMotion(seed=1)), poses(NaturalMotion(seed=1)), poses(NaturalMotion(seed=2))
    assert np.array_equal(a, b) and not np.allclose(a, c)
    yaw, pitch, roll = a[:, :3].std(axis=0)
    assert 1.0 < yaw < 4.0 and 1.0 < roll < 4.0 and 0.5 < pitch < 4.0
    assert np.abs(np.diff(a[:, :3], axis=0)).max() < 1.5  # smooth: < 1.5 degrees in 80 ms
    half = poses(NaturalMotion(seed=1, head_motion=0.5))
    np.testing.assert_allclose(half, 0.5 * a, atol=1e-9)


def test_the_motion_does_not_depend_on_render_order_and_live_matches_the_file(track):
    natural = NaturalMotion(seed=4)
    ks = list(range(300, 420))
    forward = [track.frame(FrameRequest(frame_index=k, natural=natural)).current for k in ks]
    backward = [track.frame(FrameRequest(frame_index=k, natural=natural)).current for k in reversed(ks)][::-1]
    assert [f.key() for f in forward] == [f.key() for f in backward]
    # The microphone: each live request carries its coefficients and the activity before it.
    act = speech_activity(track.driver)
    live = ExpressionTrack(track.beta_init)
    for k, f in zip(ks, forward):
        req = FrameRequest(coefficients=tuple(map(float, track.driver[k])), live_frame=k, mask_window=1,
                           activity_history=tuple(map(float, act[max(0, k - ACTIVITY_HISTORY_FRAMES):k])),
                           natural=natural)
        g = live.frame(req).current
        assert g.blink == pytest.approx(f.blink) and g.head == pytest.approx(f.head)
        assert g.gaze == pytest.approx(f.gaze)
    # And so does the stream audio2exp writes.
    stream = MotionStream(natural)
    blink, head, gaze = stream.push(track.driver[:ks[-1] + 1])
    assert blink[ks] == pytest.approx([f.blink[0] for f in forward])
    assert head[ks] == pytest.approx(np.array([f.head for f in forward]))
    assert gaze[ks] == pytest.approx(np.array([f.gaze[:2] for f in forward]))
    assert np.ptp(gaze[ks], axis=0).min() > 1.0  # the eyes do move


def test_csv_carries_blinks_and_head_angles_and_they_drive_the_track(tmp_path):
    driver = np.zeros((50, NUM_EXPRESSIONS + 3), np.float32)
    driver[20:24, EXPRESSION_INDEX["eyeBlinkLeft"]] = 1.0
    driver[:, NUM_EXPRESSIONS:] = np.linspace(0, 6, 50)[:, None] * np.array([1.0, -0.5, 0.25])
    write_coefficients_csv(tmp_path / "c.csv", driver)
    read = read_coefficients_csv(tmp_path / "c.csv")
    np.testing.assert_allclose(read.driver[:, :driver.shape[1]], driver, atol=1e-4)
    assert not read.driver[:, driver.shape[1]:].any()  # no gaze of its own
    track = ExpressionTrack(np.zeros(NUM_EXPRESSIONS, np.float32), read.driver)
    face = track.frame(FrameRequest(frame_index=21, natural=NaturalMotion())).current
    assert face.blink[0] == 1.0 and face.blink[1] == 0.0  # the recorded blink, no generated one
    assert face.head[:3] == pytest.approx(tuple(driver[21, NUM_EXPRESSIONS:]), abs=1e-4)
    assert track.frame(FrameRequest(frame_index=30, natural=NaturalMotion())).current.blink == (0.0, 0.0)
    assert not any(track.frame(FrameRequest(frame_index=21, natural=STILL)).current.head)


def test_a_live_link_face_csv_drives_the_head(tmp_path):
    """Live Link Face: capitalised names, SMPTE timecodes at 60 fps, head angles in radians."""
    rows = ["Timecode,BlendShapeCount,EyeBlinkLeft,EyeLookInLeft,JawOpen,HeadYaw,HeadPitch,HeadRoll"]
    for i in range(120):
        rows.append(f"00:00:{i // 60:02d}:{i % 60:02d}.000,61,0.0,0.1,0.2,{0.05 * np.sin(i / 20):.5f},0.01,-0.02")
    (tmp_path / "llf.csv").write_text("\n".join(rows) + "\n")
    read = read_coefficients_csv(tmp_path / "llf.csv")
    assert read.head is not None and read.ignored_columns == ()
    assert np.degrees(0.01) == pytest.approx(float(read.head[10, 1]), abs=1e-3)
    assert np.abs(read.head[:, 0]).max() == pytest.approx(np.degrees(0.05), rel=0.05)
    # Its eyeLookInLeft (0.1: the left eye turns toward the nose) drives the gaze.
    track = ExpressionTrack(np.zeros(NUM_EXPRESSIONS, np.float32), read.driver)
    face = track.frame(FrameRequest(frame_index=10, natural=NaturalMotion())).current
    assert face.gaze == pytest.approx((-0.1 * EYE_LOOK_FULL_DEG[0], 0.0, 0.0, 0.0), abs=1e-4)


def test_gaze_csv_round_trip_and_modes(tmp_path):
    gaze = np.stack([np.linspace(-20, 20, 40), np.linspace(10, -10, 40), np.linspace(15, -15, 40),
                     np.zeros(40)], axis=1)
    driver = np.zeros((40, NUM_DRIVER_CHANNELS), np.float32)
    driver[:, NUM_EXPRESSIONS + 3:] = gaze_to_eye_look(gaze)
    write_coefficients_csv(tmp_path / "g.csv", driver)
    read = read_coefficients_csv(tmp_path / "g.csv")
    assert read.eye_look is not None
    np.testing.assert_allclose(eye_look_to_gaze(read.eye_look), gaze, atol=1e-4)
    track = ExpressionTrack(np.zeros(NUM_EXPRESSIONS, np.float32), read.driver)
    assert track.frame(FrameRequest(frame_index=5, natural=NaturalMotion())).current.gaze == pytest.approx(tuple(gaze[5]), abs=1e-4)
    # Gaze off keeps the photo's gaze; "camera" leaves the turn to the renderer.
    assert track.frame(FrameRequest(frame_index=5, natural=NaturalMotion(gaze="off"))).current.gaze == (0.0,) * 4
    cam = track.frame(FrameRequest(frame_index=5, natural=NaturalMotion(gaze="camera"))).current
    assert cam.gaze_at_camera
    with pytest.raises(ValueError):
        NaturalMotion(gaze="sideways")


def test_generated_gaze_fixates_saccades_and_glances_while_speaking():
    """Over a minute: the eyes hold still between quick saccades (most frame-to-frame changes
    are tiny, a few are large), stay near the listener most of the time, glance away (> 8
    degrees) now and then while speaking and not in silence."""
    speaking = np.full(ACTIVITY_HISTORY_FRAMES, 0.4, np.float32)
    quiet = np.zeros(ACTIVITY_HISTORY_FRAMES, np.float32)
    frames = range(25 * 60)
    talk = np.array([gaze_direction(k, speaking, NaturalMotion()) for k in frames])
    silent = np.array([gaze_direction(k, quiet, NaturalMotion()) for k in frames])
    step = np.linalg.norm(np.diff(talk, axis=0), axis=1)
    assert np.mean(step < 0.3) > 0.85 and np.sum(step > 1.0) >= 20  # fixations (with a slow drift) and saccades
    far = np.linalg.norm(talk, axis=1) > 8.0
    assert 0.02 < far.mean() < 0.3
    assert np.linalg.norm(silent, axis=1).max() < 8.0
    assert not any(any(v) for v in (gaze_direction(k, speaking, NaturalMotion(gaze="off")) for k in frames[:50]))
