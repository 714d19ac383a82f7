"""Subject: everything the renderer needs about one portrait, and its (de)serialisation."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.preprocess.camera_model import Intrinsics
from core.preprocess.nn_mapping import VertexFeatureMapping
from core.preprocess.relief import Relief


@dataclass
class Subject:
    """One prepared portrait (see README "Canonical representation").

    intrinsics:  the photo's pinhole camera (pixels of ``relief.appearance``)
    rotation:    float64 [3, 3] head frame -> camera frame;  translation: float64 [3] (cm)
    mesh:        float32 [478, 3] S_init = V_init in the camera frame (cm)
    beta_init:   float32 [K] expression in the photo (ARKit order of core.face.arkit)
    relief:      the layered canonical representation
    mapping:     the 3D nearest-neighbour vertex-to-feature mapping
    """

    intrinsics: Intrinsics
    rotation: np.ndarray
    translation: np.ndarray
    mesh: np.ndarray
    beta_init: np.ndarray
    relief: Relief
    mapping: VertexFeatureMapping
    reprojection_px: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list)

    @property
    def head_mesh(self) -> np.ndarray:
        """V_init in the head frame, [478, 3] (cm)."""
        return ((self.mesh - self.translation) @ self.rotation).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        i, r, m = self.intrinsics, self.relief, self.mapping
        return {
            "intrinsics": np.array([i.focal_px, i.cx, i.cy, i.width, i.height], np.float64),
            "rotation": self.rotation, "translation": self.translation,
            "mesh": self.mesh.astype(np.float32), "beta_init": self.beta_init.astype(np.float32),
            "reprojection_px": np.array(self.reprojection_px, np.float64),
            "appearance": r.appearance, "alpha": r.alpha.astype(np.float16),
            "background": r.background, "depth": r.depth.astype(np.float32),
            "background_depth": np.array(r.background_depth, np.float64),
            "mouth_mask": r.mouth_mask.astype(np.uint8), "face_fill": r.face_fill.astype(np.float32),
            "mouth_crop": r.mouth_crop, "mouth_crop_xy": r.mouth_crop_xy,
            "map_origin": m.origin, "map_voxel": np.array(m.voxel, np.float64), "map_dims": m.dims,
            "map_upper_index": m.upper_index, "map_upper_weight": m.upper_weight,
            "map_lower_index": m.lower_index, "map_lower_weight": m.lower_weight,
        }

    @staticmethod
    def required_arrays() -> set[str]:
        return {"intrinsics", "rotation", "translation", "mesh", "beta_init", "appearance", "alpha",
                "background", "depth", "background_depth", "mouth_mask", "face_fill", "mouth_crop", "mouth_crop_xy",
                "map_origin", "map_voxel", "map_dims", "map_upper_index", "map_upper_weight",
                "map_lower_index", "map_lower_weight", "reprojection_px"}

    @staticmethod
    def from_arrays(a: dict[str, np.ndarray], notes: list[str] | None = None) -> "Subject":
        f, cx, cy, w, h = a["intrinsics"].tolist()
        intr = Intrinsics(f, cx, cy, int(w), int(h))
        relief = Relief(
            appearance=a["appearance"], alpha=a["alpha"].astype(np.float32), background=a["background"],
            depth=a["depth"], background_depth=float(a["background_depth"]),
            mouth_mask=a["mouth_mask"].astype(bool), face_fill=a["face_fill"].astype(np.float32),
            mouth_crop=a["mouth_crop"], mouth_crop_xy=a["mouth_crop_xy"],
        )
        mapping = VertexFeatureMapping(
            origin=a["map_origin"], voxel=float(a["map_voxel"]), dims=a["map_dims"],
            upper_index=a["map_upper_index"], upper_weight=a["map_upper_weight"],
            lower_index=a["map_lower_index"], lower_weight=a["map_lower_weight"],
        )
        subject = Subject(intr, a["rotation"], a["translation"], a["mesh"], a["beta_init"], relief, mapping,
                          tuple(a["reprojection_px"].tolist()), list(notes or []))
        subject.validate()
        return subject

    def validate(self) -> None:
        """Shape checks; raises ValueError when arrays do not fit together."""
        h, w = self.relief.appearance.shape[:2]
        checks = [
            (self.relief.appearance.shape == (h, w, 3), "appearance"),
            (self.relief.alpha.shape == (h, w), "alpha"),
            (self.relief.background.shape == (h, w, 3), "background"),
            ((self.intrinsics.width, self.intrinsics.height) == (w, h), "intrinsics"),
            (self.mesh.shape == (478, 3), "mesh"),
            (self.rotation.shape == (3, 3), "rotation"),
            (self.mapping.upper_index.shape[0] == int(np.prod(self.mapping.dims)), "mapping"),
            (np.isfinite(self.relief.depth).all(), "depth"),
        ]
        bad = [name for ok, name in checks if not ok]
        if bad:
            raise ValueError(f"inconsistent subject arrays: {bad}")
