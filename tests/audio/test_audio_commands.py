"""The audio2exp command: CSV output readable by the driver reader; clean failures."""
from __future__ import annotations

import numpy as np
import pytest

from core.expression.natural import MotionStream, NaturalMotion
from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS, eye_look_to_gaze

from core.audio.coeff_csv import read_coefficients_csv
from core.audio.commands import audio2exp_command, main
from core.audio.loading import AudioLoadError


def test_writes_csv_that_reads_back(tmp_path, sample_speech_path, file_coefficients):
    out = tmp_path / "out" / "coeffs.csv"
    progress: list[float] = []
    audio2exp_command(sample_speech_path, out, progress=progress.append)
    assert progress[-1] == 1.0
    header = out.read_text().splitlines()[0]
    assert header.startswith("time,jawOpen,")
    read = read_coefficients_csv(out)
    blinks = [EXPRESSION_INDEX["eyeBlinkLeft"], EXPRESSION_INDEX["eyeBlinkRight"]]
    speech = np.delete(np.arange(NUM_EXPRESSIONS), blinks)
    np.testing.assert_allclose(read.coefficients[:, speech], file_coefficients[:, speech], atol=1e-5)
    # The generated blinks, head rotation and gaze (default seed) travel in the CSV.
    blink, head, gaze = MotionStream(NaturalMotion()).push(file_coefficients)
    np.testing.assert_allclose(read.coefficients[:, blinks], np.stack([blink, blink], axis=1), atol=1e-5)
    np.testing.assert_allclose(read.head, head[:, :3], atol=1e-3)
    np.testing.assert_allclose(eye_look_to_gaze(read.eye_look), np.concatenate([gaze, gaze], axis=1), atol=1e-3)
    assert not list(out.parent.glob("*.part"))


def test_bad_audio_raises_and_leaves_no_file(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....WAVEjunk" * 10)
    out = tmp_path / "coeffs.csv"
    with pytest.raises(AudioLoadError):
        audio2exp_command(bad, out)
    assert not out.exists() and not list(tmp_path.glob("*.part"))


def test_module_entry_point(tmp_path, sample_speech_path, capsys):
    out = tmp_path / "c.csv"
    assert main(["--audio", str(sample_speech_path), "--out", str(out), "--quiet"]) == 0
    assert out.is_file()
    assert main(["--audio", str(tmp_path / "missing.wav"), "--out", str(out)]) == 2
    assert "not found" in capsys.readouterr().err
