"""The averaged inner-lip mask's lag on an opening mouth (Eq. 13): n = 7 against n = 1.

    python tools/measure_mouth_band.py [--portrait P ...] [--audio SPEECH.wav] [--size 512]
           [--window 7] [--plain-mean]

For each portrait (default: the bundled sample and, where ``../shared/data`` exists, a still of the
talking video, as ``tools/mouth_sheet.py``), two drives: a synthetic opening (jawOpen rising by 0.1
a frame from 0 to 0.6, then held) and the speech (default: the bundled sample). Every frame whose
current inner-lip mask is larger than the frame before's (the mouth opens) is rendered with the
mask window ``--window`` and with 1 (no averaging), default framing, photo view, no natural
motion; the measure is the mean absolute difference (levels, 0..255, mean over RGB) inside the
current inner-lip polygon (the n = 1 mask above 0.5). An averaging that lags the opening shows a
band there (the interior half blended with the deformed lips); none gives 0. ``--plain-mean``
measures the paper's plain mean (``MouthMaskConfig(follow_opening=False)``). Nothing is written.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tools"))

RAMP_STEP, RAMP_TOP, RAMP_FRAMES = 0.1, 0.6, 12  # the synthetic opening: jawOpen per frame, its top, length


def opening_ramp() -> np.ndarray:
    """float32 [RAMP_FRAMES, NUM_EXPRESSIONS]: jawOpen 0, 0.1, ... up to RAMP_TOP, then held."""
    from core.face.arkit import EXPRESSION_INDEX, NUM_EXPRESSIONS

    track = np.zeros((RAMP_FRAMES, NUM_EXPRESSIONS), np.float32)
    track[:, EXPRESSION_INDEX["jawOpen"]] = np.minimum(np.arange(RAMP_FRAMES) * RAMP_STEP, RAMP_TOP)
    return track


def band(engine, size: int, window: int) -> tuple[list[float], int]:
    """Mean |n=window - n=1| (levels) inside the current opening, one per opening frame; and the
    number of frames looked at."""
    from core.engine import FrameRequest
    from core.expression.natural import STILL

    diffs, previous = [], 0.0
    for k in range(engine.num_frames):
        sharp = engine.render_frame(FrameRequest(size=size, frame_index=k, mask_window=1, natural=STILL))
        area = float(sharp.mouth_mask.sum())
        inside = sharp.mouth_mask > 0.5
        if area > previous and inside.sum() > 0:
            smooth = engine.render(FrameRequest(size=size, frame_index=k, mask_window=window, natural=STILL))
            d = np.abs(smooth.astype(np.float64) - sharp.image.astype(np.float64)).mean(axis=2)
            diffs.append(float(d[inside].mean()))
        previous = area
    return diffs, engine.num_frames


def main() -> int:
    from core.audio.audio2exp import coefficients_for_file
    from core.engine import Engine
    from core.paths import SAMPLE_PORTRAIT, SAMPLE_SPEECH
    from core.preprocess.pipeline import prepare
    from core.render.config import RenderConfig

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--portrait", type=Path, nargs="*")
    parser.add_argument("--audio", type=Path, default=SAMPLE_SPEECH)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--window", type=int, default=7)
    parser.add_argument("--plain-mean", action="store_true", help="the paper's plain mean (lags an opening too)")
    args = parser.parse_args()
    config = RenderConfig()
    if args.plain_mean:
        mouth = config.mouth
        config = replace(config, mouth=replace(mouth, mask=replace(mouth.mask, follow_opening=False)))
    speech = coefficients_for_file(args.audio)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        portraits = args.portrait
        if not portraits:
            from measure_mouth_colour import write_video_still

            still = write_video_still(tmp / "cap13_still.png")
            portraits = [SAMPLE_PORTRAIT] + ([still] if still else [])
        for portrait in portraits:
            engine = Engine(prepare(portrait, cache_root=tmp / "cache").subject, "cpu", config=config)
            try:
                for name, track in (("opening ramp", opening_ramp()), ("speech", speech)):
                    engine.set_driver(track)
                    diffs, frames = band(engine, args.size, args.window)
                    if diffs:
                        print(f"{portrait.name:24s} {name:12s} n={args.window} vs n=1 inside the opening: mean "
                              f"{np.mean(diffs):5.2f}  max {np.max(diffs):5.2f} levels over {len(diffs)} opening "
                              f"frames of {frames}")
                    else:
                        print(f"{portrait.name:24s} {name:12s} no opening frames")
            finally:
                engine.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
