"""Export what you performed, end to end, without a window: play the sample in the viewer's
engine (its render process, its clock and scheduler), drag the head and move the sliders while
it plays, export "what I performed" and compare the video with the frames the viewer showed.

    python tools/measure_performance_export.py [--size 256]

Prints how many frames were shown, dropped and exported, and the mean absolute difference
(levels) between each shown frame and the same frame of the exported MP4 (H.264 at crf 18).
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    import imageio.v3 as iio

    from core.render.camera import OrbitPose
    from core.video import encode_frames
    from viewer.app import ViewerApp

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    app = ViewerApp(device="cpu")
    try:
        deadline = time.time() + 300
        while (app.tasks or not app.ready or app.worker.rendered == 0) and time.time() < deadline:
            app.tick()
            time.sleep(0.02)
        app.set_setting(size=args.size)
        app.session.clock.seek(0.0)
        app.session.clock.play()
        shown: dict[int, np.ndarray] = {}
        duration = app.session.clock.duration
        while app.session.clock.playing:
            t = app.session.clock.time()
            # A drag to the side, a slider move, a drag back up while it plays.
            if t > 0.25 * duration:
                app.set_setting(pose=OrbitPose(22.0, 4.0))
            if t > 0.5 * duration:
                app.set_setting(alpha_m=0.9, lambda_exp=2.2)
            if t > 0.75 * duration:
                app.set_setting(pose=OrbitPose(-18.0, -6.0, 1.2))
            app.tick()
            if app.take_new_frame() is not None and app._shown.request.frame_index is not None:
                shown[app._shown.request.frame_index] = app._shown.image.copy()
            time.sleep(1 / 60)
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "performed.mp4"
            subprocess.run(app.export_command(out, "performance"), check=True, capture_output=True)
            frames = np.stack(list(iio.imiter(out)))
            # What H.264 alone changes: the shown frames through the same encoder.
            encode_frames([shown[k] for k in sorted(shown)], Path(tmp) / "shown.mp4")
            control = np.stack(list(iio.imiter(Path(tmp) / "shown.mp4")))
    finally:
        app.close()
    diffs = [float(np.abs(frames[k].astype(float) - img.astype(float)).mean()) for k, img in sorted(shown.items())
             if k < len(frames)]
    floor = [float(np.abs(c.astype(float) - shown[k].astype(float)).mean())
             for k, c in zip(sorted(shown), control)]
    total = int(round(duration * 25))
    print(f"frames of the audio {total}, shown {len(shown)} (dropped {total - len(shown)}), exported {len(frames)}")
    print(f"shown vs exported, mean abs difference per frame: mean {np.mean(diffs):.2f}, "
          f"max {np.max(diffs):.2f} levels (size {args.size}, H.264 crf 18)")
    print(f"the shown frames through the same encoder: mean {np.mean(floor):.2f}, max {np.max(floor):.2f} levels")
    return 0


if __name__ == "__main__":
    sys.exit(main())
