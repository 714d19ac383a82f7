"""Subject: everything the renderer needs about one portrait, and its (de)serialisation.

The cache arrays are derived from the dataclass fields of ``Subject`` and the dataclasses it
holds: every field is one array named after it, unless its ``field(metadata=...)`` says
otherwise:

* ``prefix``: a dataclass field whose own fields are stored as arrays named prefix + field name
  (``relief`` with no prefix, ``mapping`` with ``map_``);
* ``record``: a small dataclass of numbers stored as one float64 array of its fields, in order
  (``intrinsics``: focal_px, cx, cy, width, height);
* ``stored`` / ``loaded``: the dtype an array is saved as (narrower than in memory, e.g. alpha
  float16) and the dtype it is read back as (default: as saved);
* ``saved: False``: not stored as an array (the notes go in the cache manifest).

Floats and tuples of floats are stored as float64 arrays. Adding a field to one of these
dataclasses is all it takes to store it.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from functools import cache, reduce

import numpy as np

from core.geometry.pinhole import Intrinsics
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

    intrinsics: Intrinsics = field(metadata={"record": True})
    rotation: np.ndarray
    translation: np.ndarray
    mesh: np.ndarray = field(metadata={"stored": np.float32})
    beta_init: np.ndarray = field(metadata={"stored": np.float32})
    relief: Relief = field(metadata={"prefix": ""})
    mapping: VertexFeatureMapping = field(metadata={"prefix": "map_"})
    reprojection_px: tuple[float, float] = (0.0, 0.0)
    notes: list[str] = field(default_factory=list, metadata={"saved": False})

    @property
    def head_mesh(self) -> np.ndarray:
        """V_init in the head frame, [478, 3] (cm)."""
        return ((self.mesh - self.translation) @ self.rotation).astype(np.float32)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {name: _encode(reduce(getattr, path, self), kind, meta)
                for name, path, kind, meta in _array_fields(Subject)}

    @staticmethod
    def required_arrays() -> set[str]:
        return {name for name, *_ in _array_fields(Subject)}

    @staticmethod
    def from_arrays(a: dict[str, np.ndarray], notes: list[str] | None = None) -> "Subject":
        subject = _build(Subject, a, "", notes=list(notes or []))
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


@cache
def _array_fields(cls: type, prefix: str = "") -> tuple:
    """(array name, attribute path, field type, field metadata) of every array ``cls`` is stored
    as (see module docstring)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if not f.metadata.get("saved", True):
            continue
        if "prefix" in f.metadata:
            out += [(name, (f.name,) + path, kind, meta)
                    for name, path, kind, meta in _array_fields(hints[f.name], prefix + f.metadata["prefix"])]
        else:
            out.append((prefix + f.name, (f.name,), hints[f.name], f.metadata))
    return tuple(out)


def _encode(value, kind, meta) -> np.ndarray:
    if meta.get("record"):
        return np.array([getattr(value, f.name) for f in dataclasses.fields(kind)], np.float64)
    if kind is float or typing.get_origin(kind) is tuple:
        return np.array(value, np.float64)
    return np.asarray(value, meta.get("stored"))


def _decode(array: np.ndarray, kind, meta):
    if meta.get("record"):
        hints = typing.get_type_hints(kind)
        return kind(*(hints[f.name](v) for f, v in zip(dataclasses.fields(kind), array.tolist())))
    if kind is float:
        return float(array)
    if typing.get_origin(kind) is tuple:
        return tuple(array.tolist())
    loaded = meta.get("loaded")
    return array.astype(loaded) if loaded is not None else array


def _build(cls: type, arrays: dict[str, np.ndarray], prefix: str, **extra):
    """An instance of dataclass ``cls`` from its arrays (the inverse of ``to_arrays``)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.metadata.get("saved", True):
            continue
        if "prefix" in f.metadata:
            kwargs[f.name] = _build(hints[f.name], arrays, prefix + f.metadata["prefix"])
        else:
            kwargs[f.name] = _decode(arrays[prefix + f.name], hints[f.name], f.metadata)
    return cls(**kwargs, **extra)
