"""Typed settings of the renderer: ray marching, the silhouette wall, the hidden-side fill,
the ray deformation and the inner mouth's geometry and mask. ``RenderConfig()`` is what the program renders with;
``Engine(subject, config=...)`` takes another for experiments and tests.

Lengths are in cm, angles as sines/cosines.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.render.motion_field import GazeConfig, HeadRegionConfig, LidConfig


@dataclass(frozen=True)
class Ramp:
    """A linear ramp from 0 at ``start`` to 1 at ``start + span`` (clamped): ((x - start) / span)."""

    start: float
    span: float

    def __call__(self, x):
        """x: a tensor or an array (anything with ``clip``/``clamp``)."""
        t = (x - self.start) / self.span
        return t.clamp(0.0, 1.0) if hasattr(t, "clamp") else t.clip(0.0, 1.0)


@dataclass(frozen=True)
class MarchConfig:
    """Deterministic ray marching of the person height field (no jitter)."""

    step_cm: float = 0.5  # uniform depth step of the fast path
    reference_step_cm: float = 0.1  # ... of the reference path
    min_steps: int = 16  # steps over the depth range, at least ...
    max_steps: int = 400  # ... and at most
    refine: int = 3  # regula-falsi iterations at a crossing (fast path)
    reference_refine: int = 6  # ... (reference path)
    coarse_refine: int = 2  # ... of the half-resolution coarse march
    fine_steps: int = 4  # samples of most fine-march windows
    fine_spacing_steps: float = 3.0  # largest fine-march sample spacing, in coarse steps
    window_margin_steps: float = 1.5  # a fine window extends its neighbours' hits by this many coarse steps
    secant_cap_cm: float = 3.0  # |f| cap in the crossing refinement (a silhouette wall jumps by NO_SURFACE)
    secant_clamp: tuple[float, float] = (0.05, 0.95)  # where a refinement step may land within its bracket
    depth_margin_cm: float = 3.0  # the depth range is the person's, grown by this (room for deformation)
    background_clearance_cm: float = 1.0  # the depth range ends this far in front of the background
    warp_iterations: int = 2  # Newton steps of the per-frame height-field warp
    head_warp_iterations: int = 1  # Newton steps undoing the head's rigid motion (smooth: one suffices)


@dataclass(frozen=True)
class WallConfig:
    """Where the height field drops off at the silhouette it makes a steep wall; hits on that wall
    are see-through, so side views show the background there, not the silhouette's colour smeared."""

    start_cm: float = 0.5  # hits this far behind the continued surface start to turn transparent ...
    span_cm: float = 1.0  # ... and are fully transparent this much further back
    interior_slack_cm: float = 1.5  # extra tolerance away from the silhouette (march residual on steep parts)
    person_alpha_min: float = 0.1  # the height field has a surface where the matte (grown by a pixel) exceeds this


@dataclass(frozen=True)
class HiddenSideConfig:
    """Colour for the far half of a turned face, from its mirror point on the near half. The weight
    is the product of these ramps and of the face mask."""

    photo_turn: Ramp = Ramp(0.2, 0.2)  # |sin| of the photo's head yaw: how far the photo saw the head turned
    view_turn: Ramp = Ramp(0.08, 0.17)  # how far this view turns toward the far side (sin, head frame)
    past_plane_cm: Ramp = Ramp(0.2, 0.5)  # how far the point lies on the far side of the symmetry plane
    mirror_hidden_cm: Ramp = Ramp(0.6, 0.8)  # how far the mirror point lies behind the photo's surface (1 - this)
    min_face_mask: float = 0.01  # hits with less face mask are not considered
    cover_grow: float = 0.08  # the mask is the face's coverage grown by this share of its width
    # (``ReliefScene.mirror_cover``)
    min_weight: float = 0.01  # weights below this are dropped


