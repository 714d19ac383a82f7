"""Colours of the inner mouth, analysed once from the photo (stored in the subject cache).

The lip colour comes from the ring between the outer lip contour and the photo's mouth opening;
the teeth from the photo's own open mouth when it shows teeth, else an off-white matched to the
face's brightness; tongue and cavity from the lip colour.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.face import topology as topo
from core.preprocess.config import MouthColourConfig


@dataclass(frozen=True)
class MouthColours:
    """RGB in [0, 255], float32 [3] each."""

    teeth: np.ndarray
    cavity: np.ndarray
    tongue: np.ndarray

    def to_array(self) -> np.ndarray:
        """float32 [3, 3]: rows teeth, cavity, tongue."""
        return np.stack([self.teeth, self.cavity, self.tongue]).astype(np.float32)

    @staticmethod
    def from_array(rows: np.ndarray) -> "MouthColours":
        rows = np.asarray(rows, np.float32)
        return MouthColours(teeth=rows[0], cavity=rows[1], tongue=rows[2])


def tint_from_photo(photo_mouth_rgb: np.ndarray | None, lip_pixels: np.ndarray,
                    config: MouthColourConfig = MouthColourConfig()) -> MouthColours:
    """Tints from the lip ring's pixels (lip_pixels float [N, 3]) and the photo's own mouth
    opening (photo_mouth_rgb float [M, 3], or None when the mouth is closed)."""
    c = config
    lip = np.median(lip_pixels, axis=0) if len(lip_pixels) else np.array(c.default_lip)
    brightness = float(np.clip(lip.mean() / c.brightness_reference, *c.brightness_limits))
    grey = float(np.ptp(lip)) < c.greyscale_spread  # a greyscale photo: keep the mouth grey too
    # Teeth inside a mouth are in shade: an off-white well below pure white.
    teeth = np.array(c.teeth_in_shade) * min(brightness, 1.0)
    if grey:
        teeth = np.full(3, teeth.mean())
    if photo_mouth_rgb is not None and len(photo_mouth_rgb) > c.photo_teeth_min_pixels:
        level = photo_mouth_rgb.mean(axis=1)
        bright = photo_mouth_rgb[level > np.percentile(level, c.photo_teeth_percentile)]
        if len(bright) and bright.mean() > c.photo_teeth_min_level:
            teeth = np.median(bright, axis=0)
    tongue = c.tongue_lip_share * lip + (1 - c.tongue_lip_share) * np.array(c.tongue_red)
    if grey:
        tongue = np.full(3, tongue.mean())
    return MouthColours(teeth=teeth.astype(np.float32), cavity=(lip * c.cavity_shade).astype(np.float32),
                        tongue=(tongue * c.tongue_shade).astype(np.float32))


def analyse_mouth_colours(appearance: np.ndarray, mesh_uv: np.ndarray, mouth_mask: np.ndarray,
                          mouth_crop: np.ndarray, config: MouthColourConfig = MouthColourConfig()) -> MouthColours:
    """appearance uint8 [H, W, 3]; mesh_uv float [478, 2] the fitted mesh in photo pixels;
    mouth_mask bool [H, W] the photo's mouth opening; mouth_crop uint8 [h, w, 4] its pixels
    (alpha = opening; may be empty)."""
    h, w = appearance.shape[:2]
    outer = np.zeros((h, w), np.uint8)
    cv2.fillPoly(outer, [np.round(mesh_uv[list(topo.outer_lip_polygon())]).astype(np.int32)], 1)
    ring = (outer > 0) & ~mouth_mask
    opening = mouth_crop[mouth_crop[..., 3] > 0][:, :3].astype(np.float32) if mouth_crop.size else None
    return tint_from_photo(opening, appearance[ring].astype(np.float32), config)
