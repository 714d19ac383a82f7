"""The person matte: MODNet where its model is installed, SelfieSegmentation otherwise."""
from __future__ import annotations

import numpy as np
import pytest

from core.preprocess.matting import MattingConfig, matting_method, person_matte


def test_small_photos_and_the_selfie_setting_use_selfie_segmentation():
    assert matting_method(MattingConfig(method="selfie")) == "selfie"
    assert matting_method(MattingConfig(), (150, 225)) == "selfie"


def test_a_missing_model_file_falls_back(monkeypatch, tmp_path):
    from core.preprocess import matting

    monkeypatch.setattr(matting, "MATTING_MODEL", tmp_path / "absent.onnx")
    assert matting_method(MattingConfig(), (512, 512)) == "selfie"


def test_modnet_matte_finds_the_person_and_keeps_her_hair(sample_portrait):
    """On the sample, MODNet's matte covers the person as SelfieSegmentation's does (the same
    figure, intersection over union above 0.85) and is a soft matte in 0..1 of the photo's size."""
    if matting_method(MattingConfig(), (512, 512)) != "modnet":
        pytest.skip("MODNet's model is not installed (make setup)")
    from core.preprocess.face_fit import segment_person
    from core.preprocess.portrait import load_portrait

    rgb = load_portrait(sample_portrait).rgb
    modnet = person_matte(rgb)
    selfie = segment_person(rgb)
    assert modnet.shape == rgb.shape[:2] and modnet.dtype == np.float32
    assert modnet.min() >= 0.0 and modnet.max() <= 1.0
    a, b = modnet > 0.5, selfie > 0.5
    assert (a & b).sum() / (a | b).sum() > 0.85
    assert np.abs(modnet - selfie).mean() > 0.005  # not the same matte: the network ran
