"""Face height as a share of the frame, measured with FaceMesh on the default view of each portrait.

    python tools/measure_framing.py [--portraits A B ...] [--size 256]

For the bundled sample and every face in ``../shared/data/faces`` (or the given portraits),
renders the photo's view with the photo's expression in both framings and prints the FaceMesh
face height (forehead-to-chin landmark span, as in ``FramingConfig.face_share``) over the frame
height, and the face centre's horizontal position.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACES = ROOT.parent / "shared" / "data" / "faces"


def main() -> int:
    from core.engine import Engine, FrameRequest
    from core.evaluation.lipsync import face_landmarks
    from core.paths import SAMPLE_PORTRAIT
    from core.preprocess.pipeline import prepare

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portraits", type=Path, nargs="+")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    portraits = args.portraits or [SAMPLE_PORTRAIT] + sorted(p for p in FACES.glob("*") if p.is_file())
    print(f"{'portrait':36s} {'framing':8s} {'face/frame':>10s} {'centre x':>9s}")
    for path in portraits:
        engine = Engine(prepare(path).subject, "cpu")
        for framing in ("head", "photo"):
            img = engine.render(FrameRequest(size=args.size, framing=framing, mask_window=1))
            pts = face_landmarks(img)
            if pts is None:
                print(f"{path.name:36s} {framing:8s} {'no face':>10s}")
                continue
            pts = np.asarray(pts, np.float64)[:, :2]
            if pts.max() <= 1.5:  # normalised landmarks
                pts = pts * args.size
            share = float(np.ptp(pts[:, 1])) / args.size
            print(f"{path.name:36s} {framing:8s} {share:10.2f} {pts[:, 0].mean() / args.size:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
