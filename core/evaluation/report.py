"""The report: ``report.json`` (every figure), ``report.md`` (tables shaped like the paper's,
beside its Table 1 and 2 figures) and contact sheets (PNG) of the rendered views."""
from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from core.evaluation import paper
from core.evaluation.config import EvalConfig
from core.evaluation.lipsync import PhoneApertures, SyncResult
from core.evaluation.multiview import ViewGrid
from core.evaluation.protocol import CONDITIONS, SCALARS, PoseRobustness

TILE_PX = 128          # contact sheet tile side (pixels)
LABEL_PX = 18          # height of the caption strip above each tile
FAIL_COLOUR = (220, 30, 30)   # RGB border of a view where FaceMesh found no face
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
CONTACT_SHEET = "contact_sheet.png"


@dataclass
class PortraitInfo:
    """One evaluated portrait.

    head_yaw_deg:  the photo's head yaw (degrees)
    zoom:          orbit zoom of the evaluation framing
    photo_cpbd:    CPBD of the photo itself at that framing (the paper's "Ground truth" row)
    photo_csim:    dlib cosine of that photo view to the full photo (the resizing's own cost)
    """

    name: str
    head_yaw_deg: float
    zoom: float
    photo_cpbd: float
    photo_csim: float | None
    notes: list[str] = field(default_factory=list)
    photo_tile: np.ndarray | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {"name": self.name, "head_yaw_deg": self.head_yaw_deg, "zoom": self.zoom,
                "photo_cpbd": self.photo_cpbd, "photo_csim": self.photo_csim, "notes": self.notes}


@dataclass
class SpeechInfo:
    """One speech file: seconds used, phone file and count, and the lip-sync stand-ins on the
    driver's jawOpen curve before rendering (``lipsync.SyncResult``, ``lipsync.PhoneApertures``)."""

    name: str
    seconds: float
    phones_file: str | None
    n_phones: int
    driver_sync: SyncResult | None
    driver_closure: PhoneApertures | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "seconds": self.seconds, "phones_file": self.phones_file,
                "n_phones": self.n_phones, "driver_sync": asdict(self.driver_sync) if self.driver_sync else None,
                "driver_jaw_closure": asdict(self.driver_closure) if self.driver_closure else None}


@dataclass
class EvalRun:
    """Everything one ``eval`` run measured."""

    config: EvalConfig
    device: str
    identity_note: str | None           # None when dlib works, else why identity is missing
    portraits: list[PortraitInfo]
    pairs: list[PoseRobustness]
    grids: list[ViewGrid]
    skipped: list[tuple[str, str]] = field(default_factory=list)   # (input, reason)
    seconds: float = 0.0
    speech: list[SpeechInfo] = field(default_factory=list)


# ----------------------------------------------------------------------------- aggregation
def _mean(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(vals)) if vals else None


def _median(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(vals)) if vals else None


MEDIAN_KEYS = frozenset({"sync_lag_ms"})   # lags jump between lag-window ends: median, not mean


def summary(pairs: Sequence[PoseRobustness]) -> dict[str, dict[str, float | None]]:
    """Mean (the lag: median) of every scalar per condition over all portrait x audio pairs, and
    Delta.

    Delta is computed over the pairs where both conditions have the figure (mean of input minus
    flipped), so a figure missing in one clip does not bias it.
    """
    out: dict[str, dict[str, float | None]] = {}
    for cond in CONDITIONS:
        rows = [getattr(p, cond).scalars() for p in pairs]
        out[cond] = {k: (_median if k in MEDIAN_KEYS else _mean)([r[k] for r in rows]) for k in SCALARS}
    out["delta"] = {k: (_median if k in MEDIAN_KEYS else _mean)([p.delta[k] for p in pairs]) for k in SCALARS}
    return out


