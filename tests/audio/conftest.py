"""Fixtures for the audio tests. Data in ../shared/data is optional: tests using it skip."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]


def _shared_speech_dir() -> Path | None:
    candidates = []
    if os.environ.get("NFS_SHARED_DATA"):
        candidates.append(Path(os.environ["NFS_SHARED_DATA"]))
    candidates.append(Path(__file__).resolve().parents[3] / "shared" / "data")
    for c in candidates:
        if (c / "speech").is_dir():
            return c / "speech"
    return None


@pytest.fixture(scope="session")
def shared_speech() -> Path:
    d = _shared_speech_dir()
    if d is None:
        pytest.skip("development data (../shared/data/speech or $NFS_SHARED_DATA) not present")
    return d


@pytest.fixture(scope="session")
def sample_speech_path() -> Path:
    """The bundled CMU ARCTIC utterance (assets/sample/speech.wav)."""
    path = REPO / "assets" / "sample" / "speech.wav"
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
