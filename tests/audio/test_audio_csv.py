"""Coefficient CSV: writer, tolerant reader, resampling, and clear errors."""
from __future__ import annotations

import numpy as np
import pytest

from core.audio.coeff_csv import (CoefficientCSVError, CoefficientCSVWarning,
                                  read_coefficients_csv, write_coefficients_csv)
from core.face.arkit import EXPRESSION_INDEX, EXPRESSION_NAMES, EYE_LOOK_NAMES, HEAD_NAMES, NUM_EXPRESSIONS

JAW = EXPRESSION_INDEX["jawOpen"]


def test_round_trip(tmp_path):
    coeffs = np.random.default_rng(0).random((40, NUM_EXPRESSIONS)).astype(np.float32)
    path = tmp_path / "c.csv"
    write_coefficients_csv(path, coeffs)
    lines = path.read_text().splitlines()
    assert lines[0] == "time," + ",".join(EXPRESSION_NAMES + HEAD_NAMES + EYE_LOOK_NAMES)
    assert lines[2].startswith("0.04,")
    track = read_coefficients_csv(path)
    np.testing.assert_allclose(track.coefficients, coeffs, atol=1e-6)
    assert (track.fps, track.ignored_columns, track.resampled) == (25.0, (), False)
    assert track.duration_s == pytest.approx(40 / 25)


def test_subset_any_order_and_case(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("MouthPressLeft,time,JAWOPEN\n0.5,0.00,0.1\n0.25,0.04,0.2\n")
    out = read_coefficients_csv(path).coefficients
    assert out.shape == (2, NUM_EXPRESSIONS)
    np.testing.assert_allclose(out[:, JAW], [0.1, 0.2], atol=1e-6)
    np.testing.assert_allclose(out[:, EXPRESSION_INDEX["mouthPressLeft"]], [0.5, 0.25])
    assert np.count_nonzero(out) == 4                       # missing names are 0


def test_live_link_face_csv_is_resampled_and_unknowns_warned(tmp_path):
    rows = ["Timecode,BlendShapeCount,EyeLookInLeft,JawOpen,MouthSmileLeft,HeadYaw,LeftEyeYaw"]
    for f in range(61):                                    # one second at 60 fps
        rows.append(f"14:02:03:{f // 1:02d}.000,61,0.3,{f / 60:.6f},0.2,0.1,0.05"
                    if f < 60 else "14:02:04:00.000,61,0.3,1.0,0.2,0.1,0.05")
    path = tmp_path / "llf.csv"
    path.write_text("\n".join(rows) + "\n")
    with pytest.warns(CoefficientCSVWarning, match="LeftEyeYaw"):
        track = read_coefficients_csv(path)
    assert track.ignored_columns == ("LeftEyeYaw",) and track.resampled  # gaze and head columns are known
    out = track.coefficients
    assert out.shape == (26, NUM_EXPRESSIONS)               # 0..1 s at 25 fps
    np.testing.assert_allclose(out[:, JAW], np.arange(26) / 25, atol=1e-5)
    np.testing.assert_allclose(out[:, EXPRESSION_INDEX["mouthSmileLeft"]], 0.2, atol=1e-6)
    np.testing.assert_allclose(track.head[:, 0], np.degrees(0.1), atol=1e-4)  # radians in, degrees out


def test_resamples_from_30_fps(tmp_path):
    t = np.arange(31) / 30
    path = tmp_path / "c30.csv"
    path.write_text("time,jawOpen\n" + "".join(f"{a:.6f},{a:.6f}\n" for a in t))
    out = read_coefficients_csv(path).coefficients
    np.testing.assert_allclose(out[:, JAW], np.arange(26) / 25, atol=1e-5)


def test_no_time_column_means_25_fps_rows(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("jawOpen\n0.1\n0.2\n0.3\n")
    out = read_coefficients_csv(path).coefficients
    np.testing.assert_allclose(out[:, JAW], [0.1, 0.2, 0.3], atol=1e-6)


def test_out_of_range_values_are_clipped_with_warning(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("time,jawOpen\n0,1.7\n0.04,-0.2\n")
    with pytest.warns(CoefficientCSVWarning, match="clipped"):
        out = read_coefficients_csv(path).coefficients
    np.testing.assert_allclose(out[:, JAW], [1.0, 0.0])


@pytest.mark.parametrize("text,words", [
    ("", "empty"),
    ("time,jawOpen\n", "no data rows"),
    ("time,foo,bar\n0,1,2\n", "none of the columns"),
    ("time,jawOpen\n0,abc\n", "line 2"),
    ("time,jawOpen\n0,0.1\n0,0.2\n", "increase"),
    ("time,jawOpen,mouthClose\n0,0.1\n", "values for"),
    ("time,jawOpen\n0,nan\n", "NaN"),
    ("time,jawOpen,JawOpen\n0,0.1,0.2\n", "twice"),
])
def test_malformed(tmp_path, text, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(CoefficientCSVError) as info:
        read_coefficients_csv(path).coefficients
    assert words.lower() in str(info.value).lower()
    assert "audio2exp" in str(info.value)                      # says what to do


def test_missing_and_binary_files(tmp_path):
    with pytest.raises(CoefficientCSVError, match="not found"):
        read_coefficients_csv(tmp_path / "nope.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(CoefficientCSVError):
        read_coefficients_csv(binary)