@dataclass(frozen=True)
class DeformationConfig:
    """Which field a point takes: the jaw side's below the deformed mouth line, the skull side's above."""

    sharp_side_width_cm: float = 0.05  # width of the skull/jaw switch between the lip corners ...
    soft_side_width_cm: float = 1.0  # ... and well beyond them
    soft_side_distance_cm: float = 1.5  # distance past a lip corner over which the switch softens
    lids: LidConfig = field(default_factory=LidConfig)  # the eyelids' closing (blinks)
    gaze: GazeConfig = field(default_factory=GazeConfig)  # the eyes' turn
    head_region: HeadRegionConfig = field(default_factory=HeadRegionConfig)  # where the head's rigid motion applies


@dataclass(frozen=True)
class MouthGeometryConfig:
    """The 3D mouth interior (``core.render.mouth_scene``), in the head frame (cm; x toward the
    subject's left, y down, z into the head). Tooth sizes are an adult's (``mouth_scene.UPPER_TEETH``),
    scaled by the subject's mouth width against ``reference_mouth_width_cm``."""

    reference_mouth_width_cm: float = 4.3  # inner lip corner to corner of the canonical face
    scale_limits: tuple[float, float] = (0.8, 1.25)  # the subject's scale is clamped to this
    upper_arch_curvature: float = 0.40  # the arch's depth z = k * x^2 behind its front (1/cm)
    lower_arch_curvature: float = 0.46
    upper_behind_lip_cm: float = 0.35  # upper incisors' front face behind the upper inner lip
    upper_show_cm: float = 0.15  # upper incisal edge below the upper inner lip of the photo
    lower_show_cm: float = 0.1  # lower incisal edge above the lower inner lip of the photo
    overjet_cm: float = 0.12  # lower incisors' front face behind the upper incisors' back face
    tooth_gap_cm: float = 0.008  # between neighbouring crowns along the arch
    labial_tilt_cm: float = 0.12  # crowns lean forward: the cervical end lies this far behind the edge
    # From the midline outward (central, lateral, canine, premolars, molar): how far each crown's
    # edge stops short of the central incisor's (cm, toward the gum; adult means: the upper laterals
    # are shorter, the canine tips reach the centrals' line) ...
    upper_edge_steps_cm: tuple[float, ...] = (0.0, 0.06, 0.0, 0.04, 0.06, 0.08)
    lower_edge_steps_cm: tuple[float, ...] = (0.0, 0.0, -0.02, 0.03, 0.05, 0.06)
    # ... and the crowns' angulation in a frontal view (degrees, the edge toward the midline; Andrews)
    upper_angulation_deg: tuple[float, ...] = (5.0, 9.0, 11.0, 2.0, 2.0, 5.0)
    lower_angulation_deg: tuple[float, ...] = (2.0, 2.0, 5.0, 2.0, 2.0, 2.0)
    posterior_superellipse: float = 2.4  # premolars' and molars' cross-section (the front teeth's: mouth_scene.SUPERELLIPSE_EXPONENT)
    arch_back_shade: float = 0.55  # the crowns darken toward the back of the arch by up to this (the buccal corridor)
    smile_arc: float = 0.025  # the edges rise toward the back by this x (arc length from the midline)^2 (1/cm)
    gum_papilla_cm: float = 0.12  # the gum reaches this far down between neighbouring crowns (a scalloped line)
    gum_height_cm: float = 0.55  # gum band from the cervical line toward the roots
    gum_samples: int = 96  # vertices along each gum band (a few per crown, for the scallops)
    gum_forward_cm: float = 0.08  # the gum stands this far in front of the crowns' front faces
    tongue_width_cm: float = 3.6
    tongue_length_cm: float = 4.5
    tongue_height_cm: float = 0.9  # dome over its edges
    tongue_behind_teeth_cm: float = 0.35  # its tip behind the lower incisors' back face
    tongue_below_edge_cm: float = 0.1  # its front top below the lower incisal edge
    tongue_rise_cm: float = 1.5  # its back rises this much toward the palate
    tongue_side_shade: float = 0.85  # its light falls by this share toward its sides (x (across / half width)^2)
    ring_points: int = 12  # vertices around a tooth's cross-section
    tongue_grid: tuple[int, int] = (13, 10)  # across, along
    photo_teeth_depth_cm: float = 0.3  # the photo's teeth planes lie this far behind the inner lips
    # The expressions that move the mandible (the teeth follow these alone: the others move the
    # chin's soft tissue a little, e.g. a smile lifts it 0.6 mm, which the teeth must not follow).
    jaw_expressions: tuple[str, ...] = ("jawOpen", "jawForward", "jawLeft", "jawRight")


