"""Colour of the inner mouth: a real talking video against our render of a still from it.

    python tools/measure_mouth_colour.py [--video ../shared/data/video/cap13_edit2.mp4]
           [--audio SPEECH.wav] [--size 512] [--open 0.04] [--portrait P]

1. Real: every frame of the video through FaceMesh; frames whose inner-lip gap exceeds ``--open``
   of the face height are open-mouth frames; the pixels inside the inner-lip polygon are collected.
2. Ours: the video's most frontal closed-mouth frame is the portrait; it is driven with speech
   (default: the bundled sample) and rendered in the default framing at ``--size``; the same
   FaceMesh measure picks the open-mouth frames and their inner-lip pixels. ``--portrait``
   renders another portrait instead (e.g. the studio-lit sample: its mouth's tones beside the
   webcam's, for reference only).
Prints, for both, the CIELAB lightness L* (0..100) percentiles 10 / 50 / 90 of those pixels
(a real mouth: a dark cavity and bright teeth, so a wide spread) and the overlap of the two L*
histograms (sum of the minimum of the normalised histograms, 1 = identical). For both also the
stair-step measure: the share of gradient energy within 2 degrees of the pixel axes, inside
the inner mouth against the same share on the lips (the ring between the outer and inner lip
contours); smooth edges at any angle give about 4/90 = 0.04. Nothing is written.
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

L_BINS = 32


def inner_mouth_lightness(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """CIELAB L* (0..100) of the pixels inside the inner-lip polygon, float [N]."""
    from core.face import topology as topo

    mask = np.zeros(rgb.shape[:2], np.uint8)
    poly = np.round(points[list(topo.inner_lip_polygon()), :2]).astype(np.int32)
    cv2.fillPoly(mask, [poly], 1)
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    return lab[..., 0][mask > 0]


AXIS_TOLERANCE_DEG = 2.0


def axis_energy(rgb: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """(gradient energy within AXIS_TOLERANCE_DEG of 0 / 90 degrees, all gradient energy) in ``mask``."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1)
    energy = (gx * gx + gy * gy)[mask > 0]
    angle = np.degrees(np.arctan2(gy, gx))[mask > 0] % 90.0
    near = (angle < AXIS_TOLERANCE_DEG) | (angle > 90.0 - AXIS_TOLERANCE_DEG)
    return float(energy[near].sum()), float(energy.sum())


