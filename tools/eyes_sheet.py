"""A close-up sheet of the eyes: gaze turns, a blink's phases and the eyes following the camera.

Rows: orbit yaw -30, 0, +30 degrees; columns: the photo's gaze, looking 20 degrees to the
subject's left and right, 12 degrees up and down, a blink at half and full closure, and gaze
"camera" (the eyes turn toward this view). Rendered at 512 px with the face filling the frame
(the portrait cropped around its face, as ``python main.py bench`` does), each tile the crop
around the eyes.

    python tools/eyes_sheet.py --out docs/eyes_sheet.jpg [--portrait FACE.jpg] [--renderer march]
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

COLUMNS = (("photo's gaze", (0.0, 0.0), 0.0, "on"), ("left 20", (20.0, 0.0), 0.0, "on"),
           ("right 20", (-20.0, 0.0), 0.0, "on"), ("up 12", (0.0, 12.0), 0.0, "on"),
           ("down 12", (0.0, -12.0), 0.0, "on"), ("blink 0.5", (0.0, 0.0), 0.5, "on"),
           ("blink 1", (0.0, 0.0), 1.0, "on"), ("eyes on camera", (0.0, 0.0), 0.0, "camera"))
YAWS = (-30.0, 0.0, 30.0)
TILE = (300, 120)  # width, height of the crop around the eyes (output pixels)


def driver_for(gaze: tuple[float, float], blink: float) -> np.ndarray:
    from core.face.arkit import EXPRESSION_INDEX, EYE_LOOK_CHANNELS, NUM_DRIVER_CHANNELS, gaze_to_eye_look

    d = np.zeros((3, NUM_DRIVER_CHANNELS), np.float32)
    d[:, EXPRESSION_INDEX["eyeBlinkLeft"]] = d[:, EXPRESSION_INDEX["eyeBlinkRight"]] = blink
    d[:, EYE_LOOK_CHANNELS] = gaze_to_eye_look(np.array([gaze[0], gaze[1], gaze[0], gaze[1]]))
    return d


def main() -> int:
    from core.bench import make_close_up
    from core.engine import Engine, FrameRequest
    from core.expression.natural import NaturalMotion
    from core.face import topology as topo
    from core.paths import SAMPLE_PORTRAIT
    from core.preprocess.pipeline import prepare
    from core.render.camera import OrbitPose

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--portrait", type=Path, default=SAMPLE_PORTRAIT)
    p.add_argument("--renderer", default="auto")
    p.add_argument("--out", type=Path, default=ROOT / "out" / "eyes_sheet.jpg")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        close_up = make_close_up(args.portrait, prepare(args.portrait).subject, Path(tmp) / "close_up.png")
        subject = prepare(close_up).subject
    engine = Engine(subject, "cpu", renderer=args.renderer)
    renderer = engine.renderer
    eyes_world = subject.head_mesh[[topo.RIGHT_IRIS_CENTER, topo.LEFT_IRIS_CENTER]].astype(np.float64) @ np.asarray(subject.rotation).T + subject.translation
    rows = []
    try:
        for yaw in YAWS:
            tiles = []
            for label, gaze, blink, mode in COLUMNS:
                engine.set_driver(driver_for(gaze, blink))
                req = FrameRequest(pose=OrbitPose(yaw, 0.0), size=512, framing="photo", mask_window=1, frame_index=1,
                                   natural=NaturalMotion(blink_rate=0.0, head_motion=0.0, gaze=mode))
                image = engine.render(req)
                cx, cy = engine.camera(req).project(eyes_world).mean(axis=0).astype(int)
                x0 = int(np.clip(cx - TILE[0] // 2, 0, 512 - TILE[0]))
                y0 = int(np.clip(cy - TILE[1] // 2, 0, 512 - TILE[1]))
                tile = np.ascontiguousarray(image[y0:y0 + TILE[1], x0:x0 + TILE[0]])
                cv2.putText(tile, f"yaw {yaw:+.0f} | {label}", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (255, 255, 0), 1)
                tiles.append(tile)
            rows.append(np.concatenate(tiles, axis=1))
    finally:
        engine.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 88])
    print(f"wrote {args.out} ({renderer})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
