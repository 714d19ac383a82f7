"""Benchmark the Audio2Exp stage; prints JSON.

    python tools/bench_audio.py                      # everything (about 1 minute)
    python tools/bench_audio.py --latency-seconds 0  # skip the real-time latency run

Measures
- speed: whole-file processing (decode + Audio2Exp, FILE settings) as a multiple of real time,
  on a long WAV made by repeating the available speech;
- latency: a live stream fed in 20 ms chunks paced by the wall clock (LIVE settings); for every
  frame, wall time when its coefficients came out minus the wall time its sound (frame start,
  k / 25 s) went in; also the CPU share used;
- lipsync on real speech with hand phone alignments (../shared/data/speech: CMU ARCTIC a0009 and
  praatio's bobby/mary): mean jawOpen in open vowels / in bilabials, and timing offsets against
  the curves the hand alignment gives (cross-correlation lag, and half-way crossings at
  bilabial<->vowel boundaries); for FILE settings and for LIVE settings in 20 ms chunks;
- the same on espeak-ng sentences (exact phone timings) when libespeak-ng is installed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.audio.audio2exp import (FILE_CONFIG, LIVE_CONFIG, Audio2Exp,  # noqa: E402
                                  coefficients_for_file)
from core.audio.constants import FPS, SAMPLE_RATE  # noqa: E402
from core.audio.evaluation import (BILABIALS, OPEN_VOWELS, boundary_offsets_s,  # noqa: E402
                                   phone_frames, read_phone_alignment, reference_coefficients,
                                   xcorr_lag_s)
from core.audio.loading import load_audio  # noqa: E402
from core.face.arkit import EXPRESSION_INDEX  # noqa: E402

JAW = EXPRESSION_INDEX["jawOpen"]
CHUNK = SAMPLE_RATE // 50                      # 20 ms, a typical microphone block
ALIGNED = (("arctic_a0009.wav", "arctic_a0009_phones_sec.txt"),
           ("bobby.wav", "bobby_phones.TextGrid"),
           ("mary.wav", "mary.TextGrid"))
ESPEAK_SENTENCES = (
    "Bob and Pam made a map of the farm.", "The quick brown fox jumps over the lazy dog.",
    "Please bring me a bottle of milk and some apples.",
    "My father bought a bigger boat in the summer.", "Peter picked a peck of pickled peppers.",
    "How about a cup of tea with a lemon?", "A big black bug bit a big black bear.",
    "Mom baked apple pies for the party on Monday.", "The boy was there when the sun rose.",
    "Paint the sockets in the wall dull green.", "Hop over the fence and plunge in.",
    "The box was thrown beside the parked truck.", "Bring your best compass to the third class.",
    "We talked of the slide show in the circus.", "Open the crate but don't break the glass.",
)


def shared_speech_dir(explicit: str | None) -> Path | None:
    for c in ([Path(explicit)] if explicit else []) + (
            [Path(os.environ["NFS_SHARED_DATA"]) / "speech"] if os.environ.get("NFS_SHARED_DATA")
            else []) + [REPO.parent / "shared" / "data" / "speech"]:
        if c.is_dir():
            return c
    return None


def machine() -> dict:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from importlib.metadata import version

    return {"cpu": cpu, "logical_cores": os.cpu_count(), "python": platform.python_version(),
            "hama": version("hama"), "openfacefx": version("openfacefx"),
            "numpy": np.__version__}


def speech_material(speech_dir: Path | None) -> np.ndarray:
    """All available real speech, concatenated with 0.3 s gaps (16 kHz float32)."""
    paths = sorted(speech_dir.glob("*.wav")) if speech_dir else []
    paths = paths or [REPO / "assets" / "sample" / "speech.wav"]
    gap = np.zeros(int(0.3 * SAMPLE_RATE), np.float32)
    return np.concatenate([x for p in paths for x in (load_audio(p), gap)])


def bench_speed(material: np.ndarray, seconds: float) -> dict:
    import soundfile as sf

    n = int(seconds * SAMPLE_RATE)
    y = np.tile(material, n // material.size + 1)[:n]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.wav"
        sf.write(path, y, SAMPLE_RATE, subtype="PCM_16")
        coefficients_for_file(REPO / "assets" / "sample" / "speech.wav")   # warm imports
        start, cpu0 = time.perf_counter(), time.process_time()
        coeffs = coefficients_for_file(path)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
    return {"audio_s": seconds, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "x_realtime": round(seconds / wall, 1), "frames": int(coeffs.shape[0]),
            "settings": "FILE_CONFIG"}


def bench_latency(material: np.ndarray, seconds: float) -> dict:
    y = np.tile(material, int(seconds * SAMPLE_RATE) // material.size + 1)[
        :int(seconds * SAMPLE_RATE)]
    a2e = Audio2Exp(config=LIVE_CONFIG)
    a2e.push(np.zeros(CHUNK, np.float32)[:0])
    latencies, backlog = [], []
    t0, cpu0 = time.perf_counter(), time.process_time()
    for i in range(0, y.size, CHUNK):
        due = t0 + (i + CHUNK) / SAMPLE_RATE             # the chunk's last sample was spoken
        now = time.perf_counter()
        if due > now:
            time.sleep(due - now)
        frames = a2e.push(y[i:i + CHUNK])
        out = time.perf_counter()
        latencies += [out - (t0 + f.index / FPS) for f in frames]
        backlog.append(a2e.backlog_s)
    cpu_share = (time.process_time() - cpu0) / (time.perf_counter() - t0)
    lat = np.array(latencies) * 1000
    return {"audio_s": seconds, "chunk_ms": 1000 * CHUNK / SAMPLE_RATE, "frames": int(lat.size),
            "latency_ms": {"mean": round(lat.mean()), "p50": round(np.median(lat)),
                           "p95": round(np.percentile(lat, 95)), "max": round(lat.max())},
            "frames_within_300ms": round(float(np.mean(lat <= 300)), 3),
            "cpu_share_of_one_core": round(cpu_share, 2),
            "algorithmic_backlog_ms_max": round(1000 * max(backlog)),
            "settings": "LIVE_CONFIG"}


def run_stream(y: np.ndarray, config, chunk: int | None) -> np.ndarray:
    a2e = Audio2Exp(config=config)
    frames = []
    for i in range(0, y.size, chunk or y.size):
        frames += a2e.push(y[i:i + (chunk or y.size)])
    frames += a2e.finish()
    return np.stack([f.coefficients for f in frames])


def lipsync(items: list[tuple[str, np.ndarray, list]], config, chunk: int | None) -> dict:
    per_file, vowels, bilabials, lags, bounds = {}, [], [], [], []
    for name, y, phones in items:
        c = run_stream(y, config, chunk)
        ref = reference_coefficients(phones, len(c))
        v = [c[ks, JAW] for ks in phone_frames(phones, OPEN_VOWELS, len(c))]
        b = [c[ks, JAW] for ks in phone_frames(phones, BILABIALS, len(c))]
        vowels += v
        bilabials += b
        lag = xcorr_lag_s(c[:, JAW], ref[:, JAW])
        lags.append(lag)
        bo = boundary_offsets_s(c, ref, phones)
        bounds.append(bo)
        per_file[name] = {
            "open_vowel_jaw": round(float(np.concatenate(v).mean()), 3) if v else None,
            "bilabial_jaw": round(float(np.concatenate(b).mean()), 3) if b else None,
            "xcorr_lag_ms": round(1000 * lag), "boundary_offsets_ms": np.round(1000 * bo).tolist()}
    v, b, bo = np.concatenate(vowels), np.concatenate(bilabials), np.concatenate(bounds)
    return {"per_file": per_file,
            "pooled": {"open_vowel_jaw": round(float(v.mean()), 3),
                       "bilabial_jaw": round(float(b.mean()), 3),
                       "jaw_ratio": round(float(v.mean() / max(b.mean(), 1e-6)), 2),
                       "n_open_vowels": len(vowels), "n_bilabials": len(bilabials),
                       "xcorr_lag_ms_mean": round(1000 * float(np.mean(lags)), 1),
                       "xcorr_lag_ms_max_abs": round(1000 * float(np.max(np.abs(lags))), 1),
                       "boundary_offset_ms_median": round(1000 * float(np.median(bo)), 1)
                       if bo.size else None,
                       "boundary_offset_ms_mean_abs": round(1000 * float(np.mean(np.abs(bo))), 1)
                       if bo.size else None,
                       "n_boundaries": int(bo.size)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data",
                        help="folder with the aligned speech (default ../shared/data/speech)")
    parser.add_argument("--speed-seconds", type=float, default=120.0)
    parser.add_argument("--latency-seconds", type=float, default=20.0)
    parser.add_argument("--no-espeak", action="store_true")
    args = parser.parse_args()

    speech_dir = shared_speech_dir(args.data)
    material = speech_material(speech_dir)
    report: dict = {"machine": machine()}
    report["speed"] = bench_speed(material, args.speed_seconds)
    if args.latency_seconds > 0:
        report["latency"] = bench_latency(material, args.latency_seconds)
    if speech_dir is not None:
        items = [(wav, load_audio(speech_dir / wav), read_phone_alignment(speech_dir / ali))
                 for wav, ali in ALIGNED if (speech_dir / wav).is_file()]
        report["real_speech"] = {"file": lipsync(items, FILE_CONFIG, None),
                                 "live_20ms_chunks": lipsync(items, LIVE_CONFIG, CHUNK)}
    else:
        report["real_speech"] = "skipped: ../shared/data/speech not found"
    from core.audio import espeak

    if not args.no_espeak and espeak.available():
        items = []
        for i, text in enumerate(ESPEAK_SENTENCES):
            u = espeak.synthesize(text)
            items.append((f"espeak_{i:02d}", u.samples, list(u.phones)))
        res = lipsync(items, FILE_CONFIG, None)
        report["espeak"] = {"file": res["pooled"],
                            "live_20ms_chunks": lipsync(items, LIVE_CONFIG, CHUNK)["pooled"]}
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
