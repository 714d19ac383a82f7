"""Blinks, gaze and head motion, measured with FaceMesh on our renders and on a real talking video.

Renders >= 60 s of speech (the development speech files, their coefficients concatenated) with
the sample portrait (or ``--portrait``) at 512 px in the photo framing, and measures on the frames:

* blinks per minute and, per blink, the lid gap at its most closed relative to the open gap
  (lid gap / eye width per frame; open = the median; a blink = a run below ``BLINK_BELOW`` of open);
* gaze: the iris centre's place between the eye corners (FaceMesh's refined iris points, in eye
  widths, both eyes averaged; frames in a blink left out): its standard deviation and the
  saccades per minute (a change of more than ``SACCADE_EYE_WIDTHS`` within two frames);
* head roll / yaw / pitch standard deviations (degrees), solvePnP of FaceMesh points against our
  face model's mean face;
* the mean change per frame (0..255 levels) of background and torso pixels far from the neck.

The same FaceMesh measures are taken on the real video. Writes a JSON and a contact sheet.

    python tools/measure_motion.py --out out/motion            # defaults (natural motion)
    python tools/measure_motion.py --blink-rate 0 --head-motion 0 --gaze off --out out/motion_still
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.face import topology as topo  # noqa: E402

BLINK_BELOW = 0.5  # a frame is in a blink when both eyes' mean gap is below this share of open
SACCADE_EYE_WIDTHS = 0.02  # an iris move of more than this (eye widths) within two frames is a saccade
# (FaceMesh's own frame-to-frame noise: 0.002-0.003 median, 0.017-0.019 at the 99th percentile)
CROP_PX = 256  # FaceMesh runs on the face crop resized to this (the face is small in the photo framing)
PNP_IDS = (1, 4, 6, 33, 133, 263, 362, 61, 291, 152, 10, 234, 454, 168, 199, 50, 280, 107, 336)


def shared_dir() -> Path:
    return ROOT.parent / "shared" / "data"


class FaceMeasure:
    """FaceMesh on a fixed crop around the face: eye gaps and head angles per frame."""

    def __init__(self, first: np.ndarray, model_mean: np.ndarray):
        from core.evaluation.lipsync import face_landmarks

        self.face_landmarks = face_landmarks
        pts = face_landmarks(first)
        if pts is None:
            raise SystemExit("no face in the first frame")
        lo, hi = pts[:, :2].min(axis=0), pts[:, :2].max(axis=0)
        c, half = 0.5 * (lo + hi), 0.85 * float((hi - lo).max())
        h, w = first.shape[:2]
        self.box = (int(max(c[0] - half, 0)), int(max(c[1] - half, 0)), int(min(c[0] + half, w)), int(min(c[1] + half, h)))
        self.model = model_mean.astype(np.float64)
        self.face_px = (lo, hi)

    def __call__(self, rgb: np.ndarray) -> tuple[float, float, np.ndarray, np.ndarray] | None:
        """(left gap, right gap, (yaw, pitch, roll) degrees, iris place (h, v) in eye widths) or
        None when FaceMesh finds no face."""
        x0, y0, x1, y1 = self.box
        crop = cv2.resize(rgb[y0:y1, x0:x1], (CROP_PX, CROP_PX), interpolation=cv2.INTER_CUBIC)
        pts = self.face_landmarks(crop)
        if pts is None:
            return None
        gap = lambda a, b, c, d: float(np.linalg.norm(pts[a, :2] - pts[b, :2]) / np.linalg.norm(pts[c, :2] - pts[d, :2]))  # noqa: E731
        left = gap(topo.LEFT_EYE_UPPER_MID, topo.LEFT_EYE_LOWER_MID, 263, 362)
        right = gap(topo.RIGHT_EYE_UPPER_MID, topo.RIGHT_EYE_LOWER_MID, 33, 133)
        f = 3.0 * CROP_PX  # a long lens: the crop is a small part of the frame
        k = np.array([[f, 0, CROP_PX / 2], [0, f, CROP_PX / 2], [0, 0, 1]], np.float64)
        ids = list(PNP_IDS)
        ok, rvec, _ = cv2.solvePnP(self.model[ids], pts[ids, :2].astype(np.float64), k, None, flags=cv2.SOLVEPNP_ITERATIVE)
        r = cv2.Rodrigues(rvec)[0]
        yaw = np.degrees(np.arcsin(np.clip(-r[2, 0], -1, 1)))
        pitch = np.degrees(np.arctan2(r[2, 1], r[2, 2]))
        roll = np.degrees(np.arctan2(r[1, 0], r[0, 0]))
        return left, right, np.array([yaw, pitch, roll]), iris_place(pts)


def iris_place(pts: np.ndarray) -> np.ndarray:
    """Both eyes' iris centre relative to the middle of its eye corners, in eye widths along and
    across the corner line, averaged over the eyes: [2] (h + toward the image's right, v + down)."""
    out = []
    for centre, a, b in ((topo.LEFT_IRIS_CENTER, 362, 263), (topo.RIGHT_IRIS_CENTER, 33, 133)):
        pa, pb = pts[a, :2], pts[b, :2]
        axis = pb - pa
        width = float(np.linalg.norm(axis))
        u = axis / width
        d = pts[centre, :2] - 0.5 * (pa + pb)
        out.append([float(d @ u) / width, float(d @ np.array([-u[1], u[0]])) / width])
    return np.mean(out, axis=0)


def summarise(measures: list, fps: float) -> dict:
    ok = [m for m in measures if m is not None]
    gaps = np.array([0.5 * (m[0] + m[1]) if m is not None else np.nan for m in measures])
    angles = np.array([m[2] for m in ok]) if ok else np.zeros((0, 3))
    # Angles: unwrap pitch about +-180 (the model's z axis points into the head).
    if len(angles):
        angles[:, 1] = (angles[:, 1] + 360) % 360 - 180 if np.abs(angles[:, 1]).mean() > 90 else angles[:, 1]
        angles[:, 1] = np.where(angles[:, 1] > 90, angles[:, 1] - 180, np.where(angles[:, 1] < -90, angles[:, 1] + 180, angles[:, 1]))
    open_gap = float(np.nanmedian(gaps))
    low = np.nan_to_num(gaps / open_gap, nan=1.0) < BLINK_BELOW
    blinks, k = [], 0
    while k < len(low):
        if low[k]:
            j = k
            while j < len(low) and low[j]:
                j += 1
            blinks.append(float(np.nanmin(gaps[k:j]) / open_gap))
            k = j
        else:
            k += 1
    minutes = len(measures) / fps / 60.0
    # Gaze: frames with open eyes only (a closing lid drags FaceMesh's iris point).
    iris = np.array([m[3] if m is not None else (np.nan, np.nan) for m in measures], np.float64)
    iris[np.nan_to_num(gaps / open_gap, nan=0.0) < 0.8] = np.nan
    step = np.abs(iris[2:, 0] - iris[:-2, 0])
    jumps = np.nan_to_num(step, nan=0.0) > SACCADE_EYE_WIDTHS
    saccades = int(np.sum(jumps[1:] & ~jumps[:-1]) + (1 if len(jumps) and jumps[0] else 0))
    return {"frames": len(measures), "faces_found": len(ok), "seconds": len(measures) / fps,
            "gaze_h_std_eye_widths": float(np.nanstd(iris[:, 0])), "gaze_v_std_eye_widths": float(np.nanstd(iris[:, 1])),
            "saccades_per_min": saccades / minutes,
            "blinks_per_min": len(blinks) / minutes, "blink_min_gap_of_open": blinks,
            "blinks_below_30pc": int(sum(b < 0.3 for b in blinks)), "open_gap": open_gap,
            "yaw_std_deg": float(angles[:, 0].std()) if len(angles) else None,
            "pitch_std_deg": float(angles[:, 1].std()) if len(angles) else None,
            "roll_std_deg": float(angles[:, 2].std()) if len(angles) else None,
            "gap_series": [None if np.isnan(g) else round(float(g / open_gap), 3) for g in gaps],
            "iris_h_series": [None if np.isnan(v) else round(float(v), 4) for v in iris[:, 0]]}


def speech_driver(seconds: float) -> np.ndarray:
    from core.audio.audio2exp import coefficients_for_file

    files = sorted((shared_dir() / "speech").glob("*.wav"))
    parts, total = [], 0.0
    while total < seconds:
        for f in files:
            c = coefficients_for_file(f)
            parts.append(c)
            total += len(c) / 25.0
            if total >= seconds:
                break
    return np.concatenate(parts)[: int(seconds * 25)]


def measure_render(args) -> tuple[dict, list[np.ndarray]]:
    from core.engine import Engine, FrameRequest
    from core.face.face_model import load_face_model
    from core.options import RenderOptions
    from core.paths import SAMPLE_PORTRAIT
    from core.preprocess.pipeline import prepare

    subject = prepare(args.portrait or SAMPLE_PORTRAIT).subject
    engine = Engine(subject, device="cpu", renderer=args.renderer)
    driver = speech_driver(args.seconds)
    engine.set_driver(driver)
    options = RenderOptions.from_values(args.size, framing="photo", blink_rate=args.blink_rate,
                                        head_motion=args.head_motion, seed=args.seed, gaze=args.gaze)
    frames, t0 = [], time.perf_counter()
    for k in range(len(driver)):
        frames.append(engine.render(FrameRequest.with_options(options, frame_index=k)))
    render_s = time.perf_counter() - t0
    measure = FaceMeasure(frames[0], load_face_model().mean)
    result = summarise([measure(f) for f in frames], 25.0)
    # Background and torso far from the neck: outside the head-and-neck box (the face box grown
    # by one face height sideways and upward, and down to 1.2 face heights below the chin).
    lo, hi = measure.face_px
    fh = float(hi[1] - lo[1])
    keep = np.ones(frames[0].shape[:2], bool)
    keep[: int(hi[1] + 1.2 * fh), max(int(lo[0] - fh), 0): int(hi[0] + fh)] = False
    stack = np.stack(frames).astype(np.float32)
    change = np.abs(np.diff(stack, axis=0)).mean(axis=3)[:, keep].mean()
    result.update({"background_torso_change_per_frame": float(change), "render_s": render_s,
                   "ms_per_frame": 1000 * render_s / len(frames),
                   "options": {"blink_rate": options.natural.blink_rate, "head_motion": options.natural.head_motion,
                               "seed": options.natural.seed, "gaze": options.natural.gaze, "size": args.size,
                               "renderer": engine.renderer, "portrait": str(args.portrait or "sample")}})
    result["_engine"] = (engine, options, driver)
    return result, frames


def orbit_sheet(engine, options, driver: np.ndarray, path: Path) -> None:
    """Rows: frames at a shut blink, the largest glance away, the largest yaw, roll and pitch of
    the head's motion, and (gaze "camera") the eyes following the camera; columns: orbit yaw
    -30, -15, 0, 15, 30 degrees and pitch 15 (head framing)."""
    from dataclasses import replace

    from core.engine import FrameRequest
    from core.render.camera import OrbitPose

    single = replace(options, mask_window=1)
    faces = [engine.track.frame(FrameRequest.with_options(single, frame_index=k)).current for k in range(len(driver))]
    blink = np.array([f.blink[0] for f in faces])
    head = np.array([f.head for f in faces])
    gaze = np.array([np.hypot(f.gaze[0], f.gaze[1]) for f in faces])
    rows = [(int(np.argmax(blink)), options), (int(np.argmax(gaze)), options), (int(np.argmax(np.abs(head[:, 0]))), options),
            (int(np.argmax(np.abs(head[:, 2]))), options), (int(np.argmax(np.abs(head[:, 1]))), options),
            (int(np.argmax(blink < 0.01)), replace(options, natural=replace(options.natural, gaze="camera")))]
    poses = [OrbitPose(-30, 0), OrbitPose(-15, 0), OrbitPose(0, 0), OrbitPose(15, 0), OrbitPose(30, 0), OrbitPose(0, 15)]
    grid = []
    for k, row_options in rows:
        view = replace(row_options, framing="head", size=256)
        tiles = []
        for pose in poses:
            t = engine.render(FrameRequest.with_options(view, frame_index=k, pose=pose))
            t = np.ascontiguousarray(t)
            label = (f"{k / 25:.1f}s yaw{pose.yaw_deg:+.0f} | head {head[k, 0]:+.1f} {head[k, 1]:+.1f} {head[k, 2]:+.1f}"
                     + (" | eyes on camera" if view.natural.gaze == "camera" else f" | gaze {gaze[k]:.0f}"))
            cv2.putText(t, label, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.3, (255, 255, 0), 1)
            tiles.append(t)
        grid.append(np.concatenate(tiles, axis=1))
    cv2.imwrite(str(path), cv2.cvtColor(np.concatenate(grid, axis=0), cv2.COLOR_RGB2BGR))


def measure_video(path: Path, seconds: float) -> dict:
    from core.face.face_model import load_face_model

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    frames = []
    while len(frames) < seconds * fps:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    measure = FaceMeasure(frames[0], load_face_model().mean)
    out = summarise([measure(f) for f in frames], fps)
    out["fps"] = fps
    return out


def contact_sheet(frames: list[np.ndarray], gaps: list, path: Path) -> None:
    """Frames at the most closed blinks and spread over the render, 2 rows of 6."""
    g = np.array([1.0 if v is None else v for v in gaps])
    closed = [int(i) for i in np.argsort(g)[:40]]
    picks: list[int] = []
    for i in closed:
        if all(abs(i - p) > 10 for p in picks):
            picks.append(i)
        if len(picks) == 4:
            break
    picks += list(np.linspace(0, len(frames) - 1, 8).astype(int))
    tiles = []
    for i in sorted(picks)[:12]:
        t = frames[i].copy()
        cv2.putText(t, f"{i / 25:.1f}s", (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 0), 1)
        tiles.append(t)
    while len(tiles) < 12:
        tiles.append(np.zeros_like(frames[0]))
    sheet = np.concatenate([np.concatenate(tiles[r * 6:(r + 1) * 6], axis=1) for r in range(2)], axis=0)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))


