"""Identity (dlib stand-in for CSIM): a different face scores lower; missing dlib degrades."""
from __future__ import annotations

import sys

import cv2
import numpy as np
import pytest

from core.evaluation import identity
from core.evaluation.config import IdentityConfig


def _model():
    model = identity.load_identity_model()
    if model is None:
        pytest.skip("dlib / face_recognition_models not installed (pip install -r requirements-eval.txt)")
    return model


@pytest.fixture(scope="module")
def astronaut(sample_portrait) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(sample_portrait).convert("RGB"))


def _other_faces() -> list[np.ndarray]:
    """Other people: LFW crops shipped with scikit-image (25 x 25 grey), upscaled."""
    skdata = pytest.importorskip("skimage.data")
    faces = skdata.lfw_subset()[:4]            # the first 100 entries are faces
    return [np.dstack([cv2.resize((f * 255).astype(np.uint8), (200, 200), interpolation=cv2.INTER_CUBIC)] * 3)
            for f in faces]


def test_different_face_scores_lower(astronaut):
    model = _model()
    ref = model.embed(astronaut)
    assert ref is not None and ref.vector.shape == (identity.EMBEDDING_DIM,)
    # "Same person" video: the portrait resized, shifted and JPEG-compressed.
    same = []
    for k, size in enumerate((256, 320, 384)):
        img = cv2.resize(astronaut, (size, size), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 60 + 10 * k])
        same.append(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED))
    s_same = identity.score_frames(model, ref.vector, same)
    s_other = identity.score_frames(model, ref.vector, _other_faces())
    assert s_same.frames_embedded == 3 and s_other.frames_embedded >= 2
    assert s_same.csim > s_other.csim + 0.05, (s_same, s_other)
    assert s_same.distance < 0.6 < s_other.distance, (s_same, s_other)
    assert s_same.same_person_rate == 1.0 and s_other.same_person_rate == 0.0


def test_no_face_gives_none():
    model = _model()
    assert model.embed(np.full((120, 120, 3), 128, np.uint8)) is None
    score = identity.score_frames(model, np.ones(128), [np.zeros((64, 64, 3), np.uint8)])
    assert score.csim is None and score.frames_tried == 1 and score.frames_embedded == 0


def test_missing_dlib_degrades_gracefully(monkeypatch):
    monkeypatch.setattr(identity, "_MODELS", {})
    monkeypatch.setattr(identity, "_LOAD_ERRORS", {})
    monkeypatch.setitem(sys.modules, "dlib", None)       # import dlib -> ImportError
    assert identity.load_identity_model(IdentityConfig()) is None
    reason = identity.unavailable_reason(IdentityConfig())
    assert reason.startswith(identity.NOT_AVAILABLE)
    assert "pip install -r requirements-eval.txt" in reason


def test_models_dir_without_importing_package():
    already = "face_recognition_models" in sys.modules
    folder = identity.models_dir()
    if folder is None:
        pytest.skip("face_recognition_models not installed")
    assert (folder / identity.SHAPE_MODEL).is_file()
    if not already:
        assert "face_recognition_models" not in sys.modules


def test_cosine_and_spacing():
    a = np.array([1.0, 0.0])
    assert identity.cosine_similarity(a, a) == pytest.approx(1.0)
    assert identity.cosine_similarity(a, np.array([0.0, 2.0])) == pytest.approx(0.0)
    assert identity.evenly_spaced(10, 3) == [0, 4, 9] or identity.evenly_spaced(10, 3) == [0, 5, 9]
    assert identity.evenly_spaced(2, 5) == [0, 1] and identity.evenly_spaced(0, 5) == []
