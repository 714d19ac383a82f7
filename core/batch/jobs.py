"""The jobs file of ``python main.py batch``: a CSV with a header row, or a JSON list of objects.

Each job (a CSV row, a JSON object) has ``portrait``, ``audio`` or ``coeffs``, ``out`` and,
optionally, the render options under the names of ``render``'s flags: ``size``, ``yaw``,
``pitch``, ``zoom``, ``orbit``, ``alpha_m``, ``lambda_exp``, ``mask_window``, ``framing``, ``device`` (``alpha-m`` is
accepted for ``alpha_m``; an empty CSV cell or a JSON null means "not given"). Relative paths are
relative to the jobs file's folder.

Every job is checked before anything runs; ``load_jobs`` raises ``JobsFileError`` listing every
problem, each with its job number (the Nth row or object, counted from 1; for a CSV also the
line). Whether the input files exist and can be used is found out when the job runs.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import UserInputError
from core.options import RenderOptions, checked_zoom
from core.render.camera import DEFAULT_FRAMING, OrbitPose

PATH_KEYS = ("portrait", "audio", "coeffs", "out")
OPTION_KEYS = ("size", "yaw", "pitch", "zoom", "orbit", "alpha_m", "lambda_exp", "mask_window", "framing", "device",
               "blink_rate", "head_motion", "seed", "gaze")
KNOWN_KEYS = PATH_KEYS + OPTION_KEYS
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")
_BAD = object()  # a value that could not be read (its problem is already listed)


class _Problem(str):
    """A record that is already known to be unusable (a CSV row that does not fit its header)."""


class JobsFileError(UserInputError):
    """The jobs file cannot be used; ``problems`` lists each one (with its job number)."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = Path(path), list(problems)
        head = f"jobs file {path}: " + (f"{len(problems)} problems" if len(problems) > 1 else "")
        if len(problems) == 1:
            super().__init__(head + problems[0])
        else:
            super().__init__(head + "".join(f"\n  {p}" for p in problems))


@dataclass(frozen=True)
class Job:
    """One render of a batch. ``number`` counts the jobs file's rows (objects) from 1."""

    number: int
    portrait: Path
    out: Path
    audio: Path | None = None
    coeffs: Path | None = None
    options: RenderOptions = RenderOptions()
    yaw: float = 0.0
    pitch: float = 0.0
    zoom: float = 1.0
    orbit: bool = False
    device: str = "auto"
    where: str = field(default="", compare=False)  # "job 2 (line 3)": for messages

    @property
    def pose(self) -> OrbitPose:
        return OrbitPose(self.yaw, self.pitch, self.zoom)

    @property
    def driver(self) -> Path:
        """The speech file, or the coefficient CSV."""
        return self.audio if self.audio is not None else self.coeffs


# ----------------------------------------------------------------------------- reading
def load_jobs(path: str | Path) -> list[Job]:
    """Read and check a jobs file (``.json``: JSON; ``.csv`` or anything else: sniffed, CSV
    unless it starts with ``[``). Raises JobsFileError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise JobsFileError(path, ["not found"]) from None
    except IsADirectoryError:
        raise JobsFileError(path, ["is a folder; give a .csv or .json file"]) from None
    except UnicodeDecodeError:
        raise JobsFileError(path, ["is not a text file (UTF-8 CSV or JSON expected)"]) from None
    except OSError as exc:
        raise JobsFileError(path, [f"cannot be read ({exc.strerror or exc})"]) from None
    as_json = path.suffix.lower() == ".json" or (path.suffix.lower() != ".csv" and text.lstrip().startswith("["))
    records = _json_records(path, text) if as_json else _csv_records(path, text)
    if not records:
        raise JobsFileError(path, ["has no jobs"])
    return parse_records(records, path.parent, path)


def _json_records(path: Path, text: str) -> list[tuple[str, object]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobsFileError(path, [f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]) from None
    if not isinstance(data, list):
        raise JobsFileError(path, ["must hold a JSON list of job objects: [{\"portrait\": ..., ...}, ...]"])
    return [(f"job {i}", item) for i, item in enumerate(data, 1)]


def _csv_records(path: Path, text: str) -> list[tuple[str, object]]:
    """One record per data row; a problem with the header row (an unknown or repeated column)
    is reported once, as a record of its own, and that column is left out of the rows."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise JobsFileError(path, [f"is not a valid CSV (line {reader.line_num}: {exc})"]) from None
    rows = [(line, row) for line, row in rows if any(cell.strip() for cell in row)]  # blank lines
    if not rows:
        return []
    header_line, header = rows[0][0], [h.strip() for h in rows[0][1]]
    keys = [_key(h) for h in header]
    problems = []
    for i, (name, key) in enumerate(zip(header, keys)):
        if name and key not in KNOWN_KEYS:
            problems.append(f"unknown column {name!r} (known: {', '.join(KNOWN_KEYS)})")
        elif name and key in keys[:i]:
            problems.append(f"column {key} appears twice")
        else:
            continue
        keys[i] = None
    records: list[tuple[str, object]] = []
    if problems:
        records.append((f"header (line {header_line})", _Problem("; ".join(problems))))
    for number, (line, row) in enumerate(rows[1:], 1):
        where = f"job {number} (line {line})"
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            records.append((where, _Problem(f"has {len(row)} cells but the header has {len(header)} columns")))
            continue
        records.append((where, {key: cell for key, cell in zip(keys, row) if key}))
    return records


