"""Typed settings of the preprocessing stages. Everything here is part of the cache key."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from core.preprocess.matting import MattingConfig


@dataclass(frozen=True)
class LoadConfig:
    max_side_px: int = 1024  # larger portraits are downscaled to this longest side
    min_face_px: int = 48  # faces smaller than this (eye-to-mouth height x 2.5) are refused


@dataclass(frozen=True)
class CameraConfig:
    """Pinhole model of the photo's camera: principal point at the image centre, square pixels,
    focal length from a field of view over the longer image side."""

    fov_deg: float = 18.0


@dataclass(frozen=True)
class MouthColourConfig:
    """Albedos of the inner mouth, from the subject's photo (see ``analyse_mouth_colours``); the
    renderer lights them (``core.render.config.MouthShadingConfig``)."""

    default_lip: tuple[float, float, float] = (170.0, 90.0, 90.0)  # when the photo shows no lip ring
    default_eye_white: tuple[float, float, float] = (205.0, 200.0, 192.0)  # when no eye white is seen
    eye_white_percentile: float = 60.0  # the eye opening's pixels (off the iris) with the highest
    # lowest channel (bright and unsaturated) are the white
    eye_white_min_pixels: int = 12
    eye_min_width_px: float = 24.0  # smaller eyes do not resolve their whites: use the default
    eye_white_max_saturation: float = 0.3  # a "white" more saturated than this is skin: use the default
    brightness_reference: float = 120.0  # the default white scales with the lip level against this ...
    brightness_limits: tuple[float, float] = (0.5, 1.2)  # ... within these factors
    white_balance_strength: float = 0.5  # ... and takes this power of the photo's colour cast (grey world)
    iris_margin: float = 1.15  # pixels within this x the iris radius of its centre are iris
    teeth_of_eye_white: float = 0.92  # teeth are a little darker than the white of the eyes ...
    teeth_warmth: tuple[float, float, float] = (1.0, 0.97, 0.90)  # ... and a little warmer (never blue)
    greyscale_spread: float = 6.0  # a lip colour with less channel spread than this is grey
    photo_teeth_percentile: float = 70.0  # brightest share of the photo's mouth opening taken as teeth ...
    photo_teeth_min_level: float = 120.0  # ... when they are at least this bright
    photo_teeth_min_pixels: int = 20
    tongue_red: tuple[float, float, float] = (175.0, 75.0, 80.0)
    tongue_lip_share: float = 0.55  # tongue = share * lip + (1 - share) * tongue_red
    gum_lip_share: float = 0.6  # gum = share * lip + (1 - share) * gum_pink
    gum_pink: tuple[float, float, float] = (200.0, 110.0, 115.0)
    cavity_shade: float = 0.25  # the unlit back of the mouth = lip * this
    skin_vertices: tuple[int, ...] = (50, 280, 205, 425)  # FaceMesh cheek points: the skin's light level ...
    skin_patch_share: float = 0.06  # ... read in discs of this share of the face's width around them
    skin_min_pixels: int = 12
    default_skin: tuple[float, float, float] = (150.0, 105.0, 85.0)  # when none is seen (CIELAB L* 48.5)


@dataclass(frozen=True)
class ReliefConfig:
    """Single-image lift of the subject (see README, "Canonical representation")."""

    geometry_side_px: int = 512  # depth map resolution (longest side); appearance stays full-res
    matte_threshold: float = 0.5
    silhouette_depth_cm: float = 3.0  # silhouette depth behind the head origin
    inflation_cm: float = 6.0  # bulge of the non-face parts of the person toward the camera
    background_gap_cm: float = 60.0  # background plane distance behind the head origin
    solve_side_px: int = 96  # resolution of the membrane solve for hair/neck/torso depth
    foreground_alpha: tuple[float, float] = (0.3, 0.7)  # matte values from which the person's own colour
    # is solved at its soft edge (trusted fully from the second; ``relief.foreground_colours``)
    shell_offset_cm: float = 0.8  # where the fitted whole head lies behind the person (hair over the
    # skull, the temples, the ears), the relief takes its surface brought this far toward the camera
    shell_ear_facing: float = 0.5  # fitted-ear triangles facing the photo's camera less than this
    # (|cos|) are left out of the shell: the photo saw that ear edge-on
    shell_bulge_span: float = 0.3  # the membrane's bulge grows over this share of the solve side away from the shell
    shell_excluded_regions: tuple[str, ...] = ("neck", "inside")  # head regions the relief never lies on
    # (a collar may stand in front of the neck; the mouth bag and eye sockets are hidden skin)
    mouth_colours: MouthColourConfig = field(default_factory=MouthColourConfig)


@dataclass(frozen=True)
class MappingConfig:
    """Nearest-neighbour vertex-to-feature mapping (paper Eq. 6) on a 3D grid in the head frame."""

    voxel_cm: float = 0.3
    margin_cm: float = 2.5  # grid extends this far beyond the face mesh
    neighbours: int = 4  # vertices blended per grid point (inverse-distance weights)
    falloff_start_cm: float = 0.8  # displacement weight is 1 within this distance of the mesh
    falloff_end_cm: float = 2.5  # ... and 0 beyond this distance (hair, torso stay still)


@dataclass(frozen=True)
class PrepareConfig:
    load: LoadConfig = field(default_factory=LoadConfig)
    matting: MattingConfig = field(default_factory=MattingConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    relief: ReliefConfig = field(default_factory=ReliefConfig)
    mapping: MappingConfig = field(default_factory=MappingConfig)

    def as_dict(self) -> dict:
        """The settings as plain JSON values (tuples become lists), as the cache manifest keeps them."""
        return json.loads(json.dumps(asdict(self)))
