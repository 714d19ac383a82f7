"""Fixtures for the audio tests. Data in ../shared/data is optional: tests using it skip."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def shared_speech(shared_data) -> Path:
    """../shared/data/speech (via the root conftest's ``shared_data``; skips when absent)."""
    d = shared_data / "speech"
    if not d.is_dir():
        pytest.skip("development speech (../shared/data/speech) not present")
    return d


@pytest.fixture(scope="session")
def sample_speech_path() -> Path:
    """The bundled CMU ARCTIC utterance (assets/sample/speech.wav)."""
    from core.paths import SAMPLE_SPEECH

    path = SAMPLE_SPEECH
    if not path.is_file():
        pytest.skip("assets/sample/speech.wav missing")
    return path


@pytest.fixture(scope="session")
def sample_speech(sample_speech_path) -> np.ndarray:
    from core.audio.loading import load_audio

    return load_audio(sample_speech_path)


@pytest.fixture(scope="session")
def espeak():
    from core.audio import espeak as module

    if not module.available():
        pytest.skip("libespeak-ng not installed (apt-get install libespeak-ng1)")
    return module


@pytest.fixture(scope="session")
def file_coefficients(sample_speech_path) -> np.ndarray:
    """Whole-file coefficients of the bundled speech (computed once)."""
    from core.audio.audio2exp import coefficients_for_file

    return coefficients_for_file(sample_speech_path)
