"""Sharpness: CPBD, the Cumulative Probability of Blur Detection (Narvekar and Karam 2011).

Written from the paper ("A No-Reference Image Blur Metric Based on the Cumulative Probability of
Blur Detection (CPBD)", IEEE Trans. Image Processing 20(9), 2011):

1. Edge pixels: Canny on the grey image (0..255).
2. The image is cut into 64 x 64 blocks; a block with more than 0.2 % edge pixels is an edge block.
3. Each edge block gets a just-noticeable-blur width from its contrast (max - min grey):
   w_JNB = 5 pixels for contrast <= 50, 3 pixels above.
4. Every edge pixel of an edge block gets its width w(e) (Marziliano et al.): the distance between
   the local extrema on either side of it along the gradient direction.
5. Its probability of blur detection: P_BLUR = 1 - exp(-|w(e) / w_JNB| ** beta), beta = 3.6.
6. CPBD = P(P_BLUR <= P_JNB), the share of those edge pixels whose blur is not noticeable
   (P_JNB = 63 %). Higher is sharper; 0..1.

Choices the paper leaves open, made here: the gradient direction is quantised to horizontal or
vertical (as in Marziliano's method), and the width measured along that axis is multiplied by the
cosine between the gradient and the axis, so that oblique edges are not wider than upright ones.
An image with no edge block scores 0 (nothing in it is sharp).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.evaluation.config import CPBDConfig


@dataclass(frozen=True)
class CPBDResult:
    """score: CPBD in [0, 1]; edge_pixels: edge pixels inside edge blocks that were measured;
    edge_blocks: number of edge blocks; mean_width_px: their mean edge width (pixels)."""

    score: float
    edge_pixels: int
    edge_blocks: int
    mean_width_px: float


def to_grey(image: np.ndarray) -> np.ndarray:
    """uint8/float [H, W] or [H, W, 3] RGB -> float64 [H, W] grey in 0..255 (Rec. 601 luma)."""
    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255)
    img = img.astype(np.float64)
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114])
    assert img.ndim == 2, img.shape
    return img


def canny_edges(grey: np.ndarray, config: CPBDConfig = CPBDConfig()) -> np.ndarray:
    """bool [H, W] Canny edge map of a 0..255 grey image."""
    smooth = cv2.GaussianBlur(grey, (0, 0), config.canny_sigma)
    u8 = np.clip(smooth + 0.5, 0, 255).astype(np.uint8)
    return cv2.Canny(u8, config.canny_low, config.canny_high, L2gradient=True) > 0


def _monotone_runs(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Widths of rising and falling edges through every pixel, measured along rows.

    rising[r, c] = steps to the local maximum on the right + steps to the local minimum on the
    left (intensity strictly increasing left to right through c); falling likewise.
    Both int32 [H, W].
    """
    h, w = grey.shape
    d = np.diff(grey, axis=1)                      # [H, W-1], d[:, c] = g[c+1] - g[c]
    up_r = np.zeros((h, w), np.int32)
    down_r = np.zeros((h, w), np.int32)
    for c in range(w - 2, -1, -1):
        up_r[:, c] = np.where(d[:, c] > 0, up_r[:, c + 1] + 1, 0)
        down_r[:, c] = np.where(d[:, c] < 0, down_r[:, c + 1] + 1, 0)
    up_l = np.zeros((h, w), np.int32)               # going left from c, the value keeps falling
    down_l = np.zeros((h, w), np.int32)
    for c in range(1, w):
        up_l[:, c] = np.where(d[:, c - 1] > 0, up_l[:, c - 1] + 1, 0)
        down_l[:, c] = np.where(d[:, c - 1] < 0, down_l[:, c - 1] + 1, 0)
    return up_r + up_l, down_r + down_l


def edge_widths(grey: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Marziliano edge width at every pixel of ``edges`` (float64 [N], pixels, row-major order).

    grey: float [H, W] 0..255; edges: bool [H, W]. Widths of 0 (no extremum pair found) are
    returned as 0 and ignored by the caller.
    """
    gx = cv2.Sobel(grey, cv2.CV_64F, 1, 0, ksize=3)
    gy = cv2.Sobel(grey, cv2.CV_64F, 0, 1, ksize=3)
    rise_h, fall_h = _monotone_runs(grey)
    rise_v, fall_v = (a.T for a in _monotone_runs(np.ascontiguousarray(grey.T)))
    ys, xs = np.nonzero(edges)
    ax, ay = np.abs(gx[ys, xs]), np.abs(gy[ys, xs])
    along_rows = ax >= ay
    width_h = np.where(gx[ys, xs] > 0, rise_h[ys, xs], fall_h[ys, xs])
    width_v = np.where(gy[ys, xs] > 0, rise_v[ys, xs], fall_v[ys, xs])
    mag = np.maximum(np.hypot(ax, ay), 1e-12)
    cosine = np.where(along_rows, ax, ay) / mag
    return np.where(along_rows, width_h, width_v) * cosine


def cpbd(image: np.ndarray, config: CPBDConfig = CPBDConfig()) -> CPBDResult:
    """CPBD of one image (uint8 RGB [H, W, 3] or grey [H, W]). Higher is sharper."""
    grey = to_grey(image)
    edges = canny_edges(grey, config)
    widths = edge_widths(grey, edges)
    ys, xs = np.nonzero(edges)
    h, w = grey.shape
    b = config.block_px
    n_bx = -(-w // b)
    block_id = (ys // b) * n_bx + (xs // b)
    sharp, measured, n_blocks, width_sum = 0, 0, 0, 0.0
    for blk in np.unique(block_id):
        by, bx = divmod(int(blk), n_bx)
        tile = grey[by * b:(by + 1) * b, bx * b:(bx + 1) * b]
        sel = block_id == blk
        if sel.sum() <= config.edge_block_fraction * tile.size:
            continue
        n_blocks += 1
        contrast = float(tile.max() - tile.min())
        w_jnb = config.jnb_width_low_contrast if contrast <= config.contrast_split \
            else config.jnb_width_high_contrast
        wb = widths[sel]
        wb = wb[wb > 0]
        if wb.size == 0:
            continue
        p_blur = 1.0 - np.exp(-np.abs(wb / w_jnb) ** config.beta)
        sharp += int(np.count_nonzero(p_blur <= config.p_jnb))
        measured += int(wb.size)
        width_sum += float(wb.sum())
    score = sharp / measured if measured else 0.0
    return CPBDResult(float(score), measured, n_blocks, width_sum / measured if measured else 0.0)


def cpbd_score(image: np.ndarray, config: CPBDConfig = CPBDConfig()) -> float:
    """CPBD in [0, 1] of one image (see ``cpbd``)."""
    return cpbd(image, config).score
