"""Fixed-delay playout of live expression frames (microphone mode)."""
from __future__ import annotations

import numpy as np
import pytest

from core.audio.playout import SAMPLES_PER_FRAME, ExpressionPlayout, PlayoutConfig
from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS

JAW = EXPRESSION_INDEX["jawOpen"]
CHUNK = SAMPLES_PER_FRAME // 2        # 20 ms, as the device callback delivers


def feed(playout: ExpressionPlayout, audio: np.ndarray, t0: float = 100.0) -> list[float]:
    """Feed audio in 20 ms chunks arriving in real time from t0; return the chunk arrival times."""
    times = []
    for i in range(0, audio.size, CHUNK):
        t = t0 + (i + CHUNK) / 16000
        playout.add_audio(audio[i:i + CHUNK], t)
        times.append(t)
    return times


def tone(seconds: float, amplitude: float) -> np.ndarray:
    n = int(seconds * 16000)
    return (amplitude * np.sin(2 * np.pi * 220 * np.arange(n) / 16000)).astype(np.float32)


def test_frame_is_shown_exactly_delay_after_its_sound():
    cfg = PlayoutConfig(delay_s=0.2)
    p = ExpressionPlayout(cfg)
    times = feed(p, tone(1.0, 0.3))
    # Frame 10 starts at sample 6400, the first sample of chunk 20, which arrived at times[20]
    # as its last sample was captured: the frame's sound is one chunk (20 ms) older.
    sound = times[20] - 0.02
    assert p.due_index(sound + 0.2) == 10
    assert p.due_index(sound + 0.2 - 1e-4) == 9
    assert p.due_index(times[0] + 0.1) is None          # nothing is due before the delay
    shown = p.frame_at(sound + 0.2)
    assert shown.index == 10 and shown.sound_at == pytest.approx(sound)


def test_settled_frames_are_shown_unchanged():
    p = ExpressionPlayout(PlayoutConfig(delay_s=0.2))
    times = feed(p, tone(1.0, 0.3))
    c = np.linspace(0, 1, NUM_EXPRESSIONS).astype(np.float32)
    for k in range(11):
        p.add_settled(k, c * (k / 10))
    shown = p.frame_at(times[20] + 0.2)
    assert shown.settled and np.array_equal(shown.coefficients, c)
    assert p.settled_share == 1.0


def test_late_recogniser_loud_sound_opens_the_mouth():
    """Settled frames stop at a pause; loud speech follows that the recogniser has not named yet."""
    p = ExpressionPlayout(PlayoutConfig(delay_s=0.2))
    audio = np.concatenate([tone(0.4, 0.3), tone(0.4, 0.0005), tone(0.6, 0.3)])
    times = feed(p, audio)
    for k in range(20):                    # 0.0-0.8 s settled: open in speech, shut in the pause
        c = np.zeros(NUM_EXPRESSIONS, np.float32)
        c[JAW] = 0.4 if k < 10 else 0.0
        p.add_settled(k, c)
    late = p.frame_at(times[2 * 30] + 0.2)  # frame 30 (1.2 s): 10 frames after the last settled
    assert not late.settled and late.index == 30
    assert late.coefficients[JAW] > 0.25    # opened from the loudness, in the speaker's shape
    assert p.settled_share == 0.0


def test_late_recogniser_in_a_pause_relaxes_the_mouth():
    p = ExpressionPlayout(PlayoutConfig(delay_s=0.2))
    audio = np.concatenate([tone(0.4, 0.3), tone(0.6, 0.0)])
    times = feed(p, audio)
    for k in range(10):
        c = np.zeros(NUM_EXPRESSIONS, np.float32)
        c[JAW] = 0.5
        p.add_settled(k, c)
    first = p.frame_at(times[2 * 11] + 0.2).coefficients[JAW]
    later = p.frame_at(times[2 * 20] + 0.2).coefficients[JAW]
    assert 0 < later < first < 0.5 and later < 0.15


def test_estimate_beats_holding_the_last_frame_on_real_speech():
    """On the bundled speech, frames estimated 3-6 frames after the last settled one are closer
    to what the recogniser later settles than simply holding the last settled frame."""
    from core.audio.audio2exp import LIVE_CONFIG, Audio2Exp
    from core.audio.loading import load_audio
    from core.paths import SAMPLE_SPEECH

    audio = load_audio(SAMPLE_SPEECH)
    a2e = Audio2Exp(config=LIVE_CONFIG)
    frames = a2e.push(audio) + a2e.finish()
    truth = np.stack([f.coefficients for f in frames])
    for lag in (3, 6):
        p = ExpressionPlayout()
        feed(p, audio)
        err_est, err_hold = [], []
        for k in range(len(truth)):
            if k >= lag:
                err_est.append(np.abs(p.estimate(k) - truth[k]).mean())
                err_hold.append(np.abs(truth[k - lag] - truth[k]).mean())
            if k - lag + 1 >= 0:                 # the recogniser runs `lag` frames behind
                p.add_settled(k - lag + 1, truth[k - lag + 1])
        assert np.mean(err_est) < 0.9 * np.mean(err_hold), (lag, np.mean(err_est), np.mean(err_hold))


def test_room_noise_alone_never_opens_the_mouth():
    rng = np.random.default_rng(0)
    p = ExpressionPlayout(PlayoutConfig(delay_s=0.2))
    noise = (rng.standard_normal(32000) * 10 ** (-60 / 20)).astype(np.float32)  # -60 dBFS, 2 s
    times = feed(p, noise)
    shown = p.frame_at(times[-1])
    assert not shown.settled and shown.coefficients.max() < 0.01


def test_mouth_rests_when_the_audio_stops_arriving():
    p = ExpressionPlayout(PlayoutConfig(delay_s=0.2))
    times = feed(p, tone(0.6, 0.3))
    c = np.zeros(NUM_EXPRESSIONS, np.float32)
    c[JAW] = 0.5
    for k in range(15):
        p.add_settled(k, c)
    assert p.frame_at(times[-1] + 0.2).coefficients[JAW] > 0.1     # still speaking
    stalled = p.frame_at(times[-1] + 1.0)                           # the device went quiet
    assert stalled.coefficients.max() == 0.0
