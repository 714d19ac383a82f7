"""Typed, frozen configuration of the evaluation (one dataclass per metric, one for the run).

Every default is documented beside its field; the numbers that come from a paper say which.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from core.options import DEFAULT_SIZE_PX
from core.render.camera import DEFAULT_FRAMING


@dataclass(frozen=True)
class CPBDConfig:
    """Cumulative Probability of Blur Detection (Narvekar and Karam, IEEE TIP 2011).

    The constants of the paper: 64 x 64 blocks, a block is an edge block when more than 0.2 % of
    its pixels are edge pixels, the just-noticeable-blur width is 5 pixels for block contrast
    <= 50 and 3 pixels above, beta = 3.6, and P_JNB = 63 % (= 1 - exp(-1)).
    """

    block_px: int = 64                  # side of the analysis blocks (pixels)
    edge_block_fraction: float = 0.002  # T: share of edge pixels that makes a block an edge block
    contrast_split: float = 50.0        # block contrast (max - min grey, 0..255) separating the widths
    jnb_width_low_contrast: float = 5.0   # w_JNB (pixels) for contrast <= contrast_split
    jnb_width_high_contrast: float = 3.0  # w_JNB (pixels) for contrast > contrast_split
    beta: float = 3.6                   # shape of the probability of blur detection
    p_jnb: float = 0.63                 # P_BLUR at the just-noticeable blur
    canny_sigma: float = 1.0            # Gaussian pre-smoothing of the edge detector (pixels)
    canny_low: float = 25.5             # Canny hysteresis thresholds on the L2 Sobel magnitude of
    canny_high: float = 51.0            # 0..255 grey: 10 % and 20 % of full scale


@dataclass(frozen=True)
class IdentityConfig:
    """dlib ResNet face embedding (128-D), the stand-in for the paper's ArcFace CSIM."""

    max_frames: int = 12           # frames embedded per clip (evenly spaced); each costs ~0.1 s
    detector_upsample: int = 1     # dlib HOG detector pyramid upsampling (finds faces >= ~40 px)
    same_person_distance: float = 0.6  # dlib's documented same-person threshold (Euclidean)
    jitter: int = 0                # dlib's num_jitters (0: one pass, deterministic)


@dataclass(frozen=True)
class SyncConfig:
    """Lip-sync stand-in: FaceMesh mouth aperture against the speech envelope."""

    max_lag_frames: int = 10       # lags searched: -10..10 frames (+-400 ms at 25 fps)
    envelope_window_s: float = 0.08  # RMS window centred on each video frame (seconds)
    envelope_floor_db: float = 40.0  # envelope in dB, floored this far below its peak
    min_pairs: int = 8             # fewest valid (aperture, envelope) pairs for a correlation


@dataclass(frozen=True)
class ViewGridConfig:
    """Multi-view consistency: orbit offsets (degrees) from the photo's camera."""

    yaws_deg: tuple[float, ...] = (-30.0, -15.0, 0.0, 15.0, 30.0)
    pitches_deg: tuple[float, ...] = (-15.0, 0.0, 15.0)


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation run.

    size:          rendered frame height and width (pixels)
    max_seconds:   audio cut to this length (None: whole files)
    face_fraction: with ``framing="photo"`` and no ``zoom``, the face (forehead to chin) fills this
                   share of the frame height, by zooming the orbit camera in (zoom limited to
                   1..3). The paper's inputs are face-centred crops, so the metrics see a similar
                   framing. The "head" framing crops to the same share
                   (``core.render.camera.FramingConfig.face_share``) at zoom 1.
    framing:       "head" or "photo" (see ``core.options.RenderOptions``)
    zoom:          orbit zoom of every render; None = automatic (above)
    device:        torch device for the renderer
    save_videos:   also write each rendered clip as an MP4 with sound
    """

    size: int = DEFAULT_SIZE_PX
    max_seconds: float | None = None
    face_fraction: float = 0.45
    framing: str = DEFAULT_FRAMING
    zoom: float | None = None
    device: str = "cpu"
    save_videos: bool = True
    cpbd: CPBDConfig = field(default_factory=CPBDConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    views: ViewGridConfig = field(default_factory=ViewGridConfig)
