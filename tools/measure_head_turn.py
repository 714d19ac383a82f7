"""Does the head turn by what is asked? Renders compared with real turned heads (issue 13).

    python tools/measure_head_turn.py [--video MP4] [--step 5] [--max-frames N] [--size PX]
           [--renderer auto|raster|march] [--portrait frontal|median|K]
           [--out report.json] [--frames-out frames.json] [--sheet sheet.png]

1. FaceMesh on every ``--step``-th frame of the video (and the frame after it); the head pose of
   each frame by ``cv2.solvePnP`` of the face model's rigid vertices (forehead, nose, temples:
   ``core.face.face_model`` mean, cm) under the project's pinhole camera (``CameraConfig.fov_deg``).
2. The most frontal frame with open eyes and a nearly closed mouth becomes the portrait
   (``prepare`` in a temporary cache); ``--portrait median`` takes the one nearest the video's
   median view instead (offsets of both signs), ``--portrait K`` frame K.
3. Each other sampled frame gives a view: the direction from the head to the camera in the head
   frame, turned into the portrait's camera frame, is the orbit offset (yaw, pitch) that
   ``core.render.camera.view_camera`` needs to look at the portrait's head from there (roll and
   distance are left to the 2D alignment). A real head turning to its right (its left cheek
   toward the camera) is the camera moving toward the subject's left: a positive orbit yaw.
4. The view is rendered with the photo's expression (alpha_m = 0) and measured again:
   * turn gain: the render's own pose offset (solvePnP against the render at the photo's view)
     against the asked offset; least-squares slope through the origin, R^2, and the median of the
     per-frame ratios where the asked angle is at least ``GAIN_MIN_DEG``;
   * landmark error: the render's landmarks similarity-aligned (least squares on the four eye
     corners and two mouth corners) onto the real frame's, mean distance over the real frame's
     inter-ocular distance (outer eye corners), on the 468 mesh points without the lips ("face")
     and on the rigid points only ("rigid").
   Baselines with the same alignment and points: "warp", the portrait's own landmarks (the photo
   warped by a 2D similarity); "floor", the real frame against the frame after it. The same
   bins again over the real frames with a closed mouth (the photo's expression, no speech).
Results per |asked yaw| bin and overall go to stdout as JSON (and ``--out``); ``--sheet`` writes
real frame / render / 2D warp side by side for a few poses, the real landmarks in red and the
render's aligned landmarks in green on the real frame.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.face import topology as topo

SHARED_DATA = Path(os.environ.get("NFS_SHARED_DATA") or ROOT.parent / "shared" / "data")
VIDEO = SHARED_DATA / "video" / "cap13_edit2.mp4"

ALIGN_POINTS = (topo.RIGHT_EYE_UPPER[0], topo.RIGHT_EYE_UPPER[-1], topo.LEFT_EYE_UPPER[-1],
                topo.LEFT_EYE_UPPER[0], topo.MOUTH_CORNER_RIGHT, topo.MOUTH_CORNER_LEFT)
"""Outer/inner right eye corner, inner/outer left eye corner, right/left mouth corner."""
OUTER_EYE_CORNERS = (topo.RIGHT_EYE_UPPER[0], topo.LEFT_EYE_UPPER[0])
LIP_POINTS = frozenset(topo.LIP_OUTER_UPPER + topo.LIP_OUTER_LOWER + topo.LIP_INNER_UPPER
                       + topo.LIP_INNER_LOWER)
FACE_POINTS = np.array([i for i in range(topo.NUM_MESH_VERTICES) if i not in LIP_POINTS])
"""The error points: the mesh without the lips (the expression differs there) and the irises."""

YAW_BINS_DEG = (0.0, 5.0, 10.0, 20.0, math.inf)  # bins of |asked yaw|
GAIN_MIN_DEG = 5.0  # per-frame ratios only where |asked| is at least this
FRONTAL_MOUTH_MAX = 0.08  # portrait: inner-lip gap / mouth width at most this ...
FRONTAL_EYE_SHARE = 0.8  # ... and eye opening at least this share of the video's median
MOUTH_CLOSED_MAX = 0.05  # real frames with at most this mouth opening: the errors again without speech
SWEEP_YAW_DEG = (-30.0, -20.0, -10.0, 10.0, 20.0, 30.0)  # render-only sweeps (no real frame): the
SWEEP_PITCH_DEG = (-20.0, -10.0, 10.0, 20.0)  # gain past the video's poses and the signs of each axis
SHEET_ROWS = 6
SHEET_TILE_PX = 256


# ----------------------------------------------------------------------------- pure maths
def similarity_2d(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares 2D similarity (rotation, uniform scale, translation) with dst ~ M @ [src, 1].

    src, dst: float [N, 2] (N >= 2). Returns float64 [2, 3] (the form of cv2.warpAffine).
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    # dst ~ [[p, -q], [q, p]] src: p = sum(a.b) / sum|a|^2, q = sum(a x b) / sum|a|^2
    norm = float((a * a).sum())
    p = float((a * b).sum()) / norm
    q = float((a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]).sum()) / norm
    lin = np.array([[p, -q], [q, p]])
    return np.hstack([lin, (mu_d - lin @ mu_s)[:, None]])


def apply_affine(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """[2, 3] affine applied to points [N, 2] -> [N, 2]."""
    return np.asarray(points, np.float64) @ matrix[:, :2].T + matrix[:, 2]


def inter_ocular(points: np.ndarray) -> float:
    """Distance between the outer eye corners of FaceMesh points [478, >=2] (pixels)."""
    return float(np.linalg.norm(points[OUTER_EYE_CORNERS[0], :2] - points[OUTER_EYE_CORNERS[1], :2]))


def aligned_error(moving: np.ndarray, target: np.ndarray, subset: np.ndarray = FACE_POINTS) -> float:
    """Mean landmark distance over the target's inter-ocular distance after aligning ``moving``
    onto ``target`` by the similarity of their ``ALIGN_POINTS``. moving, target: [478, >=2] px."""
    moving, target = np.asarray(moving)[:, :2], np.asarray(target)[:, :2]
    m = similarity_2d(moving[list(ALIGN_POINTS)], target[list(ALIGN_POINTS)])
    dist = np.linalg.norm(apply_affine(m, moving[subset]) - target[subset], axis=1)
    return float(dist.mean() / inter_ocular(target))


def camera_in_head(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """Camera centre in the head frame, float64 [3] (cm), of a head pose x_cam = R x_head + t."""
    return -np.asarray(rotation, np.float64).T @ np.asarray(translation, np.float64)


def view_angles(direction: np.ndarray) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of a direction [3] in a frame with x the subject's left,
    y down, z into the head: azimuth > 0 toward the subject's left, elevation > 0 from above."""
    x, y, z = np.asarray(direction, np.float64)
    return math.degrees(math.atan2(x, -z)), math.degrees(math.atan2(-y, math.hypot(x, z)))


