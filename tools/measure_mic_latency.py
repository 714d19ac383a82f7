"""Microphone latency without a microphone: speech is fed to the viewer's live pipeline in 20 ms
chunks at real-time pace (as the device callback would), and the time from the arrival of each
frame's last sample to its coefficients is recorded. The render time of one frame is added for
the sound-to-mouth figure.

    python tools/measure_mic_latency.py [--audio WAV]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.audio.loading import load_audio  # noqa: E402
from core.engine import Engine, FrameRequest  # noqa: E402
from core.paths import SAMPLE_PORTRAIT, SAMPLE_SPEECH  # noqa: E402
from core.preprocess.pipeline import prepare  # noqa: E402
from viewer.microphone import LiveMouth  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--audio", type=Path, default=SAMPLE_SPEECH)
    ap.add_argument("--size", type=int, default=256)
    args = ap.parse_args()
    samples = load_audio(args.audio)
    mouth = LiveMouth()
    chunk = 320  # 20 ms
    start = time.perf_counter()
    for i in range(0, len(samples), chunk):
        target = start + i / 16000
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        mouth.feed(samples[i:i + chunk])
    time.sleep(1.0)
    lat = np.array(mouth.latencies) * 1000
    mouth.close()
    engine = Engine(prepare(SAMPLE_PORTRAIT).subject, "cpu")
    rng = np.random.default_rng(0)
    engine.render(FrameRequest(size=args.size))
    t = time.perf_counter()
    for _ in range(10):  # a new expression every frame, as when speaking
        c = tuple(float(x) for x in rng.uniform(0, 0.4, 33))
        engine.render(FrameRequest(size=args.size, coefficients=c))
    render_ms = (time.perf_counter() - t) / 10 * 1000
    print(json.dumps({
        "frames": int(lat.size),
        "coefficient_latency_ms": {"median": float(np.median(lat)), "p95": float(np.percentile(lat, 95)),
                                   "max": float(lat.max())},
        "render_ms": render_ms,
        "note": "latency counted from the arrival of the last sample of each 40 ms frame",
        "sound_to_mouth_ms_median": float(np.median(lat) + render_ms),
        "sound_to_mouth_ms_p95": float(np.percentile(lat, 95) + render_ms),
    }, indent=2))


if __name__ == "__main__":
    main()
