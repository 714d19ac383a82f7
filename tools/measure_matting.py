"""Does the matte reproduce the person's outline? SelfieSegmentation against MODNet.

    python tools/measure_matting.py [PORTRAIT ...]   (default: the sample and ../shared/data/faces/*)

For each portrait and matting method: the photo's view (its largest square, the photo's own
expression) rendered at the square's size and compared with the photo over the outline band:
the pixels within ``BAND_PX`` of either method's matte edge (alpha = 0.5), the same band for both.
A matte that cuts hair tips off shows the inpainted background there; one that takes background
in shows it on the person: both cost PSNR in the band. Also PSNR over the whole square.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BAND_PX = 6
METHODS = ("selfie", "modnet")


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(255.0 ** 2 / max(mse, 1e-9))


def main() -> int:
    import cv2

    from core.audio.motion import MotionParams
    from core.engine import Engine, FrameRequest
    from core.paths import SAMPLE_PORTRAIT
    from core.preprocess.config import PrepareConfig
    from core.preprocess.matting import MattingConfig, matting_method
    from core.preprocess.pipeline import prepare
    from core.preprocess.portrait import load_portrait

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("portraits", type=Path, nargs="*")
    args = parser.parse_args()
    if matting_method() != "modnet":
        sys.exit("MODNet's model is not installed (make setup)")
    faces = ROOT.parent / "shared" / "data" / "faces"
    paths = args.portraits or [SAMPLE_PORTRAIT] + (sorted(faces.iterdir()) if faces.is_dir() else [])
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * BAND_PX + 1, 2 * BAND_PX + 1))
    with tempfile.TemporaryDirectory() as tmp:
        for path in paths:
            photo = load_portrait(path).rgb
            side = min(photo.shape[:2])
            renders, edges = {}, np.zeros(photo.shape[:2], np.uint8)
            for method in METHODS:
                subject = prepare(path, PrepareConfig(matting=MattingConfig(method=method)), cache_root=Path(tmp)).subject
                engine = Engine(subject, "cpu")
                renders[method] = (engine.render(FrameRequest(framing="photo", size=side, motion=MotionParams(alpha_m=0.0))),
                                   engine.framings["photo"])
                engine.close()
                person = (subject.relief.alpha > 0.5).astype(np.uint8)
                edges |= cv2.morphologyEx(person, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
            band_full = cv2.dilate(edges, kernel) > 0
            row = []
            for method in METHODS:
                image, square = renders[method]
                ox, oy = int(square.x0), int(square.y0)
                ref = photo[oy:oy + side, ox:ox + side]
                band = band_full[oy:oy + side, ox:ox + side]
                row.append(f"{method} outline {psnr(image[band], ref[band]):.2f} dB, square {psnr(image, ref):.2f} dB")
            print(f"{path.name:32s} " + "; ".join(row) + f" ({int(band.sum())} px)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
