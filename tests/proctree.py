"""Processes below a test's subprocess, read from /proc (Linux; psutil is not a dependency), and
inputs long enough to interrupt them."""
from __future__ import annotations

import time
from pathlib import Path


def long_speech(path: Path, seconds: float = 20.0) -> Path:
    """The bundled sample speech repeated to ``seconds`` (a render that surely runs long enough to
    be interrupted: at 3 s the sample renders before a signal arrives on a fast machine)."""
    import numpy as np
    import soundfile as sf

    from core.paths import SAMPLE_SPEECH

    audio, rate = sf.read(SAMPLE_SPEECH, dtype="float32")
    sf.write(path, np.tile(audio, int(np.ceil(seconds * rate / len(audio))))[: int(seconds * rate)], rate)
    return path


def start_time(pid: int) -> int | None:
    """The process's start time (clock ticks since boot), None once it has ended (or is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (name) "
    return None if fields[0] in ("Z", "X") else int(fields[19])


def descendants(pid: int) -> dict[int, int]:
    """Every process below ``pid``: pid -> start time (so a reused pid is not taken for it)."""
    found: dict[int, int] = {}
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                continue
            for child in children:
                start = start_time(child)
                if start is not None and child not in found:
                    found[child] = start
                    todo.append(child)
    return found


def still_running(processes: dict[int, int], timeout: float = 15.0) -> list[str]:
    """Those of ``processes`` still running after ``timeout`` (their command lines)."""
    deadline = time.time() + timeout
    while True:
        alive = [pid for pid, start in processes.items() if start_time(pid) == start]
        if not alive or time.time() > deadline:
            break
        time.sleep(0.2)
    out = []
    for pid in alive:
        try:
            out.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:160])
        except OSError:
            pass
    return out


def command_line(pid: int) -> bytes:
    """The process's command line (NUL-separated), b"" once it has ended."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