def orbit_offset(start: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """The orbit (yaw, pitch) in degrees with ``orbit_rotation(yaw, pitch) @ start`` along ``target``.

    start, target: [3] directions from the pivot to the camera in the photo's camera frame (the
    start is the photo's camera, -pivot). Exact inverse of ``core.render.camera.orbit_rotation``
    (R_y(-yaw) @ R_x(-pitch)): the pitch b = -pitch brings start's height to target's, then the
    yaw turns it about the vertical onto the target.
    """
    s = np.asarray(start, np.float64) / np.linalg.norm(start)
    w = np.asarray(target, np.float64) / np.linalg.norm(target)
    # R_x(b) s has y = cos(b) s_y - sin(b) s_z = r cos(b - phi)
    r, phi = math.hypot(s[1], s[2]), math.atan2(-s[2], s[1])
    c = float(np.clip(w[1] / r, -1.0, 1.0))
    candidates = [phi + math.acos(c), phi - math.acos(c)]
    b = min(candidates, key=lambda v: abs(math.remainder(v, 2 * math.pi)))
    b = math.remainder(b, 2 * math.pi)
    v = np.array([s[0], math.cos(b) * s[1] - math.sin(b) * s[2], math.sin(b) * s[1] + math.cos(b) * s[2]])
    a = math.atan2(w[0], w[2]) - math.atan2(v[0], v[2])  # R_y(a): angle atan2(x, z) grows by a
    return -math.degrees(math.remainder(a, 2 * math.pi)), -math.degrees(b)


def turn_gain(asked: np.ndarray, measured: np.ndarray, min_deg: float = GAIN_MIN_DEG) -> dict:
    """How far the render turns per degree asked. asked, measured: float [N] (degrees).

    slope: least squares through the origin; r2: 1 - residual / total variance of ``measured``
    about its mean under that line; median_ratio: median of measured / asked where |asked| >=
    ``min_deg`` (None when there is no such frame); slope_with_offset, offset_deg, r2_with_offset:
    the least-squares line measured = slope * asked + offset (a constant bias of the pose
    measurement between renders and real frames goes into the offset).
    """
    a, m = np.asarray(asked, np.float64), np.asarray(measured, np.float64)
    ok = np.isfinite(a) & np.isfinite(m)
    a, m = a[ok], m[ok]
    slope = float((a * m).sum() / (a * a).sum()) if (a * a).sum() > 0 else float("nan")
    total = float(((m - m.mean()) ** 2).sum()) if m.size else 0.0
    r2 = 1.0 - float(((m - slope * a) ** 2).sum()) / total if total > 0 else float("nan")
    big = np.abs(a) >= min_deg
    ratio = float(np.median(m[big] / a[big])) if big.any() else None
    if a.size >= 2 and np.ptp(a) > 0:
        gain, offset = np.polyfit(a, m, 1)
        r2_line = 1.0 - float(((m - gain * a - offset) ** 2).sum()) / total if total > 0 else float("nan")
    else:
        gain = offset = r2_line = float("nan")
    return {"slope": slope, "r2": r2, "median_ratio": ratio, "slope_with_offset": float(gain),
            "offset_deg": float(offset), "r2_with_offset": r2_line, "n": int(a.size),
            "n_ratio": int(big.sum()), "asked_range_deg": [float(a.min()), float(a.max())] if a.size else None}


def bin_label(lo: float, hi: float) -> str:
    return f"|yaw| >= {lo:g}" if math.isinf(hi) else f"{lo:g} <= |yaw| < {hi:g}"


def binned_errors(abs_yaw: np.ndarray, errors: dict[str, np.ndarray],
                  edges: tuple[float, ...] = YAW_BINS_DEG) -> dict[str, dict]:
    """Mean (and median) of each error series per |yaw| bin and overall. abs_yaw [N] deg;
    errors: name -> float [N] (NaN = missing)."""
    abs_yaw = np.asarray(abs_yaw, np.float64)
    groups = [(bin_label(lo, hi), (abs_yaw >= lo) & (abs_yaw < hi)) for lo, hi in itertools.pairwise(edges)]
    groups.append(("all", np.ones_like(abs_yaw, bool)))
    out = {}
    for label, sel in groups:
        row: dict = {"n": int(sel.sum())}
        for name, values in errors.items():
            v = np.asarray(values, np.float64)[sel]
            v = v[np.isfinite(v)]
            row[name] = {"mean": float(v.mean()), "median": float(np.median(v))} if v.size else None
        out[label] = row
    return out


# ----------------------------------------------------------------------------- measuring
class Landmarker:
    """One FaceMesh graph (static images, refined irises) reused for every image."""

    def __init__(self):
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                                     refine_landmarks=True, min_detection_confidence=0.5)

    def __call__(self, rgb: np.ndarray) -> np.ndarray | None:
        """uint8 RGB [H, W, 3] -> float64 [478, 2] pixels (the project's convention), or None."""
        h, w = rgb.shape[:2]
        result = self._mesh.process(np.ascontiguousarray(rgb))
        if not result.multi_face_landmarks:
            return None
        return np.array([[p.x * w, p.y * h] for p in result.multi_face_landmarks[0].landmark])

    def close(self) -> None:
        self._mesh.close()


