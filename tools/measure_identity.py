"""Novel views stay the same person: dlib identity distance of rendered views to the photo.

    python tools/measure_identity.py [--faces DIR] [--size 256] [--renderers raster,march]

For the bundled sample and every face in --faces (default ../shared/data/faces): the 128-D dlib
embedding of the photo against that of renders at yaw -30 / +30 (pitch 0) and pitch -15 / +15
(yaw 0), photo expression, head framing. Euclidean distance (dlib's same-person threshold is
0.6; a photo and its mirror image are about 0.19 apart). With ``--jitter D`` each view is the
median over it and four views D degrees off (yaw and pitch, both signs). Prints JSON per face
and renderer.
Needs ``make eval-setup`` (dlib).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.audio.motion import MotionParams  # noqa: E402
from core.engine import Engine, FrameRequest  # noqa: E402
from core.evaluation.identity import load_identity_model, unavailable_reason  # noqa: E402
from core.paths import SAMPLE_PORTRAIT  # noqa: E402
from core.preprocess.pipeline import prepare  # noqa: E402
from core.preprocess.portrait import load_portrait  # noqa: E402
from core.render.camera import OrbitPose  # noqa: E402

VIEWS = {"yaw-30": OrbitPose(-30.0, 0.0), "yaw+30": OrbitPose(30.0, 0.0),
         "pitch-15": OrbitPose(0.0, -15.0), "pitch+15": OrbitPose(0.0, 15.0)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--faces", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "faces")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--renderers", default="raster,march")
    ap.add_argument("--jitter", type=float, default=0.0,
                    help="also render each view this many degrees off in yaw and in pitch (both signs) and "
                         "report the median over the five: dlib's distance near profile jumps between frames "
                         "a viewer cannot tell apart")
    args = ap.parse_args()
    model = load_identity_model()
    if model is None:
        sys.exit(f"no identity model: {unavailable_reason()}")
    faces = [SAMPLE_PORTRAIT] + (sorted(p for p in args.faces.iterdir() if p.is_file()) if args.faces.is_dir() else [])
    report = {}
    for face in faces:
        photo = model.embed(load_portrait(face).rgb)
        if photo is None:
            report[face.name] = "dlib finds no face in the photo"
            continue
        subject = prepare(face).subject
        for renderer in args.renderers.split(","):
            engine = Engine(subject, "cpu", renderer=renderer)
            row = {}
            for name, pose in VIEWS.items():
                j = args.jitter
                poses = [pose] + ([OrbitPose(pose.yaw_deg + dy, pose.pitch_deg + dp)
                                   for dy, dp in ((j, 0), (-j, 0), (0, j), (0, -j))] if j > 0 else [])
                found = []
                for p in poses:
                    emb = model.embed(engine.render(FrameRequest(pose=p, size=args.size, motion=MotionParams(alpha_m=0.0))))
                    if emb is not None:
                        found.append(float(np.linalg.norm(emb.vector - photo.vector)))
                row[name] = round(float(np.median(found)), 3) if found else None
            found = [v for v in row.values() if v is not None]
            row["mean"] = round(float(np.mean(found)), 3) if found else None
            report.setdefault(face.name, {})[renderer] = row
            engine.close()
        print(face.name, json.dumps(report[face.name]), file=sys.stderr)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
