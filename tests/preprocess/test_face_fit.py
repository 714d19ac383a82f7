"""Face fit on the bundled sample and the refusals for unusable portraits."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from core.errors import PortraitError
from core.preprocess.config import LoadConfig
from core.preprocess.face_fit import detect_landmarks, fit_face, similarity_fit
from core.preprocess.pipeline import prepare
from core.preprocess.portrait import load_portrait


def test_similarity_fit_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(50, 3))
    angle = 0.4
    rot = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    dst = 2.5 * src @ rot.T + np.array([1.0, -2.0, 3.0])
    s, r, t = similarity_fit(src, dst)
    assert s == pytest.approx(2.5)
    np.testing.assert_allclose(r, rot, atol=1e-9)
    np.testing.assert_allclose(t, [1.0, -2.0, 3.0], atol=1e-9)


def test_sample_fit_reprojects_and_sees_the_smile(sample_portrait, face_model):
    p = load_portrait(sample_portrait)
    lm = detect_landmarks(p.rgb)
    fit = fit_face(lm, *p.size, face_model, fov_deg=18.0)
    mean_px, max_px = fit.reprojection_px
    assert mean_px < 4.0 and max_px < 12.0, fit.reprojection_px
    assert fit.mesh_reprojection_px[1] < 0.01  # S_init lies on the landmark rays
    smile = [fit.beta_init[face_model.names.index(n)] for n in ("mouthSmileLeft", "mouthSmileRight")]
    assert min(smile) > 0.4, smile
    # Nearly frontal: small yaw; the head is in front of the camera.
    yaw = np.degrees(np.arctan2(fit.rotation[0, 2], fit.rotation[2, 2]))
    assert abs(yaw) < 10 and fit.translation[2] > 0
    # Round trip between frames.
    np.testing.assert_allclose(fit.to_camera(fit.to_head(fit.mesh)), fit.mesh, atol=1e-9)


def test_turned_head_gives_a_large_yaw(shared_data, face_model):
    p = load_portrait(shared_data / "faces" / "pyfeat_45-m7-di-ph.jpg")
    fit = fit_face(detect_landmarks(p.rgb), *p.size, face_model, fov_deg=18.0)
    yaw = np.degrees(np.arctan2(fit.rotation[0, 2], fit.rotation[2, 2]))
    assert 25 < abs(yaw) < 60


def test_no_face_is_refused_with_advice(tmp_path):
    rng = np.random.default_rng(1)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (256, 256, 3), dtype=np.uint8), (0, 0), 3)
    Image.fromarray(noise).save(tmp_path / "noise.png")
    with pytest.raises(PortraitError, match="No face found"):
        prepare(tmp_path / "noise.png", cache_root=tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*")) if (tmp_path / "cache").exists() else True


def test_too_small_face_is_refused(sample_portrait):
    p = load_portrait(sample_portrait)
    with pytest.raises(PortraitError, match="pixels tall"):
        detect_landmarks(p.rgb, LoadConfig(min_face_px=400))


def test_several_faces_use_the_largest(sample_portrait):
    rgb = np.asarray(Image.open(sample_portrait).convert("RGB"))
    face = rgb[20:230, 130:320]
    small = cv2.resize(face, None, fx=0.6, fy=0.6, interpolation=cv2.INTER_AREA)
    canvas = np.full((260, 420, 3), 200, np.uint8)
    canvas[20:20 + face.shape[0], 10:10 + face.shape[1]] = face
    canvas[60:60 + small.shape[0], 250:250 + small.shape[1]] = small
    lm = detect_landmarks(canvas)
    assert lm.num_faces == 2
    assert any("using the largest" in n for n in lm.notes)
    assert lm.points[:, 0].mean() < 200  # the big face is on the left


def test_shared_faces_all_prepare(shared_data, tmp_path):
    for image in sorted((shared_data / "faces").iterdir()):
        result = prepare(image, cache_root=tmp_path)
        s = result.subject
        assert s.reprojection_px[0] < 8.0, (image.name, s.reprojection_px)
        assert s.relief.alpha.shape == s.relief.appearance.shape[:2]


def test_mediapipe_is_imported_without_matplotlib():
    """``import_mediapipe`` keeps matplotlib out (a fresh interpreter), and a later import of
    matplotlib gets the real package."""
    import subprocess
    import sys

    code = ("import sys; from core.preprocess.face_fit import import_mediapipe; mp = import_mediapipe(); "
            "assert mp.solutions.face_mesh.FaceMesh; assert 'matplotlib' not in sys.modules; "
            "import matplotlib.pyplot; assert hasattr(matplotlib.pyplot, 'figure'); print('ok')")
    from pathlib import Path

    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True)
    assert done.stdout.strip().endswith("ok"), done.stderr[-2000:]