def _key(name: str) -> str:
    return str(name).strip().lower().replace("-", "_")


# ----------------------------------------------------------------------------- checking
def parse_records(records: list[tuple[str, object]], base: Path, source: Path) -> list[Job]:
    """Jobs from ``(where, mapping)`` records; relative paths against ``base``. Raises
    JobsFileError with every problem found."""
    problems: list[str] = []
    jobs: list[Job] = []
    outputs: dict[Path, str] = {}
    number = 0
    for where, item in records:
        if isinstance(item, _Problem) and where.startswith("header"):
            problems.append(f"{where}: {item}")
            continue
        number += 1
        found: list[str] = []
        job = _parse_one(number, where, item, base, found)
        problems += [f"{where}: {p}" for p in found]
        if job is None:
            continue
        other = outputs.setdefault(job.out, where)
        if other != where:
            problems.append(f"{where}: out {job.out} is also the output of {other.split(' (')[0]}")
            continue
        jobs.append(job)
    if problems:
        raise JobsFileError(source, problems)
    return jobs


def _parse_one(number: int, where: str, item: object, base: Path, problems: list[str]) -> Job | None:
    if isinstance(item, _Problem):
        problems.append(item)
        return None
    if not isinstance(item, dict):
        problems.append(f"must be an object with keys such as portrait, audio, out (got {type(item).__name__})")
        return None
    values: dict[str, object] = {}
    for raw_key, value in item.items():
        key = _key(raw_key)
        if key not in KNOWN_KEYS:
            problems.append(f"unknown key {raw_key!r} (known: {', '.join(KNOWN_KEYS)})")
            continue
        if key in values:
            problems.append(f"{key} is given twice")
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # not given
        values[key] = value.strip() if isinstance(value, str) else value

    paths: dict[str, Path] = {}
    for key in PATH_KEYS:
        if key in values:
            if not isinstance(values[key], str):
                problems.append(f"{key} must be a file path (text), got {values[key]!r}")
                continue
            p = Path(os.path.expanduser(values[key]))
            paths[key] = Path(os.path.abspath(p if p.is_absolute() else base / p))
    for key in ("portrait", "out"):
        if key not in values:
            problems.append(f"missing {key}")
    if "audio" in values and "coeffs" in values:
        problems.append("give audio or coeffs, not both")
    elif "audio" not in values and "coeffs" not in values:
        problems.append("missing audio (or coeffs)")

    def number_of(key: str, kind: type, default):
        if key not in values:
            return default
        value = values[key]
        try:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str):
                value = int(value) if kind is int and re.fullmatch(r"[+-]?\d+", value) else float(value)
            if kind is int:
                if float(value) != int(value):
                    raise ValueError
                return int(value)
            value = float(value)
            if not math.isfinite(value):
                raise ValueError
            return value
        except (ValueError, TypeError, OverflowError):
            what = "a whole number" if kind is int else "a number"
            problems.append(f"{key} must be {what}, got {values[key]!r}")
            return _BAD

    defaults = RenderOptions()
    size = number_of("size", int, defaults.size)
    mask_window = number_of("mask_window", int, defaults.mask_window)
    alpha_m = number_of("alpha_m", float, None)
    lambda_exp = number_of("lambda_exp", float, None)
    blink_rate = number_of("blink_rate", float, None)
    head_motion = number_of("head_motion", float, None)
    seed = number_of("seed", int, None)
    yaw = number_of("yaw", float, 0.0)
    pitch = number_of("pitch", float, 0.0)
    zoom = number_of("zoom", float, 1.0)
    if zoom is not _BAD:
        try:
            zoom = checked_zoom(zoom)
        except UserInputError as exc:
            problems.append(str(exc).replace("--zoom", "zoom"))
            zoom = _BAD
    framing = str(values.get("framing") or DEFAULT_FRAMING).strip().lower() or DEFAULT_FRAMING
    gaze = str(values["gaze"]).strip().lower() if values.get("gaze") not in (None, "") else None
    orbit = False
    if "orbit" in values:
        v = values["orbit"]
        if isinstance(v, bool):
            orbit = v
        elif str(v).strip().lower() in _TRUE | _FALSE:
            orbit = str(v).strip().lower() in _TRUE
        else:
            problems.append(f"orbit must be true or false, got {v!r}")
    device = "auto"
    if "device" in values:
        device = str(values["device"]).lower()
        if not _DEVICE.match(device):
            problems.append(f"device must be auto, cpu or cuda, got {values['device']!r}")
    options = None
    if _BAD not in (size, mask_window, alpha_m, lambda_exp, blink_rate, head_motion, seed):
        try:
            options = RenderOptions.from_values(size, alpha_m, lambda_exp, mask_window, framing, blink_rate,
                                                head_motion, seed, gaze)
        except UserInputError as exc:
            # from_values names command-line flags (--mask-window); the jobs file uses key names.
            problems.append(re.sub(r"--([a-z][a-z-]*)", lambda m: m.group(1).replace("-", "_"), str(exc)))
    if problems or options is None or zoom is _BAD:
        return None
    return Job(number, paths["portrait"], paths["out"], paths.get("audio"), paths.get("coeffs"), options,
               yaw, pitch, zoom, orbit, device, where)
