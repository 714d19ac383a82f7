"""The expression-coefficient CSV: written by ``audio2exp``, accepted as a driver instead of audio.

Format written (one row per 25 fps video frame, frame k at time k/25 s)::

    time,jawOpen,jawForward,...,cheekPuff,headYaw,headPitch,headRoll,eyeLookDownLeft,...,eyeLookUpRight
    0.00,0.000000,0.000000,...        <- "time", EXPRESSION_NAMES, HEAD_NAMES, EYE_LOOK_NAMES in order
    0.04,0.183412,...

eyeBlinkLeft/Right carry the blinks, headYaw/headPitch/headRoll the head's rotation relative to
the torso (radians, as ARKit and Live Link Face write them) and eyeLook* the gaze (0..1 each);
``audio2exp`` writes the generated blinks, head motion and gaze there (``core.expression.natural``,
default seed). A driver with blinks, head angles or gaze of its own drives them instead of the
generated ones.

The reader is tolerant: any subset of our ARKit names in any order and any letter case (Live
Link Face writes ``JawOpen``, ``HeadYaw``, ``EyeLookInLeft``); missing names are 0; other columns are ignored with a ``CoefficientCSVWarning``; the time comes from ``time`` (seconds) or
``Timecode`` (SMPTE ``HH:MM:SS:FF[.fff]`` at ``source_fps``, or seconds), is made relative to the
first row, and the curves are resampled to 25 fps when they are not on that grid. Problems a user
can fix raise ``CoefficientCSVError`` saying what is wrong and what to do.
"""
from __future__ import annotations

import csv
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import numpy as np

from core.audio.constants import FPS
from core.errors import UserInputError
from core.face.arkit import (DRIVER_WIDTHS, EXPRESSION_INDEX, EXPRESSION_NAMES, EYE_LOOK_CHANNELS, EYE_LOOK_NAMES,
                             HEAD_CHANNELS, HEAD_NAMES, NUM_DRIVER_CHANNELS, NUM_EXPRESSIONS, full_driver)

TIME_COLUMN = "time"
TIMECODE_COLUMNS = ("timecode",)            # Live Link Face
META_COLUMNS = frozenset({"blendshapecount"})
DEFAULT_SOURCE_FPS = 60.0                  # Live Link Face's capture rate for SMPTE frames
GRID_TOLERANCE_S = 1e-3                    # times this close to k/25 count as on the grid
VALUE_DECIMALS = 6
_HOW_TO = ("Write a valid one with `python main.py audio2exp --audio SPEECH --out coeffs.csv`; "
           "it needs a header row with ARKit names (e.g. time,jawOpen,...) and one row per frame.")
_LOWER_INDEX = {name.lower(): i for name, i in EXPRESSION_INDEX.items()}
_LOWER_INDEX.update({name.lower(): HEAD_CHANNELS.start + i for i, name in enumerate(HEAD_NAMES)})
_LOWER_INDEX.update({name.lower(): EYE_LOOK_CHANNELS.start + i for i, name in enumerate(EYE_LOOK_NAMES)})


class CoefficientCSVError(UserInputError):
    """A coefficient CSV cannot be used; the message says why and what to do."""


class CoefficientCSVWarning(UserWarning):
    """Something in a coefficient CSV was ignored or adjusted (unknown columns, clipped values)."""


@dataclass(frozen=True)
class CoefficientTrack:
    """A coefficient CSV as read: per-frame expression vectors on the 25 fps grid."""

    coefficients: np.ndarray                 # float32 [T, NUM_EXPRESSIONS], frame k at k / fps
    fps: float
    source: Path
    ignored_columns: tuple[str, ...] = ()    # header names that are not in the face model
    resampled: bool = False                  # True when the file's own times were off the grid
    head: np.ndarray | None = None           # float32 [T, 3] head yaw, pitch, roll (degrees) if the file has them
    eye_look: np.ndarray | None = None       # float32 [T, 8] eyeLook* (EYE_LOOK_NAMES order) if the file has them

    @property
    def driver(self) -> np.ndarray:
        """The engine's driver: [T, NUM_EXPRESSIONS], or [T, NUM_DRIVER_CHANNELS] with the head
        angles and the gaze (zeros where the file has none)."""
        if self.head is None and self.eye_look is None:
            return self.coefficients
        zeros = lambda n: np.zeros((len(self.coefficients), n), np.float32)  # noqa: E731
        return np.concatenate([self.coefficients, zeros(len(HEAD_NAMES)) if self.head is None else self.head,
                               zeros(len(EYE_LOOK_NAMES)) if self.eye_look is None else self.eye_look],
                              axis=1).astype(np.float32)

    @property
    def duration_s(self) -> float:
        return self.coefficients.shape[0] / self.fps


