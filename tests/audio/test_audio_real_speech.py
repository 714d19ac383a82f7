"""Targets on real speech with hand phone alignments (CMU ARCTIC, praatio); skips without data."""
from __future__ import annotations

import numpy as np
import pytest

from core.audio.audio2exp import coefficients_for_file
from core.audio.evaluation import (BILABIALS, OPEN_VOWELS, base_symbol, frames_inside,
                                   read_phone_alignment, reference_coefficients, xcorr_lag_s)
from core.face.arkit import EXPRESSION_INDEX

JAW = EXPRESSION_INDEX["jawOpen"]
ALIGNED = (("arctic_a0009.wav", "arctic_a0009_phones_sec.txt"),
           ("bobby.wav", "bobby_phones.TextGrid"),
           ("mary.wav", "mary.TextGrid"))


@pytest.fixture(scope="module")
def aligned(shared_speech):
    out = []
    for wav, alignment in ALIGNED:
        if not (shared_speech / wav).is_file():
            pytest.skip(f"{wav} missing")
        phones = read_phone_alignment(shared_speech / alignment)
        out.append((phones, coefficients_for_file(shared_speech / wav)))
    return out


def test_alignments_parse(aligned):
    phones = [p for ph, _ in aligned for p in ph]
    assert sum(base_symbol(p.symbol) in OPEN_VOWELS for p in phones) >= 5
    assert sum(base_symbol(p.symbol) in BILABIALS for p in phones) >= 6
    assert all(p.end_s > p.start_s for p in phones)


def test_jaw_open_vowels_at_least_3x_bilabials(aligned):
    vowels, bilabials = [], []
    for phones, c in aligned:
        jaw = c[:, JAW]
        for p in phones:
            sym = base_symbol(p.symbol)
            if sym in OPEN_VOWELS:
                vowels.append(jaw[frames_inside(p, len(c))])
            elif sym in BILABIALS:
                bilabials.append(jaw[frames_inside(p, len(c))])
    ratio = np.concatenate(vowels).mean() / np.concatenate(bilabials).mean()
    assert ratio >= 3.0, ratio


def test_timing_offset_within_40ms(aligned):
    lags = [xcorr_lag_s(c[:, JAW], reference_coefficients(phones, len(c))[:, JAW])
            for phones, c in aligned]
    assert all(abs(lag) <= 0.04 for lag in lags), lags