def main() -> int:
    from core.expression.natural import NaturalMotion

    d = NaturalMotion()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--portrait", type=Path, help="portrait (default: the bundled sample)")
    p.add_argument("--renderer", default="auto", help="auto, raster or march")
    p.add_argument("--gaze", default=d.gaze, help="on, off or camera")
    p.add_argument("--blink-rate", type=float, default=d.blink_rate)
    p.add_argument("--head-motion", type=float, default=d.head_motion)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--video", type=Path, default=shared_dir() / "video" / "cap13_edit2.mp4")
    p.add_argument("--no-video", action="store_true", help="skip the real video")
    p.add_argument("--out", type=Path, default=ROOT / "out" / "motion")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    ours, frames = measure_render(args)
    engine, options, driver = ours.pop("_engine")
    report = {"ours": ours}
    (args.out / "motion.json").write_text(json.dumps(report, indent=1))
    contact_sheet(frames, ours["gap_series"], args.out / "blinks_sheet.png")
    orbit_sheet(engine, options, driver, args.out / "orbit_sheet.png")
    if not args.no_video and args.video.exists():
        report["video"] = measure_video(args.video, args.seconds)
    (args.out / "motion.json").write_text(json.dumps(report, indent=1))
    for name, r in report.items():
        print(f"{name}: {r['seconds']:.0f} s, faces {r['faces_found']}/{r['frames']}, blinks/min {r['blinks_per_min']:.1f}, "
              f"below 30 % {r['blinks_below_30pc']}/{len(r['blink_min_gap_of_open'])}, "
              f"yaw std {r['yaw_std_deg']:.2f}, pitch std {r['pitch_std_deg']:.2f}, roll std {r['roll_std_deg']:.2f} deg, "
              f"gaze std {r['gaze_h_std_eye_widths']:.3f} / {r['gaze_v_std_eye_widths']:.3f} eye widths, "
              f"saccades/min {r['saccades_per_min']:.1f}"
              + (f", background/torso change {r['background_torso_change_per_frame']:.3f} levels/frame, "
                 f"{r['ms_per_frame']:.1f} ms/frame" if name == "ours" else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
