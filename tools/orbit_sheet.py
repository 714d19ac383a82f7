"""Orbit contact sheets: every face over yaw -45..45 by 15 and pitch -25 / 0 / 25, as photographed
and as a tight crop (the face box plus 10 %: the frame cuts hair and chin), to look at.

    python tools/orbit_sheet.py [--faces DIR] [--size 512] [--tile 192] [--renderer auto] [--out out/orbit]

Writes NAME.png and NAME_tight.png per face (rows: pitch +25, 0, -25; columns: yaw -45..45), each
tile rendered at --size in the head framing with the photo's expression and shown at --tile px.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.audio.motion import MotionParams  # noqa: E402
from core.engine import Engine, FrameRequest  # noqa: E402
from core.paths import SAMPLE_PORTRAIT  # noqa: E402
from core.preprocess.pipeline import prepare  # noqa: E402
from core.preprocess.portrait import load_portrait  # noqa: E402
from core.render.camera import OrbitPose  # noqa: E402

YAWS_DEG = tuple(range(-45, 46, 15))
PITCHES_DEG = (25, 0, -25)  # top row seen from above
TIGHT_MARGIN = 0.10  # the tight crop: the face box grown by this share of its size on every side


def tight_crop(portrait: Path, subject, out: Path, margin: float = TIGHT_MARGIN) -> Path:
    """The portrait cropped to its face box (landmark extent) grown by ``margin``; PNG ``out``."""
    uv = subject.intrinsics.project(subject.mesh.astype(np.float64))
    (x0, y0), (x1, y1) = uv.min(axis=0), uv.max(axis=0)
    gx, gy = margin * (x1 - x0), margin * (y1 - y0)
    rgb = load_portrait(portrait).rgb
    h, w = rgb.shape[:2]
    box = (max(int(x0 - gx), 0), max(int(y0 - gy), 0), min(int(np.ceil(x1 + gx)), w), min(int(np.ceil(y1 + gy)), h))
    Image.fromarray(rgb[box[1]:box[3], box[0]:box[2]]).save(out)
    return out


def orbit_sheet(engine: Engine, size: int, tile: int) -> np.ndarray:
    """uint8 [3 tile, 7 tile, 3]: the orbit grid of the photo's expression."""
    rows = []
    for pitch in PITCHES_DEG:
        row = []
        for yaw in YAWS_DEG:
            req = FrameRequest(pose=OrbitPose(float(yaw), float(pitch)), size=size, motion=MotionParams(alpha_m=0.0))
            row.append(cv2.resize(engine.render(req), (tile, tile), interpolation=cv2.INTER_AREA))
        rows.append(np.concatenate(row, axis=1))
    return np.concatenate(rows, axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "faces")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--tile", type=int, default=192)
    ap.add_argument("--renderer", default="auto")
    ap.add_argument("--out", type=Path, default=Path("out/orbit"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    faces = [SAMPLE_PORTRAIT] + (sorted(p for p in args.faces.iterdir() if p.is_file()) if args.faces.is_dir() else [])
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        for face in faces:
            name = face.stem
            try:
                subject = prepare(face, cache_root=cache).subject
            except Exception as err:  # noqa: BLE001 - a face that cannot be prepared is reported, not fatal
                print(f"{name}: {err}")
                continue
            crop = tight_crop(face, subject, Path(tmp) / f"{name}_tight.png")
            for label, portrait in ((name, face), (f"{name}_tight", crop)):
                engine = Engine(prepare(portrait, cache_root=cache).subject, "cpu", renderer=args.renderer)
                path = args.out / f"{label}.png"
                Image.fromarray(orbit_sheet(engine, args.size, args.tile)).save(path)
                engine.close()
                print(path)


if __name__ == "__main__":
    main()