def header_row() -> list[str]:
    return [TIME_COLUMN, *EXPRESSION_NAMES, *HEAD_NAMES, *EYE_LOOK_NAMES]


class CoefficientCSVWriter:
    """Streaming writer: rows can be appended block by block (bounded memory for long audio)."""

    def __init__(self, path: str | Path, fps: float = FPS) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.frames_written = 0
        self._fh: TextIO | None = None

    def __enter__(self) -> "CoefficientCSVWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(self.path, "w", newline="", encoding="utf-8")
        self._fh.write(",".join(header_row()) + "\n")
        return self

    def write(self, coeffs: np.ndarray) -> None:
        """Append driver rows [k, w] (w in ``DRIVER_WIDTHS``: expressions, then the head's yaw,
        pitch, roll in degrees, written in radians, then eyeLook*; frames continue from the
        previous call)."""
        assert self._fh is not None, "use CoefficientCSVWriter as a context manager"
        coeffs = np.asarray(coeffs, dtype=np.float64)
        coeffs = full_driver(coeffs.reshape(-1, coeffs.shape[-1] if coeffs.ndim > 1 else NUM_EXPRESSIONS)).astype(np.float64)
        coeffs[:, HEAD_CHANNELS] = np.radians(coeffs[:, HEAD_CHANNELS])
        fmt = f"{{:.{VALUE_DECIMALS}f}}"
        lines = []
        for row in coeffs:
            t = self.frames_written / self.fps
            lines.append(f"{t:.2f}," + ",".join(fmt.format(v) for v in row))
            self.frames_written += 1
        if lines:
            self._fh.write("\n".join(lines) + "\n")

    def __exit__(self, *exc) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def write_coefficients_csv(path: str | Path, coeffs: np.ndarray, fps: float = FPS) -> None:
    """Write a driver [T, w] (w in ``DRIVER_WIDTHS``; frame k at k / fps seconds)."""
    coeffs = np.asarray(coeffs)
    if coeffs.ndim != 2 or coeffs.shape[1] not in DRIVER_WIDTHS:
        raise ValueError(f"expected a driver [T, w] with w in {DRIVER_WIDTHS}, got {coeffs.shape}")
    with CoefficientCSVWriter(path, fps) as writer:
        writer.write(coeffs)


def _parse_time(text: str, is_timecode: bool, source_fps: float) -> float:
    text = text.strip()
    if is_timecode and ":" in text:
        parts = text.split(":")
        if len(parts) != 4:
            raise ValueError(f"timecode {text!r} is not HH:MM:SS:FF")
        h, m, s, frame = int(parts[0]), int(parts[1]), int(parts[2]), float(parts[3])
        return h * 3600.0 + m * 60.0 + s + frame / source_fps
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"time {text!r} is not finite")
    return value


