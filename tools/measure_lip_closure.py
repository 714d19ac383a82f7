"""Lip closure end to end: espeak-ng speech with exact phone times, rendered, read by FaceMesh.

    python tools/measure_lip_closure.py [--portrait P ...] [--speech espeak|real] [--size 256]
                                        [--closed 0.012] [--json OUT]

1. Speech: ``core.audio.espeak.synthesize`` speaks sentences full of /p b m/; libespeak-ng's
   phoneme events give each phone's exact start and end (espeak-ng marks a /p/ or /b/ from its
   release: the closure before it lies in the phone before). ``--speech real``: the hand-aligned
   recordings of ``../shared/data/speech`` (ARCTIC a0009, praatio's bobby and mary) one after
   another, with their phone alignments.
2. The speech goes through Audio2Exp (as a file, as ``render`` does) and drives each portrait
   (default: the bundled sample and, where ``../shared/data`` exists, its faces and a still of the
   talking video), rendered in the default framing at ``--size`` (photo view, no head motion).
3. FaceMesh on every frame gives the inner-lip gap / face height (``core.evaluation.lipsync``).

Prints per portrait: the share of bilabials whose smallest gap over the phone's frames is below
``--closed`` (closed lips), the mean gap in open vowels over the mean gap in bilabials, the frames
FaceMesh found a face in, and the correlation of the gap with the speech envelope (best lag).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SENTENCES = ("Bob bought a big map from my mom. Maybe the baby may bump the lamp. "
             "Papa put plum jam on a pumpkin bun. A bomb of bubbles popped by the mop. "
             "Tom and Pam came home by bus, and Bob paid them back.")
CLOSED_SHARE_OF_FACE = 0.012  # inner-lip gap / face height below this: closed lips


def measure(portrait: Path, speech_wav: Path, phones, samples: np.ndarray, size: int, closed: float,
            cache: Path) -> dict:
    from core.audio.audio2exp import coefficients_for_file
    from core.audio.evaluation import BILABIALS, OPEN_VOWELS, phone_frames
    from core.engine import Engine, FrameRequest
    from core.evaluation.lipsync import mouth_aperture, speech_envelope, sync_offset
    from core.expression.natural import STILL
    from core.preprocess.pipeline import prepare

    engine = Engine(prepare(portrait, cache_root=cache).subject, "cpu")
    try:
        engine.set_driver(coefficients_for_file(speech_wav))
        frames = [engine.render(FrameRequest(size=size, frame_index=k, natural=STILL)) for k in range(engine.num_frames)]
    finally:
        engine.close()
    gap = mouth_aperture(frames)
    bilabial = phone_frames(phones, BILABIALS, len(gap))
    vowels = phone_frames(phones, OPEN_VOWELS, len(gap))
    closed_flags = [bool(np.nanmin(gap[ks]) < closed) for ks in bilabial if np.isfinite(gap[ks]).any()]
    b = np.concatenate([gap[ks] for ks in bilabial]) if bilabial else np.zeros(0)
    v = np.concatenate([gap[ks] for ks in vowels]) if vowels else np.zeros(0)
    b_mean, v_mean = float(np.nanmean(b)), float(np.nanmean(v))
    sync = sync_offset(gap, speech_envelope(samples, len(gap)))
    return {"portrait": portrait.name, "frames": len(gap), "face_found": int(np.isfinite(gap).sum()),
            "bilabials": len(closed_flags), "closed_share": float(np.mean(closed_flags)) if closed_flags else None,
            "bilabial_gap": b_mean, "open_vowel_gap": v_mean, "open_over_bilabial": v_mean / max(b_mean, 1e-6),
            "n_open_vowels": len(vowels), "sync_lag_frames": sync.lag_frames, "sync_corr": sync.corr_at_lag}


def default_portraits(tmp: Path) -> list[Path]:
    from core.paths import SAMPLE_PORTRAIT

    out = [SAMPLE_PORTRAIT]
    data = ROOT.parent / "shared" / "data"
    faces = data / "faces"
    for name in ("pyfeat_single_face.jpg", "takeo.ppm"):
        if (faces / name).exists():
            out.append(faces / name)
    from measure_mouth_colour import write_video_still

    still = write_video_still(tmp / "cap13_still.png")
    if still is not None:
        out.append(still)
    return out


REAL_SPEECH = (("arctic_a0009.wav", "arctic_a0009_phones_sec.txt"), ("bobby.wav", "bobby_phones.TextGrid"),
               ("mary.wav", "mary.TextGrid"))
REAL_GAP_S = 0.5  # silence between the recordings


def real_speech():
    """The hand-aligned recordings joined: (float32 [n] 16 kHz samples, phone intervals)."""
    from types import SimpleNamespace

    from core.audio.constants import SAMPLE_RATE
    from core.audio.evaluation import read_phone_alignment
    from core.audio.loading import load_audio

    folder = ROOT.parent / "shared" / "data" / "speech"
    if not folder.is_dir():
        raise SystemExit(f"--speech real needs {folder}")
    pieces, phones, t = [], [], 0.0
    gap = np.zeros(int(REAL_GAP_S * SAMPLE_RATE), np.float32)
    for wav, alignment in REAL_SPEECH:
        samples = load_audio(folder / wav)
        phones += [SimpleNamespace(symbol=q.symbol, start_s=q.start_s + t, end_s=q.end_s + t)
                   for q in read_phone_alignment(folder / alignment)]
        pieces += [samples, gap]
        t += (len(samples) + len(gap)) / SAMPLE_RATE
    return SimpleNamespace(samples=np.concatenate(pieces), phones=phones)


def main() -> int:
    import soundfile as sf

    from core.audio import espeak
    from core.audio.constants import SAMPLE_RATE

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portrait", type=Path, nargs="*")
    parser.add_argument("--speech", choices=("espeak", "real"), default="espeak")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--closed", type=float, default=CLOSED_SHARE_OF_FACE)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "tools"))
    if args.speech == "real":
        utterance = real_speech()
    elif not espeak.available():
        raise SystemExit("libespeak-ng is not installed (apt-get install libespeak-ng1)")
    else:
        utterance = espeak.synthesize(SENTENCES)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wav = tmp / "speech.wav"
        sf.write(wav, utterance.samples, SAMPLE_RATE)
        for portrait in args.portrait or default_portraits(tmp):
            r = measure(portrait, wav, utterance.phones, utterance.samples, args.size, args.closed, tmp / "cache")
            results.append(r)
            print(f"{r['portrait']:28s} closed at {r['closed_share']:.0%} of {r['bilabials']} /p b m/; open vowels "
                  f"{r['open_over_bilabial']:.1f} x the bilabial gap ({r['open_vowel_gap']:.4f} / {r['bilabial_gap']:.4f}); "
                  f"face in {r['face_found']}/{r['frames']} frames; gap vs speech r = {r['sync_corr']:.2f} "
                  f"at lag {r['sync_lag_frames']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
