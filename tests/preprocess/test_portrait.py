"""Portrait loading accepts the common formats and explains what it cannot use."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from core.errors import PortraitError
from core.preprocess.config import LoadConfig
from core.preprocess.portrait import load_portrait


@pytest.fixture(scope="module")
def rgb(sample_portrait):
    return np.asarray(Image.open(sample_portrait).convert("RGB"))


@pytest.mark.parametrize("suffix,kwargs", [(".png", {}), (".jpg", {"quality": 95}), (".webp", {"quality": 95}),
                                           (".bmp", {}), (".ppm", {}), (".tiff", {})])
def test_common_formats_decode_to_rgb(tmp_path, rgb, suffix, kwargs):
    path = tmp_path / f"p{suffix}"
    Image.fromarray(rgb).save(path, **kwargs)
    p = load_portrait(path)
    assert p.rgb.dtype == np.uint8 and p.rgb.shape == rgb.shape
    assert np.abs(p.rgb.astype(int) - rgb).mean() < 4


def test_jpeg_exif_orientation_is_applied(tmp_path, rgb):
    stored = np.rot90(rgb, k=1)  # what a camera writes when held sideways
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    Image.fromarray(np.ascontiguousarray(stored)).save(path, exif=exif, quality=95)
    p = load_portrait(path)
    assert p.rgb.shape == rgb.shape
    assert np.abs(p.rgb.astype(int) - rgb).mean() < 4


def test_greyscale_sixteen_bit_and_rgba(tmp_path, rgb):
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    Image.fromarray(grey).save(tmp_path / "g.png")
    p = load_portrait(tmp_path / "g.png")
    assert p.rgb.shape == rgb.shape and np.array_equal(p.rgb[..., 0], p.rgb[..., 2])

    cv2.imwrite(str(tmp_path / "g16.png"), grey.astype(np.uint16) * 257)
    assert np.abs(load_portrait(tmp_path / "g16.png").rgb[..., 0].astype(int) - grey).max() <= 1
    cv2.imwrite(str(tmp_path / "c16.png"), (rgb[..., ::-1].astype(np.uint16) * 257))
    assert np.abs(load_portrait(tmp_path / "c16.png").rgb.astype(int) - rgb).max() <= 1

    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    rgba[:50, :50, 3] = 0
    Image.fromarray(rgba).save(tmp_path / "a.png")
    p = load_portrait(tmp_path / "a.png")
    assert p.rgb.shape == rgb.shape and p.source_alpha is not None
    assert p.source_alpha[:50, :50].max() == 0 and p.source_alpha[100:, 100:].min() == 1


def test_large_images_are_downscaled(tmp_path, rgb):
    big = cv2.resize(rgb, (2400, 2400))
    Image.fromarray(big).save(tmp_path / "big.jpg")
    p = load_portrait(tmp_path / "big.jpg", LoadConfig(max_side_px=1024))
    assert max(p.rgb.shape[:2]) == 1024
    assert any("downscaled" in n for n in p.notes)


@pytest.mark.parametrize("content,expect", [
    (b"", "empty"),
    (b"this is not an image at all", "not an image"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "not an image"),
])
def test_bad_files_say_what_is_wrong(tmp_path, content, expect):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(PortraitError, match=expect):
        load_portrait(path)


def test_truncated_missing_and_folder(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "full.jpg", quality=95)
    data = (tmp_path / "full.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) // 3])
    with pytest.raises(PortraitError, match="damaged or truncated"):
        load_portrait(tmp_path / "cut.jpg")
    with pytest.raises(PortraitError, match="not found"):
        load_portrait(tmp_path / "nope.png")
    with pytest.raises(PortraitError, match="folder"):
        load_portrait(tmp_path)


def test_a_plain_frame_or_letterbox_bars_are_cut_off(tmp_path, rgb):
    """Screenshot frames and letterbox bars would hang in the scene as strips in side views."""
    framed = np.full((rgb.shape[0] + 40, rgb.shape[1] + 30, 3), 224, np.uint8)
    framed[22:22 + rgb.shape[0], 14:14 + rgb.shape[1]] = rgb
    Image.fromarray(framed).save(tmp_path / "framed.png")
    p = load_portrait(tmp_path / "framed.png")
    assert np.array_equal(p.rgb, rgb) and any("frame" in n for n in p.notes)
    letterbox = np.zeros((rgb.shape[0] + 60, rgb.shape[1], 3), np.uint8)
    letterbox[30:30 + rgb.shape[0]] = rgb
    Image.fromarray(letterbox).save(tmp_path / "letterbox.png")
    assert np.array_equal(load_portrait(tmp_path / "letterbox.png").rgb, rgb)


def test_a_plain_studio_backdrop_is_kept(tmp_path):
    """Plain top and sides, the person at the bottom: nothing is cut."""
    img = np.full((200, 160, 3), 240, np.uint8)
    cv2.ellipse(img, (80, 90), (35, 45), 0, 0, 360, (180, 140, 120), -1)  # head
    img[150:] = (60, 60, 90)  # shoulders to the bottom edge
    Image.fromarray(img).save(tmp_path / "studio.png")
    p = load_portrait(tmp_path / "studio.png")
    assert np.array_equal(p.rgb, img) and not p.notes


def test_a_subject_floating_on_a_plain_backdrop_is_not_taken_for_a_frame(tmp_path):
    img = np.full((200, 160, 3), 240, np.uint8)
    cv2.ellipse(img, (80, 100), (35, 45), 0, 0, 360, (180, 140, 120), -1)  # plain all round
    Image.fromarray(img).save(tmp_path / "floating.png")
    assert np.array_equal(load_portrait(tmp_path / "floating.png").rgb, img)
    flat = np.full((120, 100, 3), 77, np.uint8)  # a single colour: nothing to cut either
    Image.fromarray(flat).save(tmp_path / "flat.png")
    assert load_portrait(tmp_path / "flat.png").rgb.shape == flat.shape
