"""``audio2exp`` command: speech file -> per-frame expression coefficient CSV.

Called by ``python main.py audio2exp --audio PATH --out coeffs.csv``; also runnable alone:
``python -m core.audio.commands --audio speech.wav --out coeffs.csv``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np

from core.audio.audio2exp import FILE_CONFIG, iter_file_coefficients
from core.expression.natural import MotionStream, NaturalMotion
from core.face.arkit import EXPRESSION_INDEX, gaze_to_eye_look
from core.audio.coeff_csv import CoefficientCSVWriter
from core.audio.loading import AudioLoadError


def audio2exp_command(audio_path: Path, out_csv: Path,
                      progress: Callable[[float], None] | None = None,
                      natural: NaturalMotion = NaturalMotion()) -> None:
    """Run Audio2Exp over ``audio_path`` and write the coefficients to ``out_csv``.

    The CSV has a ``time`` column (frame k at k/25 s) and one column per ARKit expression name
    (``core.face.arkit.EXPRESSION_NAMES``), the blinks in eyeBlinkLeft/Right, the head's
    rotation in headYaw/headPitch/headRoll (radians) and the gaze in eyeLook*, generated with ``natural``
    (``core.expression.natural``). Audio is processed in blocks, so an hour-long file
    needs little memory. The CSV appears only when complete (written to a temporary file first).
    ``progress`` receives the fraction done (0..1).
    Raises ``AudioLoadError`` (a ValueError) with a user-facing message for unusable audio.
    """
    audio_path, out_csv = Path(audio_path), Path(out_csv)
    tmp = out_csv.with_name(out_csv.name + ".part")
    try:
        stream = MotionStream(natural)
        with CoefficientCSVWriter(tmp) as writer:
            for block in iter_file_coefficients(audio_path, FILE_CONFIG, progress=progress):
                # The generated blinks, head rotation and gaze travel in the CSV (eyeBlink*, head*, eyeLook*).
                blink, head, gaze = stream.push(block)
                block = np.array(block, np.float32)
                block[:, [EXPRESSION_INDEX["eyeBlinkLeft"], EXPRESSION_INDEX["eyeBlinkRight"]]] = blink[:, None]
                eye_look = gaze_to_eye_look(np.concatenate([gaze, gaze], axis=1))
                writer.write(np.concatenate([block, head[:, :3], eye_look], axis=1))
        os.replace(tmp, out_csv)
    finally:
        if tmp.exists():
            tmp.unlink()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m core.audio.commands",
        description="Speech -> per-frame (25 fps) ARKit expression coefficients as CSV.")
    parser.add_argument("--audio", required=True, type=Path,
                        help="speech file (WAV/FLAC/OGG/MP3...)")
    parser.add_argument("--out", required=True, type=Path, help="output CSV path")
    parser.add_argument("--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)

    def show(fraction: float) -> None:
        print(f"\raudio2exp: {100 * fraction:5.1f} %", end="", file=sys.stderr, flush=True)

    start = time.perf_counter()
    try:
        audio2exp_command(args.audio, args.out, progress=None if args.quiet else show)
    except AudioLoadError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 2
    if not args.quiet:
        print(f"\nwrote {args.out} in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
