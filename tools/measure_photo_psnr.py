"""Photo reproduction: the photo's view with the photo's expression against the portrait.

    python tools/measure_photo_psnr.py [PORTRAIT ...]   (default: the sample and ../shared/data/faces/*)

For each portrait: PSNR over the face box (the fitted face mesh's box, 4 px margin) between the
render of the photo's framing (its largest square, ``core.render.camera.photo_framing``) at the
square's own size, alpha_m = 0 (the photo's own expression), and that square of the photo; and the
share of pixels there off by more than 30 levels; and the PSNR over the matte's soft edge
(0.05 < alpha < 0.95) in the whole square. Writes photo | render | error x 4 crops to
``--out`` (default out/photo_psnr).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
EDGE_BAND = (0.05, 0.95)  # matte values of the soft edge measured separately
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))


def measure(path: Path, out: Path) -> dict:
    import cv2

    from check_render_quality import face_box
    from core.audio.motion import MotionParams
    from core.engine import Engine, FrameRequest
    from core.preprocess.pipeline import prepare
    from core.preprocess.portrait import load_portrait

    subject = prepare(path).subject
    engine = Engine(subject, "cpu")
    try:
        photo = load_portrait(path).rgb
        side = min(photo.shape[:2])
        request = FrameRequest(framing="photo", size=side, motion=MotionParams(alpha_m=0.0))
        image = engine.render(request)
        x0, y0, x1, y1 = face_box(subject, engine.camera(request))
        square = engine.framings["photo"]
        ox, oy = int(square.x0), int(square.y0)
        ref = photo[oy:oy + side, ox:ox + side]
        ours, theirs = image[y0:y1, x0:x1].astype(float), ref[y0:y1, x0:x1].astype(float)
        mse = float(np.mean((ours - theirs) ** 2))
        err = np.abs(ours - theirs).max(axis=2)
        # The matte's soft edge (hair, shoulders) over the whole square: the person's colour drawn
        # over the background layer must give the photo back there too.
        alpha = subject.relief.alpha[oy:oy + side, ox:ox + side]
        band = (alpha > EDGE_BAND[0]) & (alpha < EDGE_BAND[1])
        edge_mse = float(np.mean((image[band].astype(float) - ref[band].astype(float)) ** 2)) if band.any() else 0.0
        tiles = [ref[y0:y1, x0:x1], image[y0:y1, x0:x1], np.repeat(np.clip(err * 4, 0, 255)[..., None], 3, 2).astype(np.uint8)]
        out.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(out / f"{path.stem}.png"), cv2.cvtColor(np.concatenate(tiles, 1), cv2.COLOR_RGB2BGR))
        return {"portrait": path.name, "psnr_face_db": 10 * np.log10(255.0 ** 2 / max(mse, 1e-9)),
                "off_by_30": float((err > 30).mean()), "edge_psnr_db": 10 * np.log10(255.0 ** 2 / max(edge_mse, 1e-9)),
                "edge_pixels": int(band.sum())}
    finally:
        engine.close()


def main() -> int:
    from core.paths import SAMPLE_PORTRAIT

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("portraits", type=Path, nargs="*")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "photo_psnr")
    args = parser.parse_args()
    faces = ROOT.parent / "shared" / "data" / "faces"
    paths = args.portraits or [SAMPLE_PORTRAIT] + (sorted(faces.iterdir()) if faces.is_dir() else [])
    for path in paths:
        r = measure(path, args.out)
        print(f"{r['portrait']:32s} PSNR {r['psnr_face_db']:.2f} dB over the face box; "
              f"{100 * r['off_by_30']:.2f} % of its pixels off by more than 30; "
              f"matte edge {r['edge_psnr_db']:.2f} dB ({r['edge_pixels']} px)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
