"""Talking head from one portrait: viewer, video rendering and tools.

    python main.py prepare --portrait PATH   build the subject cache, print stage timings
    python main.py audio2exp --audio PATH --out coeffs.csv
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Quieter MediaPipe / TensorFlow Lite start-up logs.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="main.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command")

    p = sub.add_parser("prepare", help="preprocess a portrait into the subject cache")
    p.add_argument("--portrait", type=Path, help="image file (default: the bundled sample)")
    p.add_argument("--cache-dir", type=Path, help="cache folder (default: ~/.cache/talking-head)")
    p.add_argument("--no-cache", action="store_true", help="rebuild without reading or writing the cache")

    a = sub.add_parser("audio2exp", help="speech -> per-frame expression coefficients (CSV)")
    a.add_argument("--audio", type=Path, help="audio file (default: the bundled sample)")
    a.add_argument("--out", type=Path, required=True, help="CSV to write")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.commands import prepare_command, run_guarded

    command = args.command or "prepare"
    if command == "prepare":
        return run_guarded(prepare_command, getattr(args, "portrait", None),
                           getattr(args, "cache_dir", None), getattr(args, "no_cache", False))
    if command == "audio2exp":
        from core.audio.commands import audio2exp_command
        from core.paths import SAMPLE_SPEECH

        return run_guarded(lambda: audio2exp_command(args.audio or SAMPLE_SPEECH, args.out) or 0)
    raise AssertionError(command)


if __name__ == "__main__":
    sys.exit(main())
