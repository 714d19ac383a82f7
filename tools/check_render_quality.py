"""Quality figures of the renderer (issue "Renderer", quality list), printed as JSON.

    python tools/check_render_quality.py [--faces DIR] [--audio WAV] [--out DIR]

* psnr_face_db: photo camera + photo expression against the portrait, over the face box
* detection: share of renders over yaw -35..35 x pitch -20..20 in which FaceMesh finds a face
* mouth: FaceMesh inner-lip gap / face height on rendered frames, speech vs silence
* flicker: mean absolute change (0..255) of background and torso pixels between frames
Writes contact sheets (PNG) of the orbit grid and of speech frames to --out.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.audio.audio2exp import coefficients_for_file  # noqa: E402
from core.audio.motion import MotionParams  # noqa: E402
from core.engine import Engine, FrameRequest  # noqa: E402
from core.face import topology as topo  # noqa: E402
from core.paths import SAMPLE_PORTRAIT, SAMPLE_SPEECH  # noqa: E402
from core.preprocess.face_fit import _run_face_mesh  # noqa: E402
from core.preprocess.pipeline import prepare  # noqa: E402
from core.preprocess.portrait import load_portrait  # noqa: E402
from core.render.camera import OrbitPose  # noqa: E402

YAWS = (-35, -25, -15, 0, 15, 25, 35)
PITCHES = (-20, -10, 0, 10, 20)


def face_box(subject, camera, pad: int = 0):
    """Pixel box (x0, y0, x1, y1) of the face mesh in ``camera``'s image (a ViewCamera)."""
    uv = camera.project(subject.mesh.astype(np.float64))
    x0, y0 = np.floor(uv.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(uv.max(axis=0)).astype(int) + pad
    return max(x0, 0), max(y0, 0), x1, y1


def lip_gap(img: np.ndarray) -> float | None:
    faces = _run_face_mesh(img, max_faces=1)
    if not faces:
        return None
    p = faces[0]
    height = np.linalg.norm(p[topo.FOREHEAD, :2] - p[topo.CHIN, :2])
    return float(np.linalg.norm(p[topo.UPPER_LIP_INNER_MID, :2] - p[topo.LOWER_LIP_INNER_MID, :2]) / height)


def check_face(path: Path, driver: np.ndarray, out: Path, renderer: str = "auto") -> dict:
    subject = prepare(path).subject
    engine = Engine(subject, "cpu", renderer=renderer)
    photo = load_portrait(path).rgb
    h, w = photo.shape[:2]
    side = min(h, w)
    render_size = min(512, side)
    # 1. Photo reproduction (square photos only: the view is the photo's central square crop).
    psnr = None
    if h == w:
        img = engine.render(FrameRequest(framing="photo", size=side, motion=MotionParams(alpha_m=0.0)))
        x0, y0, x1, y1 = face_box(subject, engine.camera(FrameRequest(framing="photo", size=side)))
        mse = np.mean((img[y0:y1, x0:x1].astype(float) - photo[y0:y1, x0:x1]) ** 2)
        psnr = float(10 * np.log10(255**2 / max(mse, 1e-9)))
    # 2. Detection over the orbit grid (zoomed so that the face is a reasonable size).
    face_px = np.ptp(subject.intrinsics.project(subject.mesh.astype(np.float64))[:, 1]) * render_size / side
    zoom = float(np.clip(0.45 * render_size / max(face_px, 1.0), 1.0, 3.0))
    found, tiles = 0, []
    for pitch in PITCHES:
        row = []
        for yaw in YAWS:
            img = engine.render(FrameRequest(framing="photo", pose=OrbitPose(yaw, pitch, zoom), size=render_size, mask_window=1))
            ok = bool(_run_face_mesh(img, max_faces=1))
            found += ok
            tile = cv2.resize(img, (160, 160), interpolation=cv2.INTER_AREA)
            if not ok:
                cv2.rectangle(tile, (0, 0), (159, 159), (255, 0, 0), 3)
            row.append(tile)
        tiles.append(np.hstack(row))
    cv2.imwrite(str(out / f"{path.stem}_orbit.png"), np.vstack(tiles)[..., ::-1])
    # Fast path against the reference (Eq. 7 per ray sample) at three views, 256 px, speaking.
    engine.set_driver(driver)
    speaking = int(np.argmax(driver[:, 0]))
    against = []
    for pose in (OrbitPose(), OrbitPose(30.0, 0.0), OrbitPose(-30.0, 15.0)):
        req = FrameRequest(framing="photo", pose=pose, size=256, frame_index=speaking, mask_window=1)
        diff = np.abs(engine.render(req).astype(float)
                      - engine.render(dataclasses.replace(req, reference=True)).astype(float)).max(axis=2)
        against.append((float(diff.mean()), float((diff > 30).mean())))
    # 3. Mouth motion and 4. flicker on speech frames at the photo's camera.
    engine.set_driver(driver)
    gaps, frames = [], []
    jaw = driver[:, 0]
    for k in range(len(driver)):
        img = engine.render(FrameRequest(framing="photo", pose=OrbitPose(0, 0, zoom), size=render_size, frame_index=k))
        frames.append(img)
        gaps.append(lip_gap(img))
    g = np.array([np.nan if v is None else v for v in gaps])
    speech = jaw > 0.15
    silence = jaw < 0.02
    valid = ~np.isnan(g)
    corr = float(np.corrcoef(g[valid], jaw[valid])[0, 1]) if valid.sum() > 3 else None
    # Flicker at the photo's own framing: everything outside the (padded) face box must hold still.
    still_frames = [engine.render(FrameRequest(framing="photo", size=render_size, frame_index=k)) for k in range(len(driver))]
    x0, y0, x1, y1 = face_box(subject, engine.camera(FrameRequest(framing="photo", size=render_size)), pad=int(0.08 * render_size))
    still = np.ones(still_frames[0].shape[:2], bool)
    still[y0:y1 + int(0.05 * render_size), x0:x1] = False
    diffs = [np.abs(a.astype(float) - b.astype(float)).mean(axis=2)[still].mean()
             for a, b in zip(still_frames[:-1], still_frames[1:])]
    sheet = [cv2.resize(f, (128, 128), interpolation=cv2.INTER_AREA) for f in frames[::max(len(frames) // 12, 1)][:12]]
    cv2.imwrite(str(out / f"{path.stem}_speech.png"), np.hstack(sheet)[..., ::-1])
    return {
        "psnr_face_db": psnr,
        "detection_rate": found / (len(YAWS) * len(PITCHES)),
        "zoom": round(zoom, 2),
        "mouth_gap_speech": float(np.nanmean(g[speech])) if (speech & valid).any() else None,
        "mouth_gap_silence": float(np.nanmean(g[silence])) if (silence & valid).any() else None,
        "mouth_gap_vs_jawopen_corr": corr,
        "frames_with_face": float(valid.mean()),
        "flicker_still_pixels_mean": float(np.mean(diffs)) if diffs else None,
        "fast_vs_reference_mean_levels": [round(a, 3) for a, _ in against],
        "fast_vs_reference_share_over_30": [round(b, 4) for _, b in against],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faces", type=Path, help="folder of portraits (default: the bundled sample)")
    ap.add_argument("--audio", type=Path, default=SAMPLE_SPEECH)
    ap.add_argument("--out", type=Path, default=Path("out/quality"))
    ap.add_argument("--renderer", default="auto", help="auto, raster or march")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    driver = coefficients_for_file(args.audio)
    paths = sorted(p for p in args.faces.iterdir() if p.is_file()) if args.faces else [SAMPLE_PORTRAIT]
    report = {p.name: check_face(p, driver, args.out, args.renderer) for p in paths}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