@dataclass(frozen=True)
class MouthShadingConfig:
    """Per-vertex lighting of the mouth interior: a key light from the front, light that dies off
    with depth behind the lips' opening, the cheeks' and the upper lip's shadows, a soft dark
    contact where the lips meet what is behind them. Colours are the subject's albedos
    (``core.preprocess.mouth_colours``); the ambient light and the light's reach follow the
    photo's light (the fill, ``core.render.mouth_scene.photo_fill``)."""

    light_direction: tuple[float, float, float] = (0.0, -0.35, -1.0)  # toward the light, head frame
    reference_skin_lightness: float = 48.0  # CIELAB L* of the photo's cheeks for which the light below
    # holds as it is (a face lit like the development webcam video's, L* 48); a brighter-lit face
    # lets more light into its mouth: the fill is the photo's skin L* over this ...
    fill_limits: tuple[float, float] = (0.8, 1.8)  # ... clamped to this; it multiplies the ambient
    # light and how deep the light reaches (``depth_falloff_cm``); the cavity's colour stays dark
    ambient: float = 0.22  # times the fill
    diffuse: float = 0.6
    depth_falloff_cm: float = 3.0  # light inside the mouth: exp(-depth behind the lip opening / (this * fill))
    cheek_shadow: float = 0.75  # points beyond the inner lip corners darken by up to this ...
    cheek_ramp_cm: tuple[float, float] = (-0.4, 0.5)  # ... over this range of |x| past the corner
    lip_shadow: float = 0.45  # the upper lip's shadow darkens the points just below it by this ...
    lip_shadow_band_cm: float = 0.2  # ... fading out this far below the lip
    specular: float = 0.05  # wet enamel highlight (share of white)
    shininess: float = 18.0
    contact_cm: float = 0.1  # soft dark contact band inside the lips' edge ...
    contact_floor: float = 0.45  # ... down to this brightness at the edge
    supersample: int = 3  # the interior is drawn at this many times the output resolution (OpenGL) ...
    reference_supersample: int = 1  # ... and by the numpy rasteriser (the ray-marcher path: no OpenGL;
    # its cost grows with the samples) ...
    reference_soften_px: float = 0.6  # ... which then softens its edges by this Gaussian blur


@dataclass(frozen=True)
class MouthMaskConfig:
    """The averaged inner-lip mask of Eq. 13 and its blending."""

    seal_falloff_cm: float = 0.45  # lip vertices near the inner contour follow the lip seal
    smoothing_iterations: int = 2  # Chaikin corner cuts of the ten-point lip contour
    fill_supersample: int = 4  # the mask's polygon is filled at this many times the resolution, box-filtered
    edge_photo_px: float = 0.4  # the mask's edge is softened by a Gaussian of this many photo pixels
    # (as soft as the photo's own edges where the output enlarges the photo; at least this many output pixels)
    open_px: float = 1.5  # a frame's mask fades as its widest inner-lip gap falls below this ...
    closed_line: float = 0.4  # ... down to this: closed lips keep a faint dark line where they meet
    closed_band_blur_px: float = 1.0  # on closed lips the mean is limited to a band this soft ...
    closed_band_gain: float = 1.5  # ... and this strong around the current mask
    follow_opening: bool = True  # the mean is at least the current mask: it lags a closing mouth only
    # (False: the paper's plain mean, which lags an opening mouth by up to n frames too)
    occluder_margin_cm: float = 1.0  # the mouth is hidden where a hit is this much in front of the lips
    threshold: float = 1e-3  # mask values below this are outside the mouth
    box_pad_px: int = 2  # the mouth layer is drawn over the mask's bounding box grown by this


