"""Command implementations behind ``main.py``. Each returns a process exit code."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from core.errors import UserInputError
from core.paths import SAMPLE_PORTRAIT


def _say(msg: str) -> None:
    print(msg, flush=True)


def prepare_command(portrait: Path | None, cache_dir: Path | None, no_cache: bool = False) -> int:
    """Build (or load) the subject cache for a portrait and print the time of each stage."""
    from core.preprocess.pipeline import prepare

    path = portrait or SAMPLE_PORTRAIT
    _say(f"preparing {path}")
    t0 = time.perf_counter()

    def progress(stage: str, fraction: float) -> None:
        print(f"  [{fraction * 100:5.1f}%] {stage}", file=sys.stderr, flush=True)

    result = prepare(path, cache_root=cache_dir, progress=progress, use_cache=not no_cache)
    total = time.perf_counter() - t0
    for msg in result.messages:
        _say(f"note: {msg}")
    for stage, seconds in result.stage_seconds.items():
        _say(f"  {stage:28s} {seconds * 1000:8.1f} ms")
    s = result.subject
    _say(f"{'loaded from cache' if result.from_cache else 'built'} in {total:.2f} s "
         f"(cache key {result.cache_key})")
    _say(f"  image {s.intrinsics.width}x{s.intrinsics.height}, head at {s.translation[2]:.0f} cm, "
         f"model reprojection error mean {s.reprojection_px[0]:.2f} px, max {s.reprojection_px[1]:.2f} px")
    return 0


def run_guarded(fn, *args, **kwargs) -> int:
    """Run a command; user errors print a message instead of a traceback."""
    try:
        return fn(*args, **kwargs)
    except UserInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