@dataclass
class HeadPose:
    """rotation float64 [3, 3] head -> camera; translation float64 [3] cm; reprojection_px mean."""

    rotation: np.ndarray
    translation: np.ndarray
    reprojection_px: float

    @property
    def camera(self) -> np.ndarray:
        return camera_in_head(self.rotation, self.translation)


class PoseSolver:
    """Head pose from FaceMesh points by solvePnP of the face model's rigid vertices."""

    def __init__(self):
        from core.face.face_model import load_face_model
        from core.preprocess.face_fit import rigid_vertices

        model = load_face_model()
        self.rigid = np.flatnonzero(rigid_vertices(model))
        self.object = model.mean.astype(np.float64)[self.rigid]

    def __call__(self, points: np.ndarray, intrinsics) -> HeadPose:
        """points [478, 2] px in an image with ``core.geometry.pinhole.Intrinsics``."""
        import cv2

        k = np.array([[intrinsics.focal_px, 0, intrinsics.cx], [0, intrinsics.focal_px, intrinsics.cy], [0, 0, 1]])
        img = np.ascontiguousarray(points[self.rigid, :2], np.float64)
        ok, rvec, tvec = cv2.solvePnP(self.object, img, k, None, flags=cv2.SOLVEPNP_SQPNP)
        if not ok:
            raise RuntimeError("solvePnP failed")
        rvec, tvec = cv2.solvePnPRefineLM(self.object, img, k, None, rvec, tvec)
        proj, _ = cv2.projectPoints(self.object, rvec, tvec, k, None)
        err = float(np.linalg.norm(proj[:, 0] - img, axis=1).mean())
        return HeadPose(cv2.Rodrigues(rvec)[0], tvec[:, 0], err)