@dataclass(frozen=True)
class PhotoTeethConfig:
    """The photo's own teeth as two planes (``core.render.mouth.photo_mouth_layers``): where they
    split (the dark gap between the photo's upper and lower teeth) and how soft their edges are."""

    opening_grow_px: float = 2.0  # the planes cover the photo's inner-lip polygon grown by this
    # (photo pixels; as ``relief.mouth_opening_mask``) ...
    edge_px: float = 1.0  # ... with an edge this soft (output pixels)
    split_margin_px: float = 1.0  # the split is looked for this far inside the inner lips (photo pixels) ...
    split_blur_px: float = 0.7  # ... in the photo's lightness blurred by this ...
    split_centre_cost: float = 0.5  # ... where being at the opening's rim costs this share of its lightness range
    split_smooth_px: float = 3.0  # the split line is smoothed along the mouth by this (photo pixels)
    sheet_iterations: int = 4  # Newton steps of a ray's hit on the curved sheets
    teeth_contrast: float = 25.0  # the opening shows teeth where its pixels' darkest channel is this
    # much (0..255) above the lips' ...
    teeth_ramp: tuple[float, float] = (0.0, 0.3)  # ... teeth from this share of the way from the
    # lips' level to the teeth's (0) to this (1); the rest of the opening (the photo's dark gap, its
    # lip rims, a closed mouth's slit) gives way to the 3D interior as the jaw leaves the photo's ...
    fade_px: float = 2.0  # ... over this much jaw motion (output pixels)
    teeth_close_share: float = 0.06  # the teeth's region is closed over this share of the crop's width


@dataclass(frozen=True)
class MouthConfig:
    """The inner mouth (its colours are analysed from the photo at preparation: see
    ``core.preprocess.mouth_colours``)."""

    geometry: MouthGeometryConfig = field(default_factory=MouthGeometryConfig)
    shading: MouthShadingConfig = field(default_factory=MouthShadingConfig)
    mask: MouthMaskConfig = field(default_factory=MouthMaskConfig)
    photo_teeth: PhotoTeethConfig = field(default_factory=PhotoTeethConfig)


@dataclass(frozen=True)
class FastPathConfig:
    """The renderer's fast paths. Each gives the image of the plain path (``plain()``: all off, the
    reference that ``tests/render`` compares them with) up to float rounding.

    skip_unseen_mirror: the rasteriser draws the relief without the hidden-side fill's mirror
        lookup (a second texture read per fragment) in frames where no vertex's fill weight
        reaches ``HiddenSideConfig.min_weight`` (checked on the CPU with the vertex shader's
        formula, ``mirror_margin`` to spare); always so for a photo that saw the head from the front.
    reuse_mouth_framebuffer: the mouth interior is drawn into one framebuffer that grows to the
        largest box so far (drawn and read in its corner), not into a new one per box size.
    uint8_frame: the rasterised frame stays uint8 and only the mouth's box is blended in float32
        (the plain path converts the whole frame to float32 and back).
    cache_background: the rasteriser keeps the background layer of a view seen twice in a row in a
        framebuffer of its own and copies it (colour, surface z, depth) while the view stays.
    lip_polygons_kept: the mouth compositor keeps the inner-lip polygons of this many recent faces
        (a face is in the mask windows of n frames in a row); 0: each window computes its own.
    """

    skip_unseen_mirror: bool = True
    mirror_margin: float = 1e-3
    reuse_mouth_framebuffer: bool = True
    uint8_frame: bool = True
    cache_background: bool = True
    lip_polygons_kept: int = 32

    @staticmethod
    def plain() -> "FastPathConfig":
        return FastPathConfig(skip_unseen_mirror=False, reuse_mouth_framebuffer=False, uint8_frame=False,
                              cache_background=False, lip_polygons_kept=0)


@dataclass(frozen=True)
class RenderConfig:
    march: MarchConfig = field(default_factory=MarchConfig)
    wall: WallConfig = field(default_factory=WallConfig)
    hidden_side: HiddenSideConfig = field(default_factory=HiddenSideConfig)
    deformation: DeformationConfig = field(default_factory=DeformationConfig)
    mouth: MouthConfig = field(default_factory=MouthConfig)
    fast_paths: FastPathConfig = field(default_factory=FastPathConfig)  # FastPathConfig.plain(): the references
