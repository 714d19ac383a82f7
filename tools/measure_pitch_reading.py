"""Does FaceMesh read the pitch the renderer turned? A pitch sweep of one portrait.

    python tools/measure_pitch_reading.py [PORTRAIT]   (default: the bundled sample)

The view camera orbits the head by exactly the asked pitch. For each asked pitch the render's
pose offset from its photo view is solved (``measure_head_turn.PoseSolver``: solvePnP of the
face model's rigid vertices) twice: from FaceMesh's landmarks on the render, and from the
render's own geometry (the subject's fitted mesh projected by the view camera). The second turns
with the camera by construction (its gain differs from 1 only by the face model's shape against
the subject's); the first is what ``measure_head_turn.py`` reports as the turn gain.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

PITCHES_DEG = (-20, -10, 10, 20)
SIZE_PX = 384


def main() -> int:
    from measure_head_turn import Landmarker, PoseSolver, orbit_offset, world_view

    from core.audio.motion import MotionParams
    from core.engine import Engine, FrameRequest
    from core.paths import SAMPLE_PORTRAIT
    from core.preprocess.pipeline import prepare
    from core.render.camera import OrbitPose

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLE_PORTRAIT
    subject = prepare(path).subject
    engine = Engine(subject, "cpu")
    landmarker, solver = Landmarker(), PoseSolver()

    def points(pitch: float):
        req = FrameRequest(pose=OrbitPose(0.0, pitch), size=SIZE_PX, framing="photo",
                           motion=MotionParams(alpha_m=0.0), mask_window=1)
        cam = engine.camera(req)
        return landmarker(engine.render(req)), cam.project(subject.mesh.astype(np.float64)), cam.intrinsics

    try:
        seen0, geo0, k0 = points(0.0)
        ref_seen, ref_geo = solver(seen0, k0), solver(geo0, k0)
        for pitch in PITCHES_DEG:
            seen, geo, k = points(float(pitch))
            read = orbit_offset(-ref_seen.translation, world_view(ref_seen, solver(seen, k)))[1] if seen is not None else None
            turned = orbit_offset(-ref_geo.translation, world_view(ref_geo, solver(geo, k)))[1]
            print(f"pitch {pitch:+d}: FaceMesh reads {read:+.2f}, the geometry {turned:+.2f}" if read is not None
                  else f"pitch {pitch:+d}: FaceMesh finds no face; the geometry {turned:+.2f}")
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
