"""Lip-sync stand-in: a mouth driven by shifted audio gives the matching lag; phone apertures."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from core.audio.constants import SAMPLES_PER_FRAME
from core.evaluation.lipsync import (phone_apertures, read_phones, speech_envelope, sync_offset)
from core.errors import UserInputError

N_FRAMES = 60


def syllables(n: int, seed: int = 0) -> np.ndarray:
    """A speech-like envelope at 25 fps: bumps about every 5 frames (200 ms), random heights."""
    rng = np.random.default_rng(seed)
    t = np.arange(n + 10)
    env = np.zeros(t.size)
    for c in range(2, n + 8, 5):
        env += rng.uniform(0.5, 1.0) * np.exp(-0.5 * ((t - (c + rng.integers(-1, 2))) / 1.0) ** 2)
    return env[:n]


def noise_speech(env: np.ndarray, seed: int = 1) -> np.ndarray:
    """16 kHz noise whose amplitude follows ``env`` (one value per video frame)."""
    rng = np.random.default_rng(seed)
    n = env.size * SAMPLES_PER_FRAME
    amp = np.interp(np.arange(n) / SAMPLES_PER_FRAME - 0.5, np.arange(env.size), env)
    return (rng.standard_normal(n) * amp).astype(np.float32)


def test_envelope_follows_the_audio():
    env = syllables(N_FRAMES)
    db = speech_envelope(noise_speech(env), N_FRAMES)
    assert db.shape == (N_FRAMES,) and db.max() == pytest.approx(0.0) and db.min() >= -40.0
    assert np.corrcoef(db, 20 * np.log10(env + 1e-3))[0, 1] > 0.8


@pytest.mark.parametrize("shift", [3, 0, -2])
def test_shifted_mouth_gives_matching_lag(shift):
    env = syllables(N_FRAMES)
    db = speech_envelope(noise_speech(env), N_FRAMES)
    rng = np.random.default_rng(2)
    mouth = np.roll(env, shift) + 0.05 * rng.standard_normal(N_FRAMES)
    mouth[:max(shift, 0)] = np.nan                    # frames without a face are skipped
    if shift < 0:
        mouth[shift:] = np.nan
    res = sync_offset(mouth, db)
    assert res.lag_frames == shift and res.lag_ms == pytest.approx(40.0 * shift)
    assert res.corr_at_lag > 0.6 and res.confidence > 0.3


def test_unrelated_mouth_has_low_confidence():
    db = speech_envelope(noise_speech(syllables(N_FRAMES, seed=3)), N_FRAMES)
    other = syllables(N_FRAMES, seed=11)[::-1]
    related = sync_offset(np.roll(syllables(N_FRAMES, seed=3), 1), db)
    assert sync_offset(other, db).corr_at_lag < related.corr_at_lag


def test_too_few_frames():
    res = sync_offset(np.full(5, np.nan), np.zeros(5))
    assert res.lag_frames is None and res.valid_frames == 0


def test_phone_apertures_closed_for_bilabials():
    p = lambda s, a, b: SimpleNamespace(symbol=s, start_s=a, end_s=b)   # noqa: E731
    phones = [p("m", 0.0, 0.2), p("ɑ", 0.2, 0.5), p("b", 0.5, 0.6), p("æ", 0.6, 0.9), p("p", 3.0, 3.2)]
    ap = np.full(25, 0.1)
    ap[0:5] = 0.01
    ap[12:15] = 0.02
    ap[3] = np.nan
    res = phone_apertures(ap, phones)
    assert res.n_bilabials == 2 and res.n_open_vowels == 2          # /p/ at 3 s is past the clip
    assert res.bilabial == pytest.approx(np.mean([0.01] * 4 + [0.02] * 2), abs=1e-9)   # frames 0-4, 13-14
    assert res.closure_ratio < 0.3


def test_frames_of_a_phone_interval():
    """Frame k shows the instant k/25: the frames inside the interval, else the nearest one to its
    centre (rounded, not floored); none for an interval outside the clip (not the last frame)."""
    from core.audio.evaluation import PhoneInterval, frames_inside

    assert frames_inside(PhoneInterval("a", 0.2, 0.5), 25).tolist() == list(range(5, 13))
    assert frames_inside(PhoneInterval("a", 0.05, 0.078), 25).tolist() == [2]  # centre at frame 1.6
    assert frames_inside(PhoneInterval("a", 0.95, 1.2), 25).tolist() == [24]
    assert frames_inside(PhoneInterval("a", 1.0, 1.2), 25).size == 0  # past the clip
    assert frames_inside(PhoneInterval("a", 0.985, 0.995), 25).size == 0  # nearest frame: 25
    assert frames_inside(PhoneInterval("a", -0.2, -0.1), 25).size == 0


def test_one_open_vowel_set_for_audio_and_renders():
    """The audio measure (jaw_ratio) and the render measure (phone_apertures) count the same
    phones: the open and open-mid vowels, ɛ included, and nothing past the clip."""
    from core.audio.evaluation import OPEN_VOWELS, jaw_ratio
    from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS

    assert {"a", "ɑ", "æ", "ʌ", "ɔ", "ɛ", "œ", "ɜ", "aɪ", "aʊ", "ɔɪ"} <= OPEN_VOWELS
    assert not {"i", "u", "e", "o", "ə", "ɪ", "ʊ", "eɪ", "oʊ"} & OPEN_VOWELS
    p = lambda s, a, b: SimpleNamespace(symbol=s, start_s=a, end_s=b)   # noqa: E731
    phones = [p("m", 0.0, 0.2), p("ɛ", 0.2, 0.5), p("b", 0.5, 0.6), p("ɑː", 0.6, 0.9), p("ɔ", 1.1, 1.3)]
    jaw = np.full(25, 0.6)
    jaw[0:5] = 0.05
    coeffs = np.zeros((25, NUM_EXPRESSIONS), np.float32)
    coeffs[:, EXPRESSION_INDEX["jawOpen"]] = jaw
    audio = jaw_ratio(coeffs, phones)
    render = phone_apertures(jaw, phones)
    assert audio["n_open_vowels"] == render.n_open_vowels == 2  # /ɔ/ at 1.1 s is past the clip
    assert audio["n_bilabials"] == render.n_bilabials == 2
    assert audio["open_vowel_jaw"] == pytest.approx(render.open_vowel)
    assert audio["bilabial_jaw"] == pytest.approx(render.bilabial)


def test_rendered_mouth_follows_shifted_audio(sample_subject):
    """Drive jawOpen with the audio's envelope delayed by 3 frames: FaceMesh on the renders must
    find the mouth 3 frames (120 ms) after the sound."""
    from core.engine import Engine
    from core.evaluation.lipsync import mouth_aperture
    from core.evaluation.rendering import face_zoom, render_clip
    from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS
    from core.render.camera import OrbitPose

    n, shift = 40, 3
    env = syllables(n)
    driver = np.zeros((n, NUM_EXPRESSIONS), np.float32)
    driver[shift:, EXPRESSION_INDEX["jawOpen"]] = env[:n - shift] / env.max()
    engine = Engine(sample_subject, "cpu")
    engine.set_driver(driver)
    frames = list(render_clip(engine, OrbitPose(0.0, 0.0, face_zoom(sample_subject, 0.45)), n, 128))
    res = sync_offset(mouth_aperture(frames), speech_envelope(noise_speech(env), n))
    assert res.valid_frames == n
    assert res.lag_frames == shift and res.corr_at_lag > 0.4, res


SHORT_TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"

0
1.0
<exists>
1
"IntervalTier"
"phone"
0
1.0
3
0
0.2
"m"
0.2
0.6
"ɑ"
0.6
1.0
""
'''

LONG_TEXTGRID = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0
xmax = 1.0
tiers? <exists>
size = 1
item []:
    item [1]:
        class = "IntervalTier"
        name = "phones"
        xmin = 0
        xmax = 1.0
        intervals: size = 2
        intervals [1]:
            xmin = 0
            xmax = 0.3
            text = "p"
        intervals [2]:
            xmin = 0.3
            xmax = 1.0
            text = "ae"
'''


def test_read_phone_formats(tmp_path):
    short = tmp_path / "a.TextGrid"
    short.write_text(SHORT_TEXTGRID, encoding="utf-8")
    long = tmp_path / "b.TextGrid"
    long.write_text(LONG_TEXTGRID, encoding="utf-8")
    text = tmp_path / "c_phones.txt"
    text.write_text("0.000 0.130 sil\n0.130 0.205 b\n0.205 0.300 aa\n", encoding="utf-8")
    assert [p.symbol for p in read_phones(short)] == ["m", "ɑ", None]
    assert [p.symbol for p in read_phones(long)][0] == "p"
    assert [p.symbol for p in read_phones(text)] == [None, "b", "ɑ"]
    empty = tmp_path / "d.txt"
    empty.write_text("nothing here\n", encoding="utf-8")
    with pytest.raises(UserInputError):
        read_phones(empty)
