"""Colours of the inner mouth, analysed once from the photo (stored in the subject cache).

Albedos (the renderer lights them): the lip colour from the ring between the outer lip contour and
the photo's mouth opening; the teeth from the photo's own open mouth when it shows teeth, else an
off-white matched to the photo's white balance and exposure through the whites of the eyes (a
little darker and warmer than them); gums and tongue from the lip colour; the cavity (the unlit
back of the mouth) a dark lip colour. Beside them, the skin colour of the cheeks: its lightness is
how brightly the photo lights the face, which the renderer's light inside the mouth follows
(``core.render.mouth_scene.photo_fill``).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.face import topology as topo
from core.preprocess.config import MouthColourConfig


@dataclass(frozen=True)
class MouthColours:
    """RGB in [0, 255], float32 [3] each: the albedos of the teeth, tongue and gums, the unlit
    cavity's colour, and the photo's skin (cheeks: the face's light level, not drawn)."""

    teeth: np.ndarray
    cavity: np.ndarray
    tongue: np.ndarray
    gum: np.ndarray
    skin: np.ndarray

    def to_array(self) -> np.ndarray:
        """float32 [5, 3]: rows teeth, cavity, tongue, gum, skin."""
        return np.stack([self.teeth, self.cavity, self.tongue, self.gum, self.skin]).astype(np.float32)

    @staticmethod
    def from_array(rows: np.ndarray) -> "MouthColours":
        rows = np.asarray(rows, np.float32)
        return MouthColours(teeth=rows[0], cavity=rows[1], tongue=rows[2], gum=rows[3], skin=rows[4])


def skin_colour(appearance: np.ndarray, mesh_uv: np.ndarray,
                config: MouthColourConfig = MouthColourConfig()) -> np.ndarray | None:
    """Median colour float [3] of the cheeks (discs around ``config.skin_vertices``), or None when
    too few pixels are seen. appearance uint8 [H, W, 3]; mesh_uv float [478, 2] photo pixels."""
    h, w = appearance.shape[:2]
    face_width = float(np.ptp(mesh_uv[:, 0]))
    radius = max(int(round(config.skin_patch_share * face_width)), 1)
    mask = np.zeros((h, w), np.uint8)
    for v in config.skin_vertices:
        cv2.circle(mask, tuple(int(round(c)) for c in mesh_uv[v]), radius, 1, -1)
    pixels = appearance[mask > 0].astype(np.float32)
    return np.median(pixels, axis=0) if len(pixels) >= config.skin_min_pixels else None


def eye_white(appearance: np.ndarray, mesh_uv: np.ndarray,
              config: MouthColourConfig = MouthColourConfig()) -> np.ndarray | None:
    """Median colour float [3] of the whites of both eyes (the brighter pixels of the eye openings
    away from the irises), or None when too few are seen (closed eyes, a tiny face).
    appearance uint8 [H, W, 3]; mesh_uv float [478, 2] photo pixels."""
    h, w = appearance.shape[:2]
    widths = [np.linalg.norm(mesh_uv[a] - mesh_uv[b]) for a, b in ((topo.RIGHT_EYE_UPPER[0], topo.RIGHT_EYE_UPPER[-1]),
                                                               (topo.LEFT_EYE_UPPER[0], topo.LEFT_EYE_UPPER[-1]))]
    if min(widths) < config.eye_min_width_px:
        return None
    mask = np.zeros((h, w), np.uint8)
    for up, low in ((topo.RIGHT_EYE_UPPER, topo.RIGHT_EYE_LOWER), (topo.LEFT_EYE_UPPER, topo.LEFT_EYE_LOWER)):
        poly = mesh_uv[list(up) + list(reversed(low))]
        cv2.fillPoly(mask, [np.round(poly).astype(np.int32)], 1)
    for centre, ring in ((topo.RIGHT_IRIS_CENTER, topo.RIGHT_IRIS_RING), (topo.LEFT_IRIS_CENTER, topo.LEFT_IRIS_RING)):
        radius = np.linalg.norm(mesh_uv[list(ring)] - mesh_uv[centre], axis=1).mean() * config.iris_margin
        cv2.circle(mask, tuple(int(round(c)) for c in mesh_uv[centre]), int(np.ceil(radius)), 0, -1)
    pixels = appearance[mask > 0].astype(np.float32)
    if len(pixels) < config.eye_white_min_pixels:
        return None
    level = pixels.min(axis=1)  # the sclera is bright in every channel, skin and lashes are not
    white = np.median(pixels[level >= np.percentile(level, config.eye_white_percentile)], axis=0)
    saturation = (white.max() - white.min()) / max(float(white.max()), 1.0)
    return white if saturation <= config.eye_white_max_saturation else None


def tint_from_photo(photo_mouth_rgb: np.ndarray | None, lip_pixels: np.ndarray, eye_white_rgb: np.ndarray | None = None,
                    photo_mean_rgb: np.ndarray | None = None, skin_rgb: np.ndarray | None = None,
                    config: MouthColourConfig = MouthColourConfig()) -> MouthColours:
    """Albedos from the lip ring's pixels (lip_pixels float [N, 3]), the photo's own mouth opening
    (photo_mouth_rgb float [M, 3], or None when the mouth is closed), the eye whites' colour
    (float [3] or None) and the photo's mean colour (float [3] or None: its colour cast); the skin
    colour (float [3], or None: ``config.default_skin``) is kept as it is."""
    c = config
    lip = np.median(lip_pixels, axis=0) if len(lip_pixels) else np.array(c.default_lip)
    grey = float(np.ptp(lip)) < c.greyscale_spread  # a greyscale photo: keep the mouth grey too
    if eye_white_rgb is not None:
        white = np.asarray(eye_white_rgb, np.float64)
    else:  # the default white at the photo's exposure (the lips' level)
        exposure = float(np.clip(lip.mean() / c.brightness_reference, *c.brightness_limits))
        white = np.array(c.default_eye_white) * exposure
        if photo_mean_rgb is not None and float(np.min(photo_mean_rgb)) > 1.0:
            cast = np.asarray(photo_mean_rgb, np.float64) / float(np.mean(photo_mean_rgb))
            white = white * cast ** c.white_balance_strength
    teeth = white * c.teeth_of_eye_white * np.array(c.teeth_warmth)
    if grey:
        teeth = np.full(3, teeth.mean())
    else:
        teeth[1] = min(teeth[1], teeth[0])  # never blue: red >= green >= blue
        teeth[2] = min(teeth[2], teeth[1])
    if photo_mouth_rgb is not None and len(photo_mouth_rgb) > c.photo_teeth_min_pixels:
        level = photo_mouth_rgb.mean(axis=1)
        bright = photo_mouth_rgb[level > np.percentile(level, c.photo_teeth_percentile)]
        if len(bright) and bright.mean() > c.photo_teeth_min_level:
            teeth = np.median(bright, axis=0)
    tongue = c.tongue_lip_share * lip + (1 - c.tongue_lip_share) * np.array(c.tongue_red)
    gum = c.gum_lip_share * lip + (1 - c.gum_lip_share) * np.array(c.gum_pink)
    if grey:
        tongue, gum = np.full(3, tongue.mean()), np.full(3, gum.mean())
    return MouthColours(teeth=np.clip(teeth, 0, 255).astype(np.float32),
                        cavity=(lip * c.cavity_shade).astype(np.float32),
                        tongue=np.clip(tongue, 0, 255).astype(np.float32), gum=np.clip(gum, 0, 255).astype(np.float32),
                        skin=np.asarray(c.default_skin if skin_rgb is None else skin_rgb, np.float32))


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
    rgb = appearance[..., :3]
    return tint_from_photo(opening, appearance[ring].astype(np.float32), eye_white(rgb, mesh_uv, config),
                           rgb.reshape(-1, 3).mean(axis=0), skin_colour(rgb, mesh_uv, config), config)