def eye_opening(points: np.ndarray) -> float:
    """Mean lid gap over eye width of both eyes."""
    def one(up, low, outer, inner):
        return np.linalg.norm(points[up] - points[low]) / np.linalg.norm(points[outer] - points[inner])
    return 0.5 * float(one(topo.RIGHT_EYE_UPPER_MID, topo.RIGHT_EYE_LOWER_MID, topo.RIGHT_EYE_UPPER[0], topo.RIGHT_EYE_UPPER[-1])
                       + one(topo.LEFT_EYE_UPPER_MID, topo.LEFT_EYE_LOWER_MID, topo.LEFT_EYE_UPPER[0], topo.LEFT_EYE_UPPER[-1]))


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap over mouth width."""
    return float(np.linalg.norm(points[topo.UPPER_LIP_INNER_MID] - points[topo.LOWER_LIP_INNER_MID])
                 / np.linalg.norm(points[topo.MOUTH_CORNER_RIGHT] - points[topo.MOUTH_CORNER_LEFT]))


def pick_portrait(poses: dict[int, HeadPose], marks: dict[int, np.ndarray], how: str = "frontal") -> int:
    """Among the sampled frames with open eyes and a nearly closed mouth (all frames when none
    qualifies): "frontal", the one whose camera is closest to straight ahead of the face;
    "median", the one closest to the video's median view (offsets of both signs on each axis)."""
    eyes = {k: eye_opening(p) for k, p in marks.items()}
    median_eye = float(np.median(list(eyes.values())))
    good = [k for k in poses if eyes[k] >= FRONTAL_EYE_SHARE * median_eye and mouth_opening(marks[k]) <= FRONTAL_MOUTH_MAX]
    views = {k: np.array(view_angles(poses[k].camera)) for k in poses}
    centre = np.zeros(2) if how == "frontal" else np.median(np.array(list(views.values())), axis=0)
    return min(good or list(poses), key=lambda k: float(np.linalg.norm(views[k] - centre)))


def world_view(reference: HeadPose, pose: HeadPose) -> np.ndarray:
    """Direction [3] from the head to the camera of ``pose``, in the camera frame of ``reference``
    (the head held as it is there)."""
    return reference.rotation @ pose.camera


def read_frames(path: Path) -> np.ndarray:
    """uint8 [T, H, W, 3]."""
    import imageio.v3 as iio

    return iio.imread(path)


def crop_square(rgb: np.ndarray, framing) -> np.ndarray:
    """The photo framing's square of an image of the portrait's size (rounded to pixels)."""
    x0, y0, side = round(framing.x0), round(framing.y0), round(framing.side)
    return rgb[y0:y0 + side, x0:x0 + side]