# ----------------------------------------------------------------------------- formatting
def _fmt(v: float | None, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    return f"{v:.{digits}f}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def _arrow(key: str) -> str:
    better = SCALARS[key][1]
    return "↑" if better else ("↓" if better is False else "")


def _paper_rows() -> list[list[str]]:
    label = {"general": "general (Table 1)", "input pose": "w/ input pose", "h-flipped pose": "w/ h-flipped pose",
             "delta": "Δ"}
    rows = []
    for r in paper.TABLE1 + paper.TABLE2:
        if r.method == "Ground truth":
            continue
        v = r.values()
        rows.append([f"{r.method} (paper)", r.dataset, label[r.condition]] +
                    [_fmt(v[m]) for m in paper.METRICS] + ["", ""])
    return rows


def _our_rows(run: EvalRun) -> list[list[str]]:
    s = summary(run.pairs)
    label = {"input": "w/ input pose", "flipped": "w/ h-flipped pose", "delta": "Δ"}
    rows = []
    for cond in ("input", "flipped", "delta"):
        v = s[cond]
        csim = _fmt(v["csim"]) if run.identity_note is None else "n/a"
        rows.append(["**this program**", "shared/data", label[cond], "—", csim, _fmt(v["cpbd"]), "—", "—",
                     _fmt(v["sync_corr"]), _fmt(v["sync_conf"])])
    gt_cpbd = _mean([p.photo_cpbd for p in run.portraits])
    gt_csim = _mean([p.photo_csim for p in run.portraits]) if run.identity_note is None else None
    rows.append(["photo itself (ground truth)", "shared/data", "same framing", "—", _fmt(gt_csim), _fmt(gt_cpbd),
                 "—", "—", "", ""])
    return rows


def markdown(run: EvalRun) -> str:
    """The human-readable report."""
    cfg = run.config
    lines = ["# Evaluation report", ""]
    lines += [f"{len(run.portraits)} portrait(s) x {len({p.audio for p in run.pairs})} speech file(s) = "
              f"{len(run.pairs)} pair(s); frames {cfg.size} x {cfg.size} px at 25 fps"
              f"{'' if cfg.max_seconds is None else f', audio cut to {cfg.max_seconds:g} s'}; "
              f"face framed to {cfg.face_fraction:.0%} of the frame height; device {run.device}; "
              f"{run.seconds:.0f} s in all.", ""]
    if run.identity_note:
        lines += [f"**Identity (CSIM stand-in): {run.identity_note}**", ""]
    lines += ["## What stands in for what", ""]
    lines += [f"- **{k}**: {v}" for k, v in paper.STAND_INS.items()]
    lines += ["- The paper's numbers are on Unsplash and HDTF with its own models; ours are on the "
              "development faces and speech with stand-in models. Read them side by side for "
              "direction and size of the pose effect, not as a ranking.", ""]
    lines += ["## Pose robustness beside the paper (Tables 1 and 2)", "",
              "Δ = input pose − h-flipped pose (the paper's sign). CSIM of this program is the dlib "
              "stand-in; AV corr / AV conf are the lip-sync stand-ins (no SyncNet, so no LSE).", ""]
    header = ["method", "data", "condition", "FID↓", "CSIM↑", "CPBD↑", "LSE-D↓", "LSE-C↑", "AV corr↑", "AV conf↑"]
    lines += _table(header, _paper_rows() + _our_rows(run)) + [""]

    lines += ["## All figures of this program (means over pairs; AV offset: median)", ""]
    s = summary(run.pairs)
    keys = list(SCALARS)
    header = ["condition"] + [f"{SCALARS[k][0]}{_arrow(k)}" for k in keys]
    rows = [[c] + [_fmt(s[c][k], 1 if k == "sync_lag_ms" else 3) for k in keys] for c in ("input", "flipped", "delta")]
    lines += _table(header, rows) + [""]

    lines += ["## Per portrait and speech file", ""]
    header = ["portrait", "audio", "head yaw", "flip offset", "condition", "frames", "CSIM*↑", "CPBD↑",
              "face found↑", "AV corr↑", "AV offset ms", "AV conf↑", "bilabial/open↓"]
    rows = []
    for p in run.pairs:
        for cond in ("input", "flipped", "delta"):
            v = p.delta if cond == "delta" else getattr(p, cond).scalars()
            frames = "" if cond == "delta" else str(getattr(p, cond).frames)
            offset = f"{p.flip_offset_deg:+.1f}°" + (" (limit)" if p.flip_clamped else "")
            rows.append([p.portrait if cond == "input" else "", p.audio if cond == "input" else "",
                         f"{p.head_yaw_deg:+.1f}°" if cond == "input" else "",
                         offset if cond == "input" else "", "Δ" if cond == "delta" else cond, frames,
                         _fmt(v["csim"]), _fmt(v["cpbd"]), _fmt(v["face_rate"], 2), _fmt(v["sync_corr"]),
                         _fmt(v["sync_lag_ms"], 0), _fmt(v["sync_conf"]), _fmt(v["closure_ratio"])])
    lines += _table(header, rows) + [""]

    if run.grids:
        lines += ["## Multi-view consistency (photo's own expression, no speech)", ""]
        grid0 = run.grids[0]
        yaws = sorted({v.yaw_deg for v in grid0.views})
        pitches = sorted({v.pitch_deg for v in grid0.views})
        lines += [f"Grid: yaw {', '.join(f'{y:+g}' for y in yaws)}° x pitch {', '.join(f'{p:+g}' for p in pitches)}° "
                  "(offsets from the photo's camera). Face found = FaceMesh; CSIM* = dlib cosine to the source "
                  "photo, averaged over the views where dlib found a face.", ""]
        header = ["portrait", "zoom", "face found↑", "dlib found↑", "mean CSIM*↑"] + \
                 [f"CSIM* yaw {y:+g}°" for y in yaws]
        rows = []
        for g in run.grids:
            at0 = {v.yaw_deg: v.csim for v in g.views if v.pitch_deg == 0.0}
            rows.append([g.portrait, f"{g.zoom:.2f}", _fmt(g.detection_rate, 2),
                         _fmt(g.identity_rate, 2) if run.identity_note is None else "n/a",
                         _fmt(g.mean_csim)] + [_fmt(at0.get(y)) for y in yaws])
        lines += _table(header, rows) + [""]

    if run.speech:
        lines += ["## Speech files", "",
                  "The driver row applies the lip-sync stand-in to Audio2Exp's jawOpen curve itself (no "
                  "rendering): the rendered clips can be read against it. On clips of a few seconds the best "
                  "lag is only reliable to about +-80 ms.", ""]
        header = ["audio", "seconds", "phone labels", "driver AV corr", "driver AV offset ms", "driver AV conf",
                  "driver jawOpen bilabial/open"]
        rows = []
        for sp in run.speech:
            d, c = sp.driver_sync, sp.driver_closure
            rows.append([sp.name, f"{sp.seconds:.2f}", f"{sp.phones_file} ({sp.n_phones})" if sp.phones_file else "—",
                         _fmt(d.corr_at_lag if d else None), _fmt(d.lag_ms if d else None, 0),
                         _fmt(d.confidence if d else None), _fmt(c.closure_ratio if c else None)])
        lines += _table(header, rows) + [""]
    lines += ["## Portraits", ""]
    header = ["portrait", "head yaw", "zoom", "photo CPBD", "photo CSIM*", "notes"]
    rows = [[p.name, f"{p.head_yaw_deg:+.1f}°", f"{p.zoom:.2f}", _fmt(p.photo_cpbd), _fmt(p.photo_csim),
             "; ".join(p.notes)] for p in run.portraits]
    lines += _table(header, rows) + [""]
    if run.skipped:
        lines += ["## Skipped inputs", ""] + [f"- `{name}`: {why}" for name, why in run.skipped] + [""]
    lines += [f"Contact sheet: `{CONTACT_SHEET}` (photo view, input pose, flipped pose, yaw sweep at "
              "pitch 0); full view grids: `views_<portrait>.png` (red border: FaceMesh found no face).", ""]
    return "\n".join(lines)


def to_json(run: EvalRun) -> dict:
    """Every figure, machine-readable."""
    return {
        "config": asdict(run.config),
        "device": run.device,
        "platform": platform.platform(),
        "identity_note": run.identity_note,
        "stand_ins": paper.STAND_INS,
        "summary": summary(run.pairs),
        "pairs": [p.to_json() for p in run.pairs],
        "multiview": [g.to_json(run.identity_note is None) for g in run.grids],
        "portraits": [p.to_json() for p in run.portraits],
        "speech": [sp.to_json() for sp in run.speech],
        "skipped": [{"input": n, "reason": r} for n, r in run.skipped],
        "paper": [asdict(r) for r in paper.TABLE1 + paper.TABLE2],
        "seconds": run.seconds,
    }


# ----------------------------------------------------------------------------- images
def _tile(img: np.ndarray | None, caption: str, failed: bool = False) -> np.ndarray:
    """uint8 RGB [LABEL_PX + TILE_PX, TILE_PX, 3]: the image scaled to a tile under a caption."""
    tile = np.full((TILE_PX, TILE_PX, 3), 40, np.uint8) if img is None else \
        cv2.resize(img, (TILE_PX, TILE_PX), interpolation=cv2.INTER_AREA)
    if failed:
        tile = tile.copy()
        cv2.rectangle(tile, (0, 0), (TILE_PX - 1, TILE_PX - 1), FAIL_COLOUR, 3)
    strip = np.full((LABEL_PX, TILE_PX, 3), 255, np.uint8)
    cv2.putText(strip, caption[:22], (3, LABEL_PX - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.36, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, tile])


def contact_sheet(run: EvalRun) -> np.ndarray:
    """One row per portrait: photo view | input pose | flipped pose | yaw sweep at pitch 0."""
    rows = []
    grids = {g.portrait: g for g in run.grids}
    for info in run.portraits:
        pair = next((p for p in run.pairs if p.portrait == info.name), None)
        tiles = [_tile(info.photo_tile, info.name[:22])]
        if pair is not None:
            tiles.append(_tile(pair.stills.get("input"), "input pose"))
            tiles.append(_tile(pair.stills.get("flipped"), f"flipped {pair.flip_offset_deg:+.0f} deg"))
        g = grids.get(info.name)
        if g is not None:
            for v, img in zip(g.views, g.tiles):
                if v.pitch_deg == 0.0:
                    tiles.append(_tile(img, f"yaw {v.yaw_deg:+.0f}", not v.face_found))
        rows.append(tiles)
    if not rows:
        return np.full((LABEL_PX + TILE_PX, TILE_PX, 3), 255, np.uint8)
    width = max(len(r) for r in rows)
    blank = np.full((LABEL_PX + TILE_PX, TILE_PX, 3), 255, np.uint8)
    return np.vstack([np.hstack(r + [blank] * (width - len(r))) for r in rows])


def grid_sheet(grid: ViewGrid) -> np.ndarray:
    """Every view of one portrait: rows = pitch (top: camera highest), columns = yaw."""
    yaws = sorted({v.yaw_deg for v in grid.views})
    pitches = sorted({v.pitch_deg for v in grid.views}, reverse=True)
    cell = {(v.yaw_deg, v.pitch_deg): (v, img) for v, img in zip(grid.views, grid.tiles)}
    rows = []
    for p in pitches:
        row = []
        for y in yaws:
            v, img = cell[(y, p)]
            sim = "" if v.csim is None else f" id {v.csim:.2f}"
            row.append(_tile(img, f"y{y:+.0f} p{p:+.0f}{sim}", not v.face_found))
        rows.append(np.hstack(row))
    return np.vstack(rows)


def _write_png(path: Path, rgb: np.ndarray) -> None:
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"could not write {path}")


def write_report(run: EvalRun, out_dir: Path) -> Path:
    """Write report.json, report.md and the PNG sheets into ``out_dir``; returns report.md's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_finite(to_json(run)), indent=2, default=_json_default, allow_nan=False)
    (out_dir / REPORT_JSON).write_text(text, encoding="utf-8")
    _write_png(out_dir / CONTACT_SHEET, contact_sheet(run))
    for g in run.grids:
        if g.tiles:
            _write_png(out_dir / f"views_{Path(g.portrait).stem}.png", grid_sheet(g))
    md = out_dir / REPORT_MD
    md.write_text(markdown(run), encoding="utf-8")
    return md


def _finite(obj):
    """The same structure with NaN / infinite floats replaced by None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    if isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
        return None
    return obj


def _json_default(obj):
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
