"""Measure the viewer under Xvfb: audio/video offset over a long playback, UI rate, render rate.

    python tools/measure_viewer.py [--seconds 60]
    python tools/measure_viewer.py --mic speech.wav    # microphone mode, the recording played in

Starts Xvfb, runs ``main.py viewer --loop`` with its automation hook, samples the state file and
prints JSON: offsets of the frames shown (ms; in sync means 0 <= offset < 40), UI frames per
second, frames shown per second. With ``--mic``, the recording is fed to microphone mode at
real-time pace instead and the report gives the latency from the sound at each frame's start
to the moment its image is uploaded to the window.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--display", default=":93")
    ap.add_argument("--mic", type=Path, help="speech file to play into microphone mode")
    ap.add_argument("--framing", choices=("head", "photo"), default="head", help="the viewer's framing")
    ap.add_argument("--portrait", type=Path, help="portrait to show (default: the bundled sample)")
    ap.add_argument("--renderer", default="auto", help="the viewer's --renderer (auto, raster, march)")
    args = ap.parse_args()
    if args.mic is not None:
        from core.audio.loading import probe_audio

        args.seconds = probe_audio(args.mic).duration_s + 4.0  # + the recogniser's start-up
    xvfb = subprocess.Popen(["Xvfb", args.display, "-screen", "0", "1280x900x24"], stderr=subprocess.DEVNULL)
    time.sleep(1)
    tmp = Path(tempfile.mkdtemp())
    state = tmp / "state.json"
    env = dict(os.environ, DISPLAY=args.display)
    portrait = ["--portrait", str(args.portrait.resolve())] if args.portrait else []
    viewer = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "viewer", "--loop", "--framing", args.framing,
                               "--renderer", args.renderer, "--automation", str(state), *portrait,
                               "--max-seconds", str(args.seconds + 60)], cwd=ROOT, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not state.exists() or json.loads(state.read_text() or "{}").get("frames_uploaded", 0) < 5:
            time.sleep(0.2)
        ui, shown, stats = [], [], None
        start = time.time()
        last_count = json.loads(state.read_text())["frames_uploaded"]
        if args.mic is not None:
            state.with_suffix(".cmd").write_text(json.dumps({"mic_file": str(args.mic.resolve())}))
        mic = size = renderer = None
        while time.time() - start < args.seconds:
            time.sleep(1.0)
            try:
                s = json.loads(state.read_text())
            except (OSError, json.JSONDecodeError):
                continue
            ui.append(s["ui_fps"])
            shown.append(s["frames_uploaded"] - last_count)
            last_count = s["frames_uploaded"]
            stats = s["offset_stats"]
            mic = s.get("mic") or mic
            size = (s.get("rendered") or {}).get("size")
            renderer = s.get("renderer")
        state.with_suffix(".cmd").write_text(json.dumps({"quit": True}))
        report = {
            "seconds": args.seconds, "size": size, "renderer": renderer,
            "frames_shown_per_s": float(np.mean(shown)),
            "ui_fps_min": float(np.min(ui)), "ui_fps_mean": float(np.mean(ui)),
            "av_offset": stats,
        }
        if args.mic is not None:
            report = {"seconds": args.seconds, "ui_fps_min": report["ui_fps_min"],
                      "ui_fps_mean": report["ui_fps_mean"], "microphone": mic}
        print(json.dumps(report, indent=2))
    finally:
        viewer.wait(timeout=30) if viewer.poll() is None else None
        xvfb.terminate()


if __name__ == "__main__":
    main()
