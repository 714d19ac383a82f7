"""``python main.py bench``: speed figures as JSON (preprocessing, per-frame render, video).

Two portraits, because the cost follows the face's size: the bundled sample as it is (a wide
portrait, the face about a fifth of the photo) and a close-up made from it (cropped around the
face so that the face fills the photo, as most talking-head inputs do). Each is rendered in both
framings ("photo": the photo's largest square; "head": the face at 45 % of the frame height), at
256 and 512 px, by every renderer this machine has. The ``render`` command is timed end to end
(a fresh process, cold subject cache) on 30 s of speech (the sample speech repeated).
"""
from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch


@dataclass(frozen=True)
class BenchConfig:
    frames: int = 40  # frames per timing (an orbit path over them)
    quick_frames: int = 10
    sizes: tuple[int, ...] = (256, 512)
    command_speech_s: float = 30.0  # speech length for the whole ``render`` command
    close_up_face_share: float = 0.6  # the close-up's face (forehead to chin) fills this share of its height
    close_up_side_px: int = 512


def _percentiles(samples: list[float]) -> dict:
    a = np.asarray(samples) * 1000.0
    return {"median_ms": round(float(np.median(a)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "fps": round(1000.0 / float(np.median(a)), 1), "frames": len(a)}


def make_close_up(portrait: Path, subject, out: Path, config: BenchConfig = BenchConfig()) -> Path:
    """The portrait cropped to a square around its face, the face filling ``close_up_face_share``
    of the height, resized to ``close_up_side_px``. Returns ``out`` (PNG)."""
    from PIL import Image

    uv = subject.intrinsics.project(subject.mesh.astype(np.float64))
    (x0, y0), (x1, y1) = uv.min(axis=0), uv.max(axis=0)
    side = (y1 - y0) / config.close_up_face_share
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    image = Image.open(portrait).convert("RGB")
    box = tuple(int(round(v)) for v in (cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2))
    image.crop(box).resize((config.close_up_side_px,) * 2, Image.LANCZOS).save(out)
    return out


def _time_renders(engine, driver, size: int, framing: str, frames: int) -> dict:
    from core.engine import FrameRequest
    from core.render.camera import turntable_path

    poses = turntable_path(frames, period_frames=frames)
    engine.render(FrameRequest(size=size, frame_index=0, framing=framing))  # warm-up
    times = []
    for k in range(frames):
        req = FrameRequest(pose=poses[k], size=size, frame_index=k % len(driver), framing=framing)
        t = time.perf_counter()
        engine.render(req)
        if engine.device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return _percentiles(times)


def _long_speech(speech: Path, seconds: float, out: Path) -> Path:
    import soundfile as sf

    audio, rate = sf.read(speech, dtype="float32")
    repeats = int(np.ceil(seconds * rate / len(audio)))
    sf.write(out, np.tile(audio, repeats)[: int(seconds * rate)], rate)
    return out


def _render_command(portrait: Path, audio: Path, size: int, cache: Path, out: Path) -> dict:
    """``main.py render`` in a fresh process with an empty cache: wall seconds and x real time."""
    import soundfile as sf

    main = Path(__file__).resolve().parents[1] / "main.py"
    cmd = [sys.executable, str(main), "render", "--portrait", str(portrait), "--audio", str(audio), "--out",
           str(out), "--size", str(size), "--cache-dir", str(cache)]
    t = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    seconds = sf.info(audio).duration
    return {"size": size, "speech_s": round(seconds, 1), "wall_s": round(wall, 2),
            "realtime_factor": round(seconds / wall, 2)}


def bench_command(quick: bool = False, config: BenchConfig = BenchConfig()) -> int:
    from core.audio.audio2exp import coefficients_for_file
    from core.device import cuda_available
    from core.engine import Engine
    from core.paths import SAMPLE_PORTRAIT, SAMPLE_SPEECH
    from core.preprocess.pipeline import prepare

    report: dict = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                                "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                                "cuda": torch.cuda.get_device_name(0) if cuda_available() else None}}
    frames = config.quick_frames if quick else config.frames
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = tmp / "cache"
        t = time.perf_counter()
        cold = prepare(SAMPLE_PORTRAIT, cache_root=cache)
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        prepare(SAMPLE_PORTRAIT, cache_root=cache)
        warm_s = time.perf_counter() - t
        report["prepare"] = {"cold_s": round(cold_s, 3), "warm_s": round(warm_s, 4),
                             "stages_ms": {k: round(v * 1000, 1) for k, v in cold.stage_seconds.items()}}
        close_up = make_close_up(SAMPLE_PORTRAIT, cold.subject, tmp / "close_up.png", config)
        t = time.perf_counter()
        close_subject = prepare(close_up, cache_root=cache).subject
        report["prepare"]["close_up_cold_s"] = round(time.perf_counter() - t, 3)
        driver = coefficients_for_file(SAMPLE_SPEECH)
        backends = [("cpu", "raster"), ("cpu", "march")] + ([("cuda", "march")] if cuda_available() else [])
        report["render"] = {}
        for name, subject in (("sample", cold.subject), ("close_up", close_subject)):
            for device, renderer in backends:
                try:
                    engine = Engine(subject, device, renderer=renderer)
                except RuntimeError as err:  # no OpenGL here: say so, time the rest
                    report["render"][f"{name}/{renderer}"] = {"error": str(err)}
                    continue
                engine.set_driver(driver)
                row = report["render"].setdefault(f"{name}/{device}/{renderer}", {})
                for framing in ("photo", "head"):
                    for size in config.sizes:
                        row[f"{size}_{framing}"] = _time_renders(engine, driver, size, framing, frames)
                engine.close()
        speech = _long_speech(SAMPLE_SPEECH, config.command_speech_s, tmp / "speech.wav")
        report["render_command"] = {}
        for name, portrait in (("sample", SAMPLE_PORTRAIT), ("close_up", close_up)):
            for size in config.sizes:
                report["render_command"][f"{name}_{size}"] = _render_command(
                    portrait, speech, size, tmp / f"cache-{name}-{size}", tmp / "bench.mp4")
    print(json.dumps(report, indent=2))
    return 0
