"""Microphone sound-to-mouth latency without a microphone, through the viewer's own pipeline.

Speech is fed to ``LiveMouth`` in 20 ms chunks at real-time pace (as the device callback
would); a 60 Hz loop (the viewer's UI tick) asks the playout which frame to show, submits it to
the viewer's render process and notes when each rendered frame comes back. Reported:

* recogniser_latency_ms: a frame's last sample arrives -> its coefficients exist
* sound_to_mouth_ms: the sound at a frame's start arrives -> that frame's image is ready to show
  (the loop asks for the frame due when the render will be done, as the viewer does)
* settled_share: frames shown with the recogniser's coefficients (the rest are estimates)
* jawopen_shown_vs_settled: the jawOpen shown against what the recogniser settled for that frame

    python tools/measure_mic_latency.py [--audio WAV ...] [--size 256] [--delay 0.2]
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.audio.audio2exp import LIVE_CONFIG, Audio2Exp  # noqa: E402
from core.audio.loading import load_audio  # noqa: E402
from core.audio.playout import PlayoutConfig  # noqa: E402
from viewer.session import Session  # noqa: E402
from core.face.arkit import EXPRESSION_INDEX  # noqa: E402
from core.paths import SAMPLE_PORTRAIT, SAMPLE_SPEECH  # noqa: E402
from core.preprocess.pipeline import prepare  # noqa: E402
from viewer.microphone import LiveMouth  # noqa: E402
from viewer.render_process import RenderProcess  # noqa: E402
from viewer.scheduler import FrameScheduler  # noqa: E402

UI_HZ = 60.0
JAW = EXPRESSION_INDEX["jawOpen"]


def stats(values_s) -> dict:
    v = np.asarray(values_s, np.float64) * 1000
    return {"median": round(float(np.median(v)), 1), "p95": round(float(np.percentile(v, 95)), 1),
            "max": round(float(v.max()), 1), "n": int(v.size)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--audio", type=Path, nargs="+", default=[SAMPLE_SPEECH])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--delay", type=float, default=PlayoutConfig().delay_s)
    args = ap.parse_args()
    prepare(SAMPLE_PORTRAIT)                       # the render process loads from the cache
    worker = RenderProcess("cpu", on_error=lambda exc: print("render error:", exc, file=sys.stderr))
    worker.set_subject(SAMPLE_PORTRAIT)
    deadline = time.perf_counter() + 120
    while worker.device is None:
        if time.perf_counter() > deadline:
            sys.exit("the render process did not start")
        time.sleep(0.05)
    audio = np.concatenate([load_audio(p) for p in args.audio] + [np.zeros(8000, np.float32)])
    mouth = LiveMouth(playout=PlayoutConfig(delay_s=args.delay))
    deadline = time.perf_counter() + 120
    while not mouth.ready:                         # the recogniser process starts (about 1 s)
        if mouth.error or time.perf_counter() > deadline:
            sys.exit(f"the recogniser did not start: {mouth.error or 'timeout'}")
        time.sleep(0.05)

    speaking = True

    def speak() -> None:  # the speech, then silence, as a microphone goes on delivering
        start, i, silence = time.perf_counter(), 0, np.zeros(320, np.float32)
        while speaking:
            delay = start + (i + 320) / 16000 - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            mouth.feed(audio[i:i + 320] if i < audio.size else silence)
            i += 320

    speaker = threading.Thread(target=speak, daemon=True)
    speaker.start()
    sound_at: dict = {}
    submitted: dict = {}
    shown_jaw: dict = {}                           # frame index -> jawOpen it was shown with
    scheduler = FrameScheduler()                   # the viewer's render-latency estimate
    session = Session()                            # keeps the live frames' mask window as the viewer does
    session.settings = session.settings.with_(size=args.size)
    shown, seen, last = [], 0, None
    tick = time.perf_counter()
    end = tick + audio.size / 16000 + 1.0
    while time.perf_counter() < end:
        now = time.perf_counter()
        live = mouth.current(now + scheduler.latency_s + scheduler.margin_s)  # due when rendered
        if live is not None:
            shown_jaw[live.index] = float(live.coefficients[JAW])
            session.push_live_frame(live.index, live.coefficients)
            request = session.request()
            if request != last:
                worker.submit(request)
                sound_at[request] = (live.sound_at, live.index)
                submitted[request] = now
                last = request
        res = worker.latest()
        if res is not None and res.serial != seen:
            seen = res.serial
            now = time.perf_counter()                 # when the UI would upload it
            t, index = sound_at.pop(res.request, (None, None))
            scheduler.observe(res.finished_at - submitted.pop(res.request, res.finished_at))
            if t is not None:
                shown.append((now - t, res.render_s, index))
        tick += 1 / UI_HZ
        time.sleep(max(0.0, tick - time.perf_counter()))
    speaking = False
    mouth.close()
    worker.stop()
    latency = [a for a, _, _ in shown]
    # What the recogniser settled for the same frames (live settings; chunking does not matter).
    a2e = Audio2Exp(config=LIVE_CONFIG)
    settled = np.stack([f.coefficients for f in a2e.push(audio) + a2e.finish()])[:, JAW]
    idx = np.array(sorted(k for k in shown_jaw if k < settled.size))
    jaw_shown = np.array([shown_jaw[k] for k in idx])
    print(json.dumps({
        "audio_s": round(audio.size / 16000, 2),
        "playout_delay_ms": args.delay * 1000,
        "recogniser_latency_ms": stats(mouth.latencies),
        "render_ms": stats([b for _, b, _ in shown]),
        "sound_to_mouth_ms": stats(latency),
        "share_within_300ms": round(float(np.mean(np.asarray(latency) <= 0.3)), 4),
        "slowest_frames": [{"frame": k, "ms": round(a * 1000, 1)} for a, _, k in sorted(shown)[-3:]],
        "settled_share": round(float(mouth.settled_share or 0.0), 3),
        "jawopen_shown_vs_settled": {
            "corr": round(float(np.corrcoef(jaw_shown, settled[idx])[0, 1]), 3),
            "mean_abs_diff": round(float(np.abs(jaw_shown - settled[idx]).mean()), 4),
            # frame-to-frame change (consecutive frames only): higher than settled = jittery mouth
            "step_shown": round(float(np.abs(np.diff(jaw_shown)[np.diff(idx) == 1]).mean()), 4),
            "step_settled": round(float(np.abs(np.diff(settled[idx])[np.diff(idx) == 1]).mean()), 4)},
        "note": "sound_to_mouth counts from the arrival of the sound at each frame's start",
    }, indent=2))


if __name__ == "__main__":
    main()
