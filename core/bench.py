"""``python main.py bench``: speed figures as JSON (preprocessing, per-frame render, video)."""
from __future__ import annotations

import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _percentiles(samples: list[float]) -> dict:
    a = np.asarray(samples) * 1000.0
    return {"median_ms": round(float(np.median(a)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "fps": round(1000.0 / float(np.median(a)), 1), "frames": len(a)}


def bench_command(quick: bool = False) -> int:
    from core.audio.audio2exp import coefficients_for_file
    from core.device import cuda_available
    from core.engine import Engine, FrameRequest
    from core.options import RenderOptions
    from core.paths import SAMPLE_PORTRAIT, SAMPLE_SPEECH
    from core.preprocess.pipeline import prepare
    from core.render.camera import turntable_path
    from core.video import VideoJob, write_video

    report: dict = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                                "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                                "cuda": torch.cuda.get_device_name(0) if cuda_available() else None}}
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        t = time.perf_counter()
        cold = prepare(SAMPLE_PORTRAIT, cache_root=cache)
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        prepare(SAMPLE_PORTRAIT, cache_root=cache)
        warm_s = time.perf_counter() - t
        report["prepare"] = {"cold_s": round(cold_s, 3), "warm_s": round(warm_s, 4),
                             "stages_ms": {k: round(v * 1000, 1) for k, v in cold.stage_seconds.items()}}
        driver = coefficients_for_file(SAMPLE_SPEECH)
        n = 10 if quick else 40
        poses = turntable_path(n, period_frames=n)
        devices = ["cpu"] + (["cuda"] if cuda_available() else [])
        report["render"] = {}
        for dev in devices:
            engine = Engine(cold.subject, dev)
            engine.set_driver(driver)
            report["render"][dev] = {}
            # "photo": the wide sample as it is (the face small); "head": head-and-shoulders
            # framing, the face filling much more of the frame (the cost follows the face's size).
            for framing in ("photo", "head"):
                for size in (256, 512):
                    engine.render(FrameRequest(size=size, frame_index=0, framing=framing))  # warm-up
                    times = []
                    for k in range(n):
                        req = FrameRequest(pose=poses[k], size=size, frame_index=k % len(driver), framing=framing)
                        t = time.perf_counter()
                        engine.render(req)
                        if dev == "cuda":
                            torch.cuda.synchronize()
                        times.append(time.perf_counter() - t)
                    key = str(size) if framing == "photo" else f"{size}_head"
                    report["render"][dev][key] = _percentiles(times)
        engine = Engine(cold.subject, devices[-1])
        t = time.perf_counter()
        driver = coefficients_for_file(SAMPLE_SPEECH)
        a2e_s = time.perf_counter() - t
        engine.set_driver(driver)
        for key, options in (("render_command", RenderOptions(framing="photo")),
                             ("render_command_head", RenderOptions(framing="head"))):
            job = VideoJob(out=Path(tmp) / "bench.mp4", options=options, audio_path=SAMPLE_SPEECH)
            stats = write_video(engine, job)
            total = stats["wall_seconds"] + a2e_s
            report[key] = {"device": devices[-1], "size": options.size, "framing": options.framing,
                           "video_s": round(stats["video_seconds"], 2), "wall_s": round(total, 2),
                           "realtime_factor": round(stats["video_seconds"] / total, 2)}
    print(json.dumps(report, indent=2))
    return 0
