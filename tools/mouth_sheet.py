"""A contact sheet of inner-mouth close-ups: open-mouth frames at the photo's view and +-30 degrees.

    python tools/mouth_sheet.py [--portrait P ...] [--audio SPEECH.wav] [--size 512] [--frames 4]
           [--out docs/mouth_sheet.jpg]

Each portrait (default: the bundled sample and, where ``../shared/data`` exists, a still of the
talking video) is driven by the speech (default: the bundled sample) and rendered at ``--size`` in
the default framing; the ``--frames`` frames with the widest jaw opening (at least 5 frames
apart) are shown as crops around the mouth (twice the mouth's width), rows yaw -30 / 0 / +30,
enlarged 2x with nearest-neighbour so pixels (and stair steps) stay visible.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

YAWS = (-30.0, 0.0, 30.0)
MIN_FRAME_SPACING = 5
CROP_SHARE = (0.30, 0.19)  # crop width, height as shares of the frame (about twice the mouth's width)
ENLARGE = 2


def open_frames(coefficients: np.ndarray, count: int) -> list[int]:
    """The ``count`` frames with the largest jawOpen, at least MIN_FRAME_SPACING apart, in order."""
    from core.face.arkit import EXPRESSION_INDEX

    jaw = coefficients[:, EXPRESSION_INDEX["jawOpen"]]
    picked: list[int] = []
    for k in np.argsort(-jaw):
        if all(abs(int(k) - p) >= MIN_FRAME_SPACING for p in picked):
            picked.append(int(k))
        if len(picked) == count:
            break
    return sorted(picked)


def portrait_rows(portrait: Path, coefficients: np.ndarray, size: int, count: int, cache: Path) -> np.ndarray:
    from core.engine import Engine, FrameRequest
    from core.expression.natural import STILL
    from core.face import topology as topo
    from core.preprocess.pipeline import prepare
    from core.render.camera import OrbitPose

    engine = Engine(prepare(portrait, cache_root=cache).subject, "cpu")
    engine.set_driver(coefficients)
    w, h = int(CROP_SHARE[0] * size), int(CROP_SHARE[1] * size)
    rows = []
    frames = open_frames(coefficients, count)
    try:
        for yaw in YAWS:
            tiles = []
            for k in frames:
                req = FrameRequest(size=size, frame_index=k, pose=OrbitPose(yaw_deg=yaw), natural=STILL)
                image = engine.render(req)
                cam = engine.camera(req)
                lips = engine.mouth.to_world(engine.subject.head_mesh[list(topo.inner_lip_polygon())].astype(np.float64))
                cx, cy = np.round(cam.project(lips).mean(axis=0)).astype(int)
                x0, y0 = int(np.clip(cx - w // 2, 0, size - w)), int(np.clip(cy - h // 2, 0, size - h))
                tile = image[y0:y0 + h, x0:x0 + w]
                tiles.append(cv2.resize(tile, (w * ENLARGE, h * ENLARGE), interpolation=cv2.INTER_NEAREST))
            rows.append(np.concatenate(tiles, axis=1))
    finally:
        engine.close()
    return np.concatenate(rows, axis=0)


def main() -> int:
    from core.audio.audio2exp import coefficients_for_file
    from core.paths import SAMPLE_PORTRAIT, SAMPLE_SPEECH

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portrait", type=Path, nargs="*")
    parser.add_argument("--audio", type=Path, default=SAMPLE_SPEECH)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "mouth_sheet.jpg")
    args = parser.parse_args()
    coefficients = coefficients_for_file(args.audio)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        portraits = args.portrait
        if not portraits:
            from measure_mouth_colour import write_video_still

            still = write_video_still(tmp / "cap13_still.png")
            portraits = [SAMPLE_PORTRAIT] + ([still] if still else [])
        blocks = [portrait_rows(p, coefficients, args.size, args.frames, tmp / "cache") for p in portraits]
    width = max(b.shape[1] for b in blocks)
    sheet = np.concatenate([np.pad(b, ((0, 4), (0, width - b.shape[1]), (0, 0)), constant_values=255) for b in blocks])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    print(f"wrote {args.out} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
