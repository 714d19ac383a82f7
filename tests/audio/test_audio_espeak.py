"""Lip sync on espeak-ng speech, whose phone timings are known exactly (skips without espeak)."""
from __future__ import annotations

import numpy as np
import pytest

from core.audio.audio2exp import FILE_CONFIG, Audio2Exp
from core.audio.evaluation import (BILABIALS, OPEN_VOWELS, base_symbol, frames_inside, jaw_ratio,
                                   reference_coefficients, xcorr_lag_s)
from core.face.arkit import EXPRESSION_INDEX

JAW = EXPRESSION_INDEX["jawOpen"]
PRESS = EXPRESSION_INDEX["mouthPressLeft"]
SENTENCES = (
    "Bob and Pam made a map of the farm.",
    "Please bring me a bottle of milk and some apples.",
    "My father bought a bigger boat in the summer.",
    "A big black bug bit a big black bear.",
    "Mom baked apple pies for the party on Monday.",
    "How about a cup of tea with a lemon?",
)


@pytest.fixture(scope="module")
def utterances(espeak):
    out = []
    for text in SENTENCES:
        u = espeak.synthesize(text)
        a2e = Audio2Exp(config=FILE_CONFIG)
        frames = a2e.push(u.samples) + a2e.finish()
        out.append((u, np.stack([f.coefficients for f in frames])))
    return out


def test_bilabials_close_the_lips(utterances):
    """Around each p/b/m the lips seal (mouthPress up) or the jaw is nearly shut."""
    closed, total = 0, 0
    for u, c in utterances:
        for p in u.phones:
            if base_symbol(p.symbol) not in BILABIALS:
                continue
            ks = frames_inside(p, len(c))
            if not ks.size:  # past the end of the clip
                continue
            around = np.arange(max(ks[0] - 1, 0), min(ks[-1] + 2, len(c)))
            total += 1
            closed += bool(c[around, PRESS].max() >= 0.3 or c[around, JAW].min() <= 0.1)
    assert total >= 30
    assert closed / total >= 0.7, f"{closed}/{total} bilabials closed"


def test_open_vowels_open_the_jaw_clearly_more(utterances):
    vowels, bilabials = [], []
    for u, c in utterances:
        for p in u.phones:
            sym = base_symbol(p.symbol)
            if sym in OPEN_VOWELS:
                vowels.append(c[frames_inside(p, len(c)), JAW])
            elif sym in BILABIALS:
                bilabials.append(c[frames_inside(p, len(c)), JAW])
    v, b = np.concatenate(vowels).mean(), np.concatenate(bilabials).mean()
    assert v >= 2.0 * b, (v, b)
    assert v >= 0.25


def test_timing_matches_the_true_phone_boundaries(utterances):
    """Our jawOpen vs the curve the exact espeak timings give: mean lag within 40 ms."""
    lags = [xcorr_lag_s(c[:, JAW], reference_coefficients(u.phones, len(c))[:, JAW])
            for u, c in utterances]
    assert abs(np.mean(lags)) <= 0.04, lags
    assert max(abs(x) for x in lags) <= 0.08, lags


def test_reference_itself_separates_vowels_and_bilabials(utterances):
    """Sanity check of the metric: perfect phones give a large ratio."""
    u, c = utterances[0]
    assert jaw_ratio(reference_coefficients(u.phones, len(c)), u.phones)["ratio"] > 2.5
