"""Render a fixed set of frames per portrait and compare two such sets (refactor checks).

    python tools/compare_renders.py capture OUT.npz [--portraits A B ...] [--size 256]
    python tools/compare_renders.py compare BEFORE.npz AFTER.npz

``capture`` renders, for the bundled sample and every face in ``../shared/data/faces`` (or the
given portraits), the photo view and an orbit grid (yaw -30..30 by 15, pitch -15/0/15), each at
a speaking frame of the bundled speech, with the default motion parameters and mask window.
``compare`` prints the mean absolute difference (levels) and the share of pixels off by more
than 30 levels, per portrait and view, and the worst mean. Only the engine's stable interface
is used (``Engine(subject)``, ``set_driver``, ``render(FrameRequest(...))``), so the same script
captures before and after a change. Give each capture its own fresh ``--cache-dir``: a subject
built in the same run renders with its float32 matte, one loaded from the cache with the float16
one it was stored as (at most a level on a few pixels).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FACES = ROOT.parent / "shared" / "data" / "faces"
YAWS = (-30.0, -15.0, 0.0, 15.0, 30.0)
PITCHES = (-15.0, 0.0, 15.0)
FRAMES = (12, 30, 55)  # driver frames of the sample speech (speaking, some open)


def _portraits(given: list[Path] | None) -> list[Path]:
    from core.paths import SAMPLE_PORTRAIT

    if given:
        return list(given)
    faces = sorted(FACES.glob("*")) if FACES.is_dir() else []
    return [SAMPLE_PORTRAIT] + [f for f in faces if f.is_file()]


def capture(out: Path, portraits: list[Path] | None, size: int, cache_dir: Path | None) -> None:
    from core.audio.audio2exp import coefficients_for_file
    from core.engine import Engine, FrameRequest
    from core.paths import SAMPLE_SPEECH
    from core.preprocess.pipeline import prepare
    from core.render.camera import OrbitPose

    driver = coefficients_for_file(SAMPLE_SPEECH)
    # The photo framing where the engine has a choice (it was the only one before).
    fixed = {"framing": "photo"} if "framing" in FrameRequest.__dataclass_fields__ else {}
    images: dict[str, np.ndarray] = {}
    for path in _portraits(portraits):
        subject = prepare(path, cache_root=cache_dir).subject
        engine = Engine(subject, "cpu")
        engine.set_driver(driver)
        for frame in FRAMES:
            for yaw in YAWS:
                for pitch in PITCHES:
                    request = FrameRequest(pose=OrbitPose(yaw, pitch), size=size, frame_index=frame, **fixed)
                    images[f"{path.name}|f{frame}|y{yaw:+.0f}|p{pitch:+.0f}"] = engine.render(request)
        print(f"captured {path.name}", flush=True)
    np.savez_compressed(out, **images)


def compare(before: Path, after: Path) -> int:
    a, b = np.load(before), np.load(after)
    missing = sorted(set(a.files) ^ set(b.files))
    if missing:
        print(f"keys differ: {missing[:5]} ...")
        return 1
    by_portrait: dict[str, list[tuple[float, float]]] = {}
    worst = (0.0, "")
    for key in a.files:
        diff = np.abs(a[key].astype(np.int16) - b[key].astype(np.int16))
        mean, off = float(diff.mean()), float((diff.max(axis=-1) > 30).mean())
        by_portrait.setdefault(key.split("|")[0], []).append((mean, off))
        worst = max(worst, (mean, key))
    print(f"{'portrait':40s} {'views':>5s} {'mean diff':>10s} {'max view':>9s} {'px >30':>8s}")
    for name, rows in by_portrait.items():
        means, offs = np.array(rows).T
        print(f"{name:40s} {len(rows):5d} {means.mean():10.4f} {means.max():9.4f} {offs.mean() * 100:7.3f}%")
    print(f"worst view: {worst[1]} mean {worst[0]:.4f} levels")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("capture")
    c.add_argument("out", type=Path)
    c.add_argument("--portraits", type=Path, nargs="+")
    c.add_argument("--size", type=int, default=256)
    c.add_argument("--cache-dir", type=Path)
    d = sub.add_parser("compare")
    d.add_argument("before", type=Path)
    d.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "capture":
        capture(args.out, args.portraits, args.size, args.cache_dir)
        return 0
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