def contact_sheet(rows: list[dict], path: Path) -> None:
    """Rows of real | render | 2D warp tiles (SHEET_TILE_PX each) with labels."""
    import cv2

    tiles = []
    for row in rows:
        cells = []
        for name in ("real", "render", "warp"):
            img = cv2.resize(row[name], (SHEET_TILE_PX, SHEET_TILE_PX), interpolation=cv2.INTER_AREA)
            img = np.ascontiguousarray(img)
            cv2.putText(img, name, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 0), 1, cv2.LINE_AA)
            cells.append(img)
        label = np.zeros((18, SHEET_TILE_PX * 3, 3), np.uint8)
        cv2.putText(label, row["label"], (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
        tiles.append(np.vstack([label, np.hstack(cells)]))
    import imageio.v3 as iio

    iio.imwrite(path, np.vstack(tiles))


def sheet_rows(rows: list[dict], count: int = SHEET_ROWS) -> list[dict]:
    """Frames for the contact sheet: the nearest to evenly spaced asked yaws over their range,
    then the lowest and highest asked pitch (no frame twice)."""
    yaws = np.array([r["asked_yaw"] for r in rows])
    picks: list[int] = []
    for target in np.linspace(yaws.min(), yaws.max(), max(1, count - 2)):
        picks.append(int(np.argmin(np.abs(yaws - target))))
    pitches = np.array([r["asked_pitch"] for r in rows])
    picks += [int(np.argmin(pitches)), int(np.argmax(pitches))]
    return [rows[i] for i in dict.fromkeys(picks)]


def draw_points(rgb: np.ndarray, points: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    import cv2

    out = np.ascontiguousarray(rgb.copy())
    for u, v in points:
        cv2.circle(out, (round(u), round(v)), 1, colour, -1)
    return out


def run(args) -> dict:
    import cv2

    from core.audio.motion import MotionParams
    from core.engine import Engine, FrameRequest
    from core.geometry.pinhole import Intrinsics
    from core.preprocess.config import PrepareConfig
    from core.preprocess.pipeline import prepare
    from core.render.camera import OrbitPose

    frames = read_frames(args.video)
    num, h, w = frames.shape[:3]
    video_cam = Intrinsics.from_fov(w, h, PrepareConfig().camera.fov_deg)
    sampled = list(range(0, num - 1, args.step))
    if args.max_frames:
        sampled = sampled[:: max(1, math.ceil(len(sampled) / args.max_frames))][: args.max_frames]
    landmarker, solver = Landmarker(), PoseSolver()
    found: dict[int, np.ndarray | None] = {}  # frame -> landmarks (each frame's FaceMesh runs once)

    def frame_marks(k: int) -> np.ndarray | None:
        if k not in found:
            found[k] = landmarker(frames[k])
        return found[k]

    marks, nexts, poses = {}, {}, {}
    for k in sampled:
        pts = frame_marks(k)
        if pts is not None:
            marks[k], poses[k] = pts, solver(pts, video_cam)
            nexts[k] = frame_marks(k + 1)
    failed_real = len(sampled) - len(marks)
    if args.portrait in ("frontal", "median"):
        portrait_k = pick_portrait(poses, marks, args.portrait)
    elif int(args.portrait) in marks:
        portrait_k = int(args.portrait)
    else:
        raise SystemExit(f"measure_head_turn: frame {args.portrait} is not a sampled frame with a face")
    ref = poses[portrait_k]
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / f"frame{portrait_k:04d}.png"
        cv2.imwrite(str(photo), cv2.cvtColor(frames[portrait_k], cv2.COLOR_RGB2BGR))
        subject = prepare(photo, cache_root=Path(tmp) / "cache").subject
    engine = Engine(subject, "cpu", renderer=args.renderer)
    framing = engine.framings["photo"]
    size = args.size or round(framing.side)
    motion = MotionParams(alpha_m=0.0)

    def render(yaw: float, pitch: float):
        req = FrameRequest(pose=OrbitPose(yaw, pitch), size=size, framing="photo", motion=motion, mask_window=1)
        img = engine.render(req)
        return img, landmarker(img), engine.camera(req).intrinsics

    _, pts0, cam0 = render(0.0, 0.0)
    if pts0 is None:
        raise RuntimeError("FaceMesh finds no face in the render at the photo's view")
    ref_render = solver(pts0, cam0)
    sweep = {}
    for axis, values in (("yaw", SWEEP_YAW_DEG), ("pitch", SWEEP_PITCH_DEG)):
        asked, got = [], []
        for v in values:
            _, pts, cam = render(v if axis == "yaw" else 0.0, v if axis == "pitch" else 0.0)
            if pts is not None:
                measured = orbit_offset(-ref_render.translation, world_view(ref_render, solver(pts, cam)))
                asked.append(v)
                got.append(measured[0 if axis == "yaw" else 1])
        sweep[axis] = {"asked_deg": asked, "measured_deg": [round(g, 2) for g in got],
                       "gain": turn_gain(np.array(asked), np.array(got)) if asked else None}
    start = -ref.translation
    # Render landmarks in the portrait's pixels: the photo framing is a crop and resize.
    to_photo = framing.side / size

    def in_photo(pts: np.ndarray) -> np.ndarray:
        return (pts + 0.5) * to_photo - 0.5 + np.array([framing.x0, framing.y0])

    rows = []
    for k in sorted(marks):
        if k == portrait_k:
            continue
        yaw, pitch = orbit_offset(start, world_view(ref, poses[k]))
        _, pts, cam = render(yaw, pitch)
        row = {"frame": k, "asked_yaw": yaw, "asked_pitch": pitch, "real_reproj_px": poses[k].reprojection_px,
               "real_mouth": mouth_opening(marks[k]),
               "warp_face": aligned_error(marks[portrait_k], marks[k]),
               "warp_rigid": aligned_error(marks[portrait_k], marks[k], solver.rigid),
               "floor_face": aligned_error(nexts[k], marks[k]) if nexts[k] is not None else float("nan"),
               "floor_rigid": aligned_error(nexts[k], marks[k], solver.rigid) if nexts[k] is not None else float("nan")}
        if pts is None:
            row.update(render_yaw=float("nan"), render_pitch=float("nan"), ours_face=float("nan"), ours_rigid=float("nan"))
        else:
            got = solver(pts, cam)
            row["render_yaw"], row["render_pitch"] = orbit_offset(-ref_render.translation, world_view(ref_render, got))
            row["ours_face"] = aligned_error(in_photo(pts), marks[k])
            row["ours_rigid"] = aligned_error(in_photo(pts), marks[k], solver.rigid)
            row["_pts"] = in_photo(pts)
        rows.append(row)
        print(f"frame {k:4d}: asked yaw {yaw:+6.1f} pitch {pitch:+6.1f} -> render {row['render_yaw']:+6.1f} "
              f"{row['render_pitch']:+6.1f}; face error ours {row['ours_face']:.3f} warp {row['warp_face']:.3f} "
              f"floor {row['floor_face']:.3f}", file=sys.stderr, flush=True)
    if not rows:
        raise SystemExit("measure_head_turn: no sampled frame besides the portrait has a face")
    col = {name: np.array([r[name] for r in rows], np.float64) for name in rows[0] if not name.startswith("_")}
    series = {n: col[n] for n in ("ours_face", "warp_face", "floor_face", "ours_rigid", "warp_rigid", "floor_rigid")}
    within = np.abs(col["asked_yaw"]) <= 20.0
    closed = col["real_mouth"] <= MOUTH_CLOSED_MAX
    report = {
        "video": args.video.name, "frames": int(num), "sampled": len(sampled), "step": args.step,
        "facemesh_failed_real": failed_real, "facemesh_failed_render": int(np.isnan(col["render_yaw"]).sum()),
        "portrait_frame": portrait_k, "portrait_view_deg": list(view_angles(ref.camera)),
        "renderer": engine.renderer, "size": size,
        "photo_view_render": {"face_error": aligned_error(in_photo(pts0), marks[portrait_k]),
                              "pose_deg": list(orbit_offset(start, world_view(ref, solver(in_photo(pts0), video_cam))))},
        "render_sweep": sweep,
        "asked_pitch_range_deg": [float(col["asked_pitch"].min()), float(col["asked_pitch"].max())],
        "turn_gain": {"yaw": turn_gain(col["asked_yaw"], col["render_yaw"]),
                      "pitch": turn_gain(col["asked_pitch"], col["render_pitch"]),
                      "yaw_within_20": turn_gain(col["asked_yaw"][within], col["render_yaw"][within]),
                      "pitch_within_20": turn_gain(col["asked_pitch"][within], col["render_pitch"][within])},
        "landmark_error": binned_errors(np.abs(col["asked_yaw"]), series),
        "landmark_error_within_20": binned_errors(np.zeros(int(within.sum())),
                                                  {n: v[within] for n, v in series.items()},
                                                  (0.0, math.inf))["all"],
        "mouth_closed_max": MOUTH_CLOSED_MAX,
        "landmark_error_mouth_closed": binned_errors(np.abs(col["asked_yaw"][closed]),
                                                     {n: v[closed] for n, v in series.items()}),
    }
    if args.frames_out:
        args.frames_out.write_text(json.dumps([{n: r[n] for n in r if not n.startswith("_")} for r in rows], indent=1))
    if args.sheet:
        have = [r for r in rows if "_pts" in r]
        picks = sheet_rows(have)
        sheet = []
        for r in picks:
            k = r["frame"]
            m = similarity_2d(r["_pts"][list(ALIGN_POINTS)], marks[k][list(ALIGN_POINTS)])
            real = draw_points(frames[k], apply_affine(m, r["_pts"][FACE_POINTS]), (0, 255, 0))
            real = draw_points(real, marks[k][FACE_POINTS], (255, 0, 0))
            warp_m = similarity_2d(marks[portrait_k][list(ALIGN_POINTS)], marks[k][list(ALIGN_POINTS)])
            warp = cv2.warpAffine(frames[portrait_k], warp_m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            sheet.append({"real": crop_square(real, framing), "render": render(r["asked_yaw"], r["asked_pitch"])[0],
                          "warp": crop_square(warp, framing),
                          "label": f"frame {k}: asked yaw {r['asked_yaw']:+.1f} pitch {r['asked_pitch']:+.1f}; render "
                                   f"{r['render_yaw']:+.1f} {r['render_pitch']:+.1f}; err ours {r['ours_face']:.3f} "
                                   f"warp {r['warp_face']:.3f}"})
        contact_sheet(sheet, args.sheet)
    landmarker.close()
    engine.close()
    return report


def summary(report: dict) -> str:
    """A short table of the report for the terminal."""
    lines = [f"{report['renderer']} at {report['size']} px, portrait frame {report['portrait_frame']}"]
    for axis in ("yaw", "pitch"):
        g = report["turn_gain"][axis]
        lines.append(f"turn gain {axis:5s}: slope {g['slope']:.3f}  R^2 {g['r2']:.3f}  median ratio "
                     f"{g['median_ratio'] if g['median_ratio'] is None else round(g['median_ratio'], 3)}  "
                     f"(n {g['n']}, asked {g['asked_range_deg'][0]:+.1f}..{g['asked_range_deg'][1]:+.1f} deg); "
                     f"line: slope {g['slope_with_offset']:.3f} offset {g['offset_deg']:+.2f} deg")
        sw = report["render_sweep"][axis]
        lines.append(f"  render sweep {axis}: asked {sw['asked_deg']} -> measured {sw['measured_deg']}")
    lines.append(f"{'mean error / inter-ocular':34s} {'n':>4s} {'ours':>7s} {'warp':>7s} {'floor':>7s}   rigid: "
                 f"{'ours':>7s} {'warp':>7s} {'floor':>7s}")
    bins = dict(report["landmark_error"], **{"|yaw| <= 20": report["landmark_error_within_20"]})
    bins.update({f"mouth closed, {k}": v for k, v in report["landmark_error_mouth_closed"].items()})
    for label, row in bins.items():
        cells = [f"{row[n]['mean']:7.4f}" if row[n] else f"{'-':>7s}" for n in
                 ("ours_face", "warp_face", "floor_face", "ours_rigid", "warp_rigid", "floor_rigid")]
        lines.append(f"{label:34s} {row['n']:4d} {' '.join(cells[:3])}          {' '.join(cells[3:])}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=VIDEO)
    parser.add_argument("--step", type=int, default=5, help="every STEP-th frame is measured")
    parser.add_argument("--max-frames", type=int, default=0, help="at most this many sampled frames (0 = all)")
    parser.add_argument("--size", type=int, default=0, help="render size in pixels (0 = the photo's square, 1:1)")
    parser.add_argument("--renderer", choices=("auto", "raster", "march"), default="auto")
    parser.add_argument("--portrait", default="frontal",
                        help="frontal (default), median (the median view) or a sampled frame index")
    parser.add_argument("--out", type=Path, help="write the report JSON here too")
    parser.add_argument("--frames-out", type=Path, help="write the per-frame figures as JSON")
    parser.add_argument("--sheet", type=Path, help="contact sheet PNG: real frame | render | 2D warp")
    args = parser.parse_args()
    if not args.video.is_file():
        print(f"measure_head_turn: no video at {args.video}; nothing measured (pass --video).", file=sys.stderr)
        return 0
    report = run(args)
    text = json.dumps(report, indent=2)
    print(text)
    print(summary(report), file=sys.stderr)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
