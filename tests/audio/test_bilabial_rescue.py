"""The recogniser's bilabial rescue: posteriors read as hama reads them, missed /p b m/ restored."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from core.audio.audio2exp import FILE_CONFIG
from core.audio.evaluation import BILABIALS, base_symbol
from core.audio.phones import (SAMPLE_RATE, frame_posteriors, rescue_bilabials, shared_asr_model,
                               WindowedPhoneRecognizer)

# Tokens of a toy vocabulary: blank, a vowel, /t/, /p/, /m/.
BLANK, VOWEL, T, P, M = range(5)
IS_BILABIAL = np.array([False, False, False, True, True])
IS_VOWEL = np.array([False, True, False, False, False])


def _posteriors(rows: list[dict[int, float]]) -> np.ndarray:
    out = np.zeros((len(rows), 5), np.float32)
    for f, row in enumerate(rows):
        for token, p in row.items():
            out[f, token] = p
        out[f, BLANK] += 1.0 - out[f].sum()
    return out


def test_posterior_argmax_is_hamas_own_decoding(sample_speech):
    """Read through the session, the posteriors' argmax is exactly hama's frame path."""
    model = shared_asr_model()
    window = sample_speech[: 4 * SAMPLE_RATE]
    ours = frame_posteriors(model, window).argmax(axis=1)
    assert ours.tolist() == list(model.transcribe_waveform(window, SAMPLE_RATE).frame_token_ids)


def test_a_consonant_heard_for_a_bilabial_becomes_one():
    post = _posteriors([{}, {VOWEL: 0.9}, {T: 0.5, P: 0.3, M: 0.1}, {}, {VOWEL: 0.9}])
    out = rescue_bilabials(post, IS_BILABIAL, IS_VOWEL, threshold=0.15, span_frames=3)
    assert out.tolist() == [BLANK, VOWEL, P, BLANK, VOWEL]


def test_a_bilabial_under_the_blank_is_restored():
    post = _posteriors([{VOWEL: 0.9}, {M: 0.1}, {M: 0.3}, {M: 0.1}, {VOWEL: 0.9}])
    out = rescue_bilabials(post, IS_BILABIAL, IS_VOWEL, threshold=0.15, span_frames=3)
    assert out.tolist() == [VOWEL, BLANK, M, BLANK, VOWEL]


@pytest.mark.parametrize("rows,why", [
    ([{}, {T: 0.9, P: 0.1}, {}], "below the threshold"),
    ([{VOWEL: 0.6, P: 0.3}, {}, {}], "a vowel is never overwritten"),
    ([{P: 0.8}, {}, {T: 0.6, P: 0.3}, {}], "a bilabial is already heard close by"),
])
def test_no_rescue(rows, why):
    post = _posteriors(rows)
    out = rescue_bilabials(post, IS_BILABIAL, IS_VOWEL, threshold=0.15, span_frames=3)
    assert out.tolist() == post.argmax(axis=1).tolist(), why


def _bilabials_heard(utterance, config) -> tuple[int, int]:
    """(true /p b m/ with a recognised bilabial within 60 ms of them, all true /p b m/)."""
    rec = WindowedPhoneRecognizer(config)
    events = [e for c in rec.push(utterance.samples) for e in c.events] + list(rec.finish().events)
    heard = [e.time_s for e in events if e.symbol in BILABIALS]
    truth = [p for p in utterance.phones if base_symbol(p.symbol) in BILABIALS]
    hits = sum(any(p.start_s - 0.06 <= t <= p.end_s + 0.06 for t in heard) for p in truth)
    return hits, len(truth)


def test_the_rescue_hears_more_bilabials_on_exactly_timed_speech(espeak):
    text = ("Bob bought a big map from my mom. Papa put plum jam on a pumpkin bun. "
            "A bomb of bubbles popped by the mop.")
    utterance = espeak.synthesize(text)
    plain = dataclasses.replace(FILE_CONFIG.recognizer, bilabial_rescue=None)
    hits_plain, total = _bilabials_heard(utterance, plain)
    hits, _ = _bilabials_heard(utterance, FILE_CONFIG.recognizer)
    assert total >= 20
    assert hits > hits_plain, (hits, hits_plain, total)
    assert hits >= 0.85 * total, (hits, hits_plain, total)