def lip_masks(shape, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(inner mouth, lip ring) masks uint8 [H, W] from FaceMesh points."""
    from core.face import topology as topo

    inner, outer = np.zeros(shape, np.uint8), np.zeros(shape, np.uint8)
    cv2.fillPoly(inner, [np.round(points[list(topo.inner_lip_polygon()), :2]).astype(np.int32)], 1)
    cv2.fillPoly(outer, [np.round(points[list(topo.outer_lip_polygon()), :2]).astype(np.int32)], 1)
    return inner, outer & (1 - inner)


def open_mouth_pixels(frames, open_share: float, steps: list | None = None) -> tuple[np.ndarray, int, int]:
    """L* of the inner-lip pixels of every open-mouth frame; and how many frames were open / had a face.
    ``steps``, when given, collects (axis energy, energy) inside the mouth and on the lips per frame."""
    from core.evaluation.lipsync import aperture_from_landmarks, face_landmarks

    values, n_open, n_face = [], 0, 0
    for rgb in frames:
        pts = face_landmarks(rgb)
        if pts is None:
            continue
        n_face += 1
        if aperture_from_landmarks(pts) > open_share:
            n_open += 1
            values.append(inner_mouth_lightness(rgb, pts))
            if steps is not None:
                inner, ring = lip_masks(rgb.shape[:2], pts)
                steps.append(axis_energy(rgb, inner) + axis_energy(rgb, ring))
    return (np.concatenate(values) if values else np.zeros(0)), n_open, n_face


def write_video_still(out: Path) -> Path | None:
    """The talking video's most frontal closed-mouth frame (``most_frontal_closed_frame``) as a
    PNG at ``out``; None where ``../shared/data`` has no video."""
    import cv2
    import imageio.v3 as iio

    video = Path(__file__).resolve().parents[2] / "shared" / "data" / "video" / "cap13_edit2.mp4"
    if not video.exists():
        return None
    still = most_frontal_closed_frame([np.ascontiguousarray(f[..., :3]) for f in iio.imiter(video)])
    cv2.imwrite(str(out), cv2.cvtColor(still, cv2.COLOR_RGB2BGR))
    return out


def most_frontal_closed_frame(frames) -> np.ndarray:
    """The frame whose face is most frontal (nose tip closest to the eyes' midpoint, across) with
    the mouth closed."""
    from core.evaluation.lipsync import aperture_from_landmarks, face_landmarks
    from core.face import topology as topo

    best, best_score = None, np.inf
    for rgb in frames[::5]:
        pts = face_landmarks(rgb)
        if pts is None or aperture_from_landmarks(pts) > 0.01:
            continue
        eyes = 0.5 * (pts[topo.RIGHT_IRIS_CENTER, :2] + pts[topo.LEFT_IRIS_CENTER, :2])
        width = np.linalg.norm(pts[topo.RIGHT_IRIS_CENTER, :2] - pts[topo.LEFT_IRIS_CENTER, :2])
        score = abs(pts[topo.NOSE_TIP, 0] - eyes[0]) / max(width, 1e-6)
        if score < best_score:
            best, best_score = rgb, score
    if best is None:
        raise SystemExit("no frontal closed-mouth frame found in the video")
    return best


def summary(name: str, lightness: np.ndarray, n_open: int, n_face: int) -> np.ndarray:
    hist = np.histogram(lightness, bins=L_BINS, range=(0, 100))[0].astype(float)
    hist /= max(hist.sum(), 1.0)
    if lightness.size:
        p10, p50, p90 = np.percentile(lightness, [10, 50, 90])
        print(f"{name:6s} open-mouth frames {n_open:4d} of {n_face:4d} with a face; "
              f"L* p10 {p10:5.1f}  p50 {p50:5.1f}  p90 {p90:5.1f}  ({lightness.size} px)")
    else:
        print(f"{name:6s} no open-mouth frames ({n_face} frames with a face)")
    return hist


def main() -> int:
    import imageio.v3 as iio

    from core.audio.audio2exp import coefficients_for_file
    from core.engine import Engine, FrameRequest
    from core.paths import SAMPLE_SPEECH
    from core.preprocess.pipeline import prepare

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=ROOT.parent / "shared" / "data" / "video" / "cap13_edit2.mp4")
    parser.add_argument("--audio", type=Path, default=SAMPLE_SPEECH)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--open", type=float, default=0.04, help="inner-lip gap / face height of an open mouth")
    parser.add_argument("--portrait", type=Path, help="render this portrait instead of the video's still")
    args = parser.parse_args()
    frames = [np.ascontiguousarray(f[..., :3]) for f in iio.imiter(args.video)]
    real_steps: list = []
    real = summary("real", *open_mouth_pixels(frames, args.open, real_steps))
    with tempfile.TemporaryDirectory() as tmp:
        portrait = args.portrait
        if portrait is None:
            portrait = Path(tmp) / "still.png"
            cv2.imwrite(str(portrait), cv2.cvtColor(most_frontal_closed_frame(frames), cv2.COLOR_RGB2BGR))
        engine = Engine(prepare(portrait, cache_root=Path(tmp) / "cache").subject, "cpu")
    engine.set_driver(coefficients_for_file(args.audio))
    rendered = (engine.render(FrameRequest(size=args.size, frame_index=k)) for k in range(engine.num_frames))
    steps: list = []
    ours = summary("ours", *open_mouth_pixels(rendered, args.open, steps))
    print(f"L* histogram overlap ({L_BINS} bins): {np.minimum(real, ours).sum():.2f}")
    for name, collected in (("real", real_steps), ("ours", steps)):
        if collected:
            a = np.array(collected).sum(axis=0)
            print(f"{name}: gradient energy within {AXIS_TOLERANCE_DEG:.0f} deg of the pixel axes: inner mouth "
                  f"{a[0] / max(a[1], 1e-9):.3f}, lips {a[2] / max(a[3], 1e-9):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