def read_coefficients_csv(path: str | Path, fps: float = FPS,
                          source_fps: float = DEFAULT_SOURCE_FPS) -> CoefficientTrack:
    """Read a coefficient CSV; ``.coefficients`` is float32 [T, NUM_EXPRESSIONS] at ``fps``.

    The first row is at t = 0.
    Without a time column, rows are taken to be consecutive frames at ``fps``.
    Raises ``CoefficientCSVError``; warns ``CoefficientCSVWarning`` about ignored columns and
    values clipped into [0, 1].
    """
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    except FileNotFoundError:
        raise CoefficientCSVError(f"Coefficient CSV not found: {path}. {_HOW_TO}") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CoefficientCSVError(f"{path} is not a readable text CSV ({exc}). {_HOW_TO}") from None
    if not rows:
        raise CoefficientCSVError(f"{path} is empty. {_HOW_TO}")
    header = [h.strip() for h in rows[0]]
    body = rows[1:]

    time_col, is_timecode, columns, unknown = None, False, {}, []
    for j, name in enumerate(header):
        low = name.lower()
        if low == TIME_COLUMN or low in TIMECODE_COLUMNS:
            if time_col is None:
                time_col, is_timecode = j, low in TIMECODE_COLUMNS
            continue
        if low in META_COLUMNS:
            continue
        idx = _LOWER_INDEX.get(low)
        if idx is None:
            unknown.append(name)
        elif idx in columns.values():
            raise CoefficientCSVError(f"{path}: column {name!r} appears twice. {_HOW_TO}")
        else:
            columns[j] = idx
    if not columns:
        raise CoefficientCSVError(
            f"{path}: none of the columns {header[:6]}... is an expression name we know "
            f"(e.g. jawOpen, mouthPressLeft). {_HOW_TO}")
    if unknown:
        shown = ", ".join(unknown[:8]) + (" ..." if len(unknown) > 8 else "")
        warnings.warn(f"{path}: ignoring {len(unknown)} column(s) that are not in the face "
                      f"model: {shown}", CoefficientCSVWarning, stacklevel=2)
    if not body:
        raise CoefficientCSVError(f"{path} has a header but no data rows. {_HOW_TO}")

    values = np.zeros((len(body), NUM_DRIVER_CHANNELS), dtype=np.float64)
    times = np.arange(len(body), dtype=np.float64) / fps
    for i, row in enumerate(body):
        line = i + 2
        if len(row) < len(header):
            raise CoefficientCSVError(f"{path}, line {line}: {len(row)} values for "
                                      f"{len(header)} columns. {_HOW_TO}")
        try:
            if time_col is not None:
                times[i] = _parse_time(row[time_col], is_timecode, source_fps)
            for j, idx in columns.items():
                values[i, idx] = float(row[j])
        except ValueError as exc:
            raise CoefficientCSVError(f"{path}, line {line}: not a number ({exc}). "
                                      f"{_HOW_TO}") from None
    if not np.all(np.isfinite(values)):
        raise CoefficientCSVError(f"{path} contains NaN or infinite values. {_HOW_TO}")
    if np.any(np.diff(times) <= 0):
        raise CoefficientCSVError(f"{path}: the time column must increase from row to row. "
                                  f"{_HOW_TO}")
    unit = np.ones(NUM_DRIVER_CHANNELS, bool)
    unit[HEAD_CHANNELS] = False  # every channel but the head's angles is 0..1
    if values[:, unit].min() < 0.0 or values[:, unit].max() > 1.0:
        warnings.warn(f"{path}: values outside [0, 1] were clipped", CoefficientCSVWarning,
                      stacklevel=2)
        values[:, unit] = np.clip(values[:, unit], 0.0, 1.0)
    has_head = any(HEAD_CHANNELS.start <= idx < HEAD_CHANNELS.stop for idx in columns.values())
    has_gaze = any(idx >= EYE_LOOK_CHANNELS.start for idx in columns.values())
    values[:, HEAD_CHANNELS] = np.degrees(values[:, HEAD_CHANNELS])
    coeffs, resampled = _resample(times - times[0], values, fps)
    head = coeffs[:, HEAD_CHANNELS].astype(np.float32) if has_head else None
    eye_look = coeffs[:, EYE_LOOK_CHANNELS].astype(np.float32) if has_gaze else None
    return CoefficientTrack(coeffs[:, :NUM_EXPRESSIONS].astype(np.float32), float(fps), path, tuple(unknown),
                            resampled, head, eye_look)


def _resample(times: np.ndarray, values: np.ndarray, fps: float) -> tuple[np.ndarray, bool]:
    """Values at ``times`` (s, from 0, increasing) -> ([T, N] on the grid k / fps, resampled?)."""
    n_out = int(math.floor(times[-1] * fps + 1e-6)) + 1
    grid = np.arange(n_out) / fps
    if len(times) == n_out and np.max(np.abs(times - grid)) <= GRID_TOLERANCE_S:
        return values, False
    return np.stack([np.interp(grid, times, values[:, c]) for c in range(values.shape[1])],
                    axis=1), True
