"""``prepare``: portrait file -> Subject, through named stages, with a cache and progress.

Stages (paper section 4.1 and Eq. 6): load portrait -> find face (FaceMesh) -> segment person
-> fit face model (pose, S_init, beta_init) -> lift 3D relief -> vertex-to-feature mapping.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core.face.face_model import FaceModel, load_face_model
from core.preprocess import cache
from core.preprocess.config import PrepareConfig
from core.preprocess.subject import Subject

ProgressCallback = Callable[[str, float], None]
"""progress(stage_name, overall_fraction in [0, 1])."""

STAGES = ("load portrait", "find face", "segment person", "fit face model", "lift 3D relief",
          "vertex-to-feature mapping", "write cache")


@dataclass
class PrepareResult:
    subject: Subject
    from_cache: bool
    stage_seconds: dict[str, float] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    cache_key: str = ""


class _Stages:
    def __init__(self, progress: ProgressCallback | None):
        self.progress = progress
        self.seconds: dict[str, float] = {}
        self._name: str | None = None
        self._t0 = 0.0

    def start(self, name: str) -> None:
        self.stop()
        self._name, self._t0 = name, time.perf_counter()
        if self.progress:
            self.progress(name, STAGES.index(name) / len(STAGES))

    def stop(self) -> None:
        if self._name is not None:
            self.seconds[self._name] = time.perf_counter() - self._t0
            self._name = None


def build_subject(portrait_path: Path, config: PrepareConfig, model: FaceModel, stages: _Stages) -> Subject:
    """Run every stage (no cache)."""
    from core.preprocess.face_fit import detect_landmarks, fit_face
    from core.preprocess.matting import person_matte
    from core.preprocess.nn_mapping import build_mapping
    from core.preprocess.portrait import load_portrait
    from core.preprocess.relief import HeadShell, build_relief

    stages.start("load portrait")
    portrait = load_portrait(portrait_path, config.load)
    stages.start("find face")
    landmarks = detect_landmarks(portrait.rgb, config.load)
    stages.start("segment person")
    matte = person_matte(portrait.rgb, config.matting)
    if portrait.source_alpha is not None:
        matte = matte * (portrait.source_alpha > 0.5)
    stages.start("fit face model")
    w, h = portrait.size
    fit = fit_face(landmarks, w, h, model, config.camera.fov_deg)
    stages.start("lift 3D relief")
    relief = build_relief(portrait.rgb, matte, fit, model, config.relief, HeadShell.of_fit(fit, config.relief))
    stages.start("vertex-to-feature mapping")
    mapping = build_mapping(fit.to_head(fit.mesh), model, config.mapping)
    stages.stop()
    return Subject(fit.intrinsics, fit.rotation, fit.translation, fit.mesh.astype("float32"),
                   fit.beta_init, relief, mapping, fit.reprojection_px,
                   portrait.notes + landmarks.notes)


def prepare(portrait_path: str | Path, config: PrepareConfig = PrepareConfig(),
            cache_root: str | Path | None = None, progress: ProgressCallback | None = None,
            use_cache: bool = True) -> PrepareResult:
    """Return the subject for ``portrait_path``, from the cache when a valid entry exists.

    Raises core.errors.PortraitError for unusable portraits (nothing is written then).
    """
    from core.errors import PortraitError

    path = Path(portrait_path)
    try:
        image_bytes = path.read_bytes()
    except FileNotFoundError:
        raise PortraitError(f"Portrait file not found: {path}") from None
    except IsADirectoryError:
        raise PortraitError(f"{path} is a folder; choose an image file.") from None
    except OSError as exc:
        raise PortraitError(f"Cannot read {path}: {exc.strerror or exc}") from None
    from core.preprocess.matting import matting_method

    model = load_face_model()
    settings = config.as_dict()
    settings["matting"]["used"] = matting_method(config.matting)  # the fallback makes another subject
    key = cache.cache_key(image_bytes, settings, model.digest)
    root = Path(cache_root) if cache_root is not None else cache.default_cache_root()
    messages: list[str] = []
    stages = _Stages(progress)
    if use_cache:
        t0 = time.perf_counter()
        try:
            arrays, manifest = cache.load_entry(root, key, settings, Subject.required_arrays())
            subject = Subject.from_arrays(arrays, manifest.get("notes", []))
            if progress:
                progress("loaded from cache", 1.0)
            return PrepareResult(subject, True, {"load cache": time.perf_counter() - t0},
                                 list(subject.notes), key)
        except cache.CacheMiss as miss:
            if miss.reason != "not cached yet":
                messages.append(f"cache for this portrait was unusable ({miss.reason}); rebuilding")
        except ValueError as exc:
            cache.remove_entry(root, key)
            messages.append(f"cache for this portrait was unusable ({exc}); rebuilding")
    # The subject as the cache stores it (some arrays narrower, e.g. the matte as float16), so
    # that a freshly built subject renders exactly as it will when loaded from the cache.
    built = build_subject(path, config, model, stages)
    subject = Subject.from_arrays(built.to_arrays(), built.notes)
    if use_cache:
        stages.start("write cache")
        manifest = {"settings": settings, "source_name": path.name, "face_model": model.digest,
                    "notes": subject.notes, "stage_seconds": dict(stages.seconds)}
        cache.save_entry(root, key, subject.to_arrays(), manifest)
        stages.stop()
    if progress:
        progress("done", 1.0)
    return PrepareResult(subject, False, dict(stages.seconds), messages + subject.notes, key)
