"""The camera and pixel convention (core.geometry.pinhole), tested once for the whole project."""
from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from core.geometry.pinhole import (Intrinsics, grid_affine, grid_to_pixels, pixel_centres, pixel_centres_torch,
                                   pixels_to_grid, project_to_grid, project_torch, ray_directions,
                                   ray_directions_torch, resize_pixels, unproject_torch)
from core.render.camera import output_intrinsics, photo_framing

# Non-square, odd sizes, principal point off the centre.
K = Intrinsics(93.7, 20.3, 11.9, 37, 23)


def _points(n: int = 50, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.column_stack([rng.uniform(-20, 20, n), rng.uniform(-15, 15, n), rng.uniform(40, 300, n)])


def _ramp(width: int, height: int) -> np.ndarray:
    """float32 [H, W, 2]: every pixel holds its own centre's coordinate (u, v)."""
    return pixel_centres((0, 0, width, height), np.float32)


def test_from_fov_keeps_the_principal_point_at_half_the_size():
    k = Intrinsics.from_fov(150, 225, 18.0)
    assert (k.cx, k.cy, k.width, k.height) == (75.0, 112.5, 150, 225)
    assert k.focal_px == pytest.approx(0.5 * 225 / np.tan(np.radians(9.0)))


def test_project_unproject_round_trip():
    pts = _points()
    uv = K.project(pts)
    np.testing.assert_allclose(K.unproject(uv, pts[:, 2]), pts, atol=1e-9)
    # The principal point is the optical axis; one focal length off it is 45 degrees.
    np.testing.assert_allclose(K.project(np.array([[0.0, 0.0, 7.0], [5.0, -5.0, 5.0]])),
                               [[K.cx, K.cy], [K.cx + K.focal_px, K.cy - K.focal_px]], atol=1e-12)
    uv2 = np.array([[0.0, 0.0], [36.0, 22.0], [-0.5, 22.5]])
    np.testing.assert_allclose(K.project(K.unproject(uv2, np.array([50.0, 80.0, 120.0]))), uv2, atol=1e-9)


def test_pixel_centres_and_rays_over_a_box():
    box = (3, 5, 10, 9)
    c = pixel_centres(box)
    assert c.shape == (4, 7, 2) and c.dtype == np.float64
    assert tuple(c[0, 0]) == (3.0, 5.0) and tuple(c[3, 6]) == (9.0, 8.0) and tuple(c[2, 1]) == (4.0, 7.0)
    rays = ray_directions(K, box)
    assert rays.shape == (4, 7, 3)
    np.testing.assert_array_equal(rays[..., 2], 1.0)
    # A pixel's centre ray projects back onto that pixel's integer coordinate, at any depth.
    for depth in (1.0, 60.0, 250.0):
        np.testing.assert_allclose(K.project(rays.reshape(-1, 3) * depth), c.reshape(-1, 2), atol=1e-10)
    whole = ray_directions(K)
    assert whole.shape == (K.height, K.width, 3)
    np.testing.assert_allclose(K.project(whole[12:13, 17]), [[17.0, 12.0]], atol=1e-10)
    assert ray_directions(K, dtype=np.float32).dtype == np.float32


def test_grid_coordinates_of_centres_and_edges():
    w, h = K.width, K.height
    g = pixels_to_grid(np.array([[0.0, 0.0], [-0.5, -0.5], [w - 0.5, h - 0.5], [w - 1.0, h - 1.0]]), w, h)
    np.testing.assert_allclose(g[0], [-1 + 1 / w, -1 + 1 / h], atol=1e-15)
    assert tuple(g[1]) == (-1.0, -1.0)  # the image's edge, exactly
    assert tuple(g[2]) == (1.0, 1.0)
    np.testing.assert_allclose(g[3], [1 - 1 / w, 1 - 1 / h], atol=1e-15)
    uv = np.random.default_rng(1).uniform(-3, 40, (20, 2))
    np.testing.assert_allclose(grid_to_pixels(pixels_to_grid(uv, w, h), w, h), uv, atol=1e-12)


def test_project_to_grid_and_grid_affine_follow_the_pixel_convention():
    rays = ray_directions(K).reshape(-1, 3) * 80.0
    g = project_to_grid(torch.from_numpy(rays).float(), K).numpy()
    np.testing.assert_allclose(g, pixels_to_grid(pixel_centres(K.box).reshape(-1, 2), K.width, K.height), atol=1e-6)
    (ax, bx), (ay, by) = grid_affine(K)
    pts = _points()
    np.testing.assert_allclose(ax * pts[:, 0] / pts[:, 2] + bx, pixels_to_grid(K.project(pts), K.width, K.height)[:, 0],
                               atol=1e-12)
    np.testing.assert_allclose(ay * pts[:, 1] / pts[:, 2] + by, pixels_to_grid(K.project(pts), K.width, K.height)[:, 1],
                               atol=1e-12)


def test_grid_sample_at_a_pixel_centre_returns_that_pixel():
    img = torch.rand(1, 3, K.height, K.width, generator=torch.Generator().manual_seed(0))
    grid = pixels_to_grid(pixel_centres_torch(K.box), K.width, K.height)  # [H, W, 2]
    out = F.grid_sample(img, grid[None], mode="bilinear", padding_mode="zeros", align_corners=False)
    torch.testing.assert_close(out, img, atol=1e-5, rtol=0)
    # Half way between two centres is their mean; the image edge is half the edge pixel (zeros outside).
    between = pixels_to_grid(torch.tensor([[[4.5, 7.0], [-0.5, 7.0]]]), K.width, K.height)
    got = F.grid_sample(img, between[None], mode="bilinear", padding_mode="zeros", align_corners=False)[0, :, 0]
    torch.testing.assert_close(got[:, 0], 0.5 * (img[0, :, 7, 4] + img[0, :, 7, 5]), atol=1e-5, rtol=0)
    torch.testing.assert_close(got[:, 1], 0.5 * img[0, :, 7, 0], atol=1e-5, rtol=0)


def test_resized_maps_pixel_centres():
    k = Intrinsics(100.0, 4.0, 3.0, 8, 6)
    half = k.resized(4, 3)
    assert (half.width, half.height) == (4, 3) and half.focal_px == 50.0
    # 2x downscale: the midpoint of photo pixels 0 and 1 is output pixel 0; pixel 0 itself is -0.25.
    pts = k.unproject(np.array([[0.5, 0.5], [0.0, 0.0], [1.0, 1.0], [-0.5, -0.5], [7.5, 5.5]]), np.full(5, 30.0))
    np.testing.assert_allclose(half.project(pts), [[0, 0], [-0.25, -0.25], [0.25, 0.25], [-0.5, -0.5], [3.5, 2.5]],
                               atol=1e-12)
    np.testing.assert_allclose(resize_pixels(k.project(pts), 0.5, 0.5), half.project(pts), atol=1e-12)


@pytest.mark.parametrize("size", [(20, 12), (13, 9), (51, 33)])
def test_resized_agrees_with_cv2_resize(size):
    """The resized camera sees each output pixel where cv2.resize took its colour from."""
    src = _ramp(K.width, K.height)
    out = cv2.resize(src, size, interpolation=cv2.INTER_LINEAR)
    k = K.resized(*size)
    # Linear interpolation of a ramp is exact away from the clamped border.
    inner = pixel_centres((2, 2, size[0] - 2, size[1] - 2)).reshape(-1, 2)
    sx, sy = size[0] / K.width, size[1] / K.height
    photo_uv = out[inner[:, 1].astype(int), inner[:, 0].astype(int)]
    np.testing.assert_allclose(resize_pixels(photo_uv, sx, sy), inner, atol=1e-3)
    # Along x the focal scales with the width: the resized camera projects the photo's points there.
    pts = K.unproject(photo_uv.astype(np.float64), np.full(len(photo_uv), 90.0))
    np.testing.assert_allclose(k.project(pts)[:, 0], inner[:, 0], atol=1e-3)


def test_cropped_shifts_the_principal_point_and_pads_when_negative():
    src = _ramp(K.width, K.height)
    crop = K.cropped(6, 4, 20, 15)
    assert (crop.cx, crop.cy, crop.width, crop.height, crop.focal_px) == (K.cx - 6, K.cy - 4, 20, 15, K.focal_px)
    pts = _points()
    np.testing.assert_allclose(crop.project(pts), K.project(pts) - [6, 4], atol=1e-12)
    np.testing.assert_array_equal(src[4:19, 6:26][3, 5], [11.0, 7.0])  # crop pixel (5, 3) is photo (11, 7)
    padded = np.pad(src, ((2, 2), (3, 3), (0, 0)))
    pad = K.cropped(-3, -2, K.width + 6, K.height + 4)
    assert (pad.cx, pad.cy) == (K.cx + 3, K.cy + 2)
    # Photo pixel (u, v) sits at (u + 3, v + 2) in the padded image.
    np.testing.assert_array_equal(padded[2 + 7, 3 + 11], [11.0, 7.0])
    np.testing.assert_allclose(pad.project(pts), K.project(pts) + [3, 2], atol=1e-12)


@pytest.mark.parametrize("photo,size,focus", [
    (Intrinsics.from_fov(512, 512, 18.0), 256, (256.0, 256.0)),
    (Intrinsics.from_fov(683, 1024, 18.0), 300, (340.2, 401.7)),
    (Intrinsics.from_fov(572, 562, 18.0), 128, (250.0, 300.0)),
    (Intrinsics.from_fov(151, 225, 18.0), 97, (75.5, 10.0)),
])
def test_crop_then_resize_is_the_output_camera(photo, size, focus):
    side = min(photo.width, photo.height)
    x0 = float(np.clip(round(focus[0] - side / 2), 0, photo.width - side))  # whole photo pixels
    y0 = float(np.clip(round(focus[1] - side / 2), 0, photo.height - side))
    s = size / side
    old = Intrinsics(photo.focal_px * s, (photo.cx - x0 + 0.5) * s - 0.5, (photo.cy - y0 + 0.5) * s - 0.5, size, size)
    new = photo.cropped(x0, y0, side, side).resized(size, size)
    assert new == old  # the same floating-point operations
    assert output_intrinsics(photo, size, photo_framing(photo, focus)) == old


def test_numpy_and_torch_helpers_agree():
    box = (4, 2, 31, 19)
    np.testing.assert_array_equal(pixel_centres_torch(box).numpy(), pixel_centres(box, np.float32))
    assert pixel_centres_torch(box).dtype == torch.float32
    np.testing.assert_allclose(ray_directions_torch(K, box).numpy(), ray_directions(K, box), atol=1e-6)
    np.testing.assert_array_equal(ray_directions_torch(K).numpy(), ray_directions(K, dtype=np.float32))
    pts = _points()
    pts_t = torch.from_numpy(pts)
    np.testing.assert_allclose(project_torch(pts_t, K).numpy(), K.project(pts), atol=1e-9)
    uv = K.project(pts)
    np.testing.assert_allclose(unproject_torch(torch.from_numpy(uv), pts_t[:, 2], K).numpy(),
                               K.unproject(uv, pts[:, 2]), atol=1e-9)
    np.testing.assert_allclose(project_to_grid(pts_t, K).numpy(), pixels_to_grid(uv, K.width, K.height), atol=1e-9)
    g_t = pixels_to_grid(torch.from_numpy(uv).float(), K.width, K.height)
    assert isinstance(g_t, torch.Tensor) and g_t.dtype == torch.float32
    np.testing.assert_allclose(g_t.numpy(), pixels_to_grid(uv, K.width, K.height), atol=1e-6)
    np.testing.assert_allclose(grid_to_pixels(g_t, K.width, K.height).numpy(), uv, atol=1e-4)
