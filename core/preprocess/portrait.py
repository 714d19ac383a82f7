"""Portrait loading: any common image file -> 8-bit RGB array, with clear errors."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.errors import PortraitError
from core.preprocess.config import LoadConfig

SUPPORTED = "PNG, JPEG, WebP, BMP, PPM/PGM, TIFF"


@dataclass
class Portrait:
    """A decoded portrait.

    rgb:    uint8 [H, W, 3]
    source_alpha: float32 [H, W] in [0, 1] when the file had transparency, else None
    notes:  things the user should be told (downscaled, converted, ...)
    """

    rgb: np.ndarray
    source_alpha: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.rgb.shape[1], self.rgb.shape[0]


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.uint16:
        return (arr.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    if np.issubdtype(arr.dtype, np.integer):
        hi = max(int(arr.max()), 1)
        scale = 255.0 / (65535.0 if hi > 255 else 255.0)
        return np.clip(arr.astype(np.float32) * scale + 0.5, 0, 255).astype(np.uint8)
    arr = arr.astype(np.float32)
    hi = float(np.nanmax(arr)) if arr.size else 1.0
    scale = 255.0 if hi <= 1.0 else 255.0 / hi
    return np.clip(np.nan_to_num(arr) * scale + 0.5, 0, 255).astype(np.uint8)


def _plain_band(lines: np.ndarray, colour: np.ndarray, limit: int, tol: float = 6.0) -> int:
    """How many of ``lines`` [N, L, 3] (outermost first) are one plain colour close to ``colour``,
    counted only when the band ends at a sharp edge: the next line differs from the band's colour
    along at least half its length (a photo inside a frame), not only where a subject begins (a
    plain backdrop). Returns 0 otherwise."""
    count = 0
    for line in lines[:limit]:
        line = line.astype(np.float32)
        if line.std(axis=0).max() > tol or np.abs(line.mean(axis=0) - colour).max() > tol:
            break
        count += 1
    if count == 0 or count >= len(lines):
        return 0
    inner = lines[count].astype(np.float32)
    differs = np.abs(inner - colour).max(axis=1) > 3 * tol
    return count if differs.mean() >= 0.5 else 0


def plain_frame(rgb: np.ndarray, max_fraction: float = 0.15, min_px: int = 2) -> tuple[int, int, int, int]:
    """The plain-coloured frame or letterbox bars around a photo (screenshots, scans, stock
    previews), as (top, bottom, left, right) widths in pixels; all zero when there is none.

    A frame counts when the top and bottom (letterbox), and possibly also the left and right,
    carry a band of the same plain colour that ends at a sharp edge along most of its length.
    A plain backdrop around a subject is kept: its band ends only where the subject begins.
    rgb: uint8 [H, W, 3]."""
    h, w = rgb.shape[:2]
    colour = rgb[0, 0].astype(np.float32)
    lim_h, lim_w = int(max_fraction * h), int(max_fraction * w)
    top = _plain_band(rgb, colour, lim_h)
    bottom = _plain_band(rgb[::-1], colour, lim_h)
    left = _plain_band(rgb.transpose(1, 0, 2), colour, lim_w)
    right = _plain_band(rgb.transpose(1, 0, 2)[::-1], colour, lim_w)
    if min(top, bottom) < min_px:
        return 0, 0, 0, 0
    if min(left, right) < min_px:
        left = right = 0
    return top, bottom, left, right


def load_portrait(path: str | Path, config: LoadConfig = LoadConfig()) -> Portrait:
    """Decode ``path`` into an RGB portrait. EXIF orientation is applied, greyscale/16-bit/
    palette/RGBA inputs are converted, a plain frame or letterbox bars are cut off (side views
    would show them as a strip hanging in the scene), large images are downscaled.

    Raises PortraitError with a message for the user when the file cannot be used.
    """
    path = Path(path)
    if not path.exists():
        raise PortraitError(f"Portrait file not found: {path}")
    if path.is_dir():
        raise PortraitError(f"{path} is a folder; choose an image file ({SUPPORTED}).")
    if path.stat().st_size == 0:
        raise PortraitError(f"{path.name} is empty (0 bytes); choose an image file ({SUPPORTED}).")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im = ImageOps.exif_transpose(im)
                im.load()
                mode = im.mode
                arr = np.asarray(im)
    except UnidentifiedImageError:
        raise PortraitError(
            f"{path.name} is not an image this program can read. Use a {SUPPORTED} file."
        ) from None
    except Image.DecompressionBombError:
        raise PortraitError(f"{path.name} is too large to decode safely; downscale it first.") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise PortraitError(
            f"{path.name} looks damaged or truncated ({exc}). Re-export it as PNG or JPEG."
        ) from None

    alpha = None
    if arr.ndim == 2:
        arr = _to_uint8(arr)
        rgb = np.repeat(arr[..., None], 3, axis=2)
        notes.append("greyscale portrait: rendered in grey")
    else:
        if arr.shape[2] == 4 or mode in ("LA", "RGBA", "PA"):
            alpha = arr[..., -1].astype(np.float32) / (65535.0 if arr.dtype == np.uint16 else 255.0)
            arr = arr[..., :-1]
        arr = _to_uint8(arr)
        rgb = np.repeat(arr, 3, axis=2) if arr.shape[2] == 1 else arr[..., :3]
    if alpha is not None:
        if float(alpha.min()) >= 0.999:
            alpha = None
        else:
            # Transparent parts become mid grey; the alpha is kept as a hint for the matte.
            grey = np.full_like(rgb, 128)
            rgb = (rgb * alpha[..., None] + grey * (1 - alpha[..., None]) + 0.5).astype(np.uint8)
            notes.append("transparent areas shown as grey background")
    # A plain frame is cut off (not in cut-outs: their transparent margins are background).
    top, bottom, left, right = plain_frame(rgb) if alpha is None else (0, 0, 0, 0)
    if top:
        rgb = rgb[top:rgb.shape[0] - bottom, left:rgb.shape[1] - right]
        notes.append(f"removed a plain frame around the photo ({top} / {bottom} pixels at the top / bottom, "
                     f"{left} / {right} at the left / right)")
    h, w = rgb.shape[:2]
    if min(h, w) < 32:
        raise PortraitError(f"{path.name} is only {w}x{h} pixels; use a portrait at least 128 pixels tall.")
    if max(h, w) > config.max_side_px:
        scale = config.max_side_px / max(h, w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        if alpha is not None:
            alpha = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA)
        notes.append(f"downscaled from {w}x{h} to {size[0]}x{size[1]}")
    return Portrait(rgb=np.ascontiguousarray(rgb), source_alpha=alpha, notes=notes)
