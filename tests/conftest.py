"""Shared fixtures. Tests run from a clone of the project alone; those that use the development
data in ../shared/data skip when it is absent."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def shared_data_dir() -> Path | None:
    env = os.environ.get("NFS_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    d = shared_data_dir()
    if d is None:
        pytest.skip("development data (../shared/data) not present")
    return d


@pytest.fixture(scope="session")
def sample_portrait() -> Path:
    from core.paths import SAMPLE_PORTRAIT

    return SAMPLE_PORTRAIT


@pytest.fixture(scope="session")
def sample_subject(tmp_path_factory, sample_portrait):
    """The bundled sample, prepared once for the whole test session."""
    from core.preprocess.pipeline import prepare

    return prepare(sample_portrait, cache_root=tmp_path_factory.mktemp("cache")).subject


@pytest.fixture(scope="session")
def face_model():
    from core.face.face_model import load_face_model

    return load_face_model()
