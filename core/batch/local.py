"""Local execution: a fixed number of worker processes, each doing whole tasks (prepare a
portrait, render a job), fed one task at a time over its own pipe.

Workers are started with ``spawn`` (no fork of a process that already runs torch or MediaPipe
threads). They ignore SIGINT: on Ctrl+C the parent stops them with SIGTERM, which a worker turns
into KeyboardInterrupt so that the render in progress deletes its temporary file (core.video).
"""
from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
from multiprocessing.connection import wait as wait_connections
from pathlib import Path

STOP_GRACE_S = 10.0  # how long stopped workers get to clean up before they are killed
# SIGTERM is sent again at this interval while a stopped worker runs: the KeyboardInterrupt its
# handler raises is lost when it lands in a callback whose exceptions Python ignores (seen: the
# logging module's at-fork hook while the render started a child process), and the render then
# went on to finish its video. Long enough for a worker's clean-up to finish before the next one.
STOP_RESEND_S = 2.0
WORKER_MEMORY_BYTES = 1.5 * 2**30  # a worker's peak (torch, MediaPipe, a subject, a 512 px render) with room


def total_memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def default_workers(cores: int, memory_bytes: int | None = None) -> int:
    """One single-threaded worker per core, as many as the memory holds, at least one.

    Single-threaded workers are the better use of the cores: a render's torch pool shares them with
    its own ffmpeg encoder and Audio2Exp, and a torch pool whose threads do not all get a core
    waits on the slowest one. Measured on 2 cores: 6 jobs took 27-29 s with 2 x 1 thread and
    74-99 s with 1 x 2 threads (README, "Many videos")."""
    n = max(1, cores)
    if memory_bytes:
        n = min(n, max(1, int(memory_bytes // WORKER_MEMORY_BYTES)))
    return n


def _on_sigterm(signum, frame):  # pragma: no cover - runs in the worker
    raise KeyboardInterrupt


def _worker_main(conn, threads: int, cache_dir: Path | None) -> None:  # pragma: no cover - a child process
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        from core.batch.work import prepare_portrait, render_job, set_threads

        set_threads(threads)
        while True:
            try:
                task = conn.recv()
            except EOFError:
                return
            if task is None:
                return
            kind, payload = task
            if kind == "prepare":
                result = prepare_portrait(payload, cache_dir)[0]
            else:
                result = render_job(payload, cache_dir)
            conn.send(result)
    except KeyboardInterrupt:
        return


class LocalBackend:
    """``workers`` processes with ``threads`` torch threads each."""

    name = "local"

    def __init__(self, workers: int, threads: int, cache_dir: Path | None):
        self._ctx = mp.get_context("spawn")
        self.threads, self.cache_dir = threads, cache_dir
        self._workers: list[tuple[mp.Process, object]] = [self._start() for _ in range(workers)]
        self._busy: dict[int, object] = {}  # worker slot -> handle of its task

    @property
    def capacity(self) -> int:
        return len(self._workers)

    def describe(self) -> str:
        n = len(self._workers)
        return f"{n} worker process{'es' if n != 1 else ''} x {self.threads} torch thread{'s' if self.threads != 1 else ''}"

    def _start(self):
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=_worker_main, args=(child, self.threads, self.cache_dir), daemon=True,
                                 name="batch-worker")
        proc.start()
        child.close()
        return proc, parent

    def _submit(self, kind: str, payload, handle) -> None:
        slot = next(i for i in range(len(self._workers)) if i not in self._busy)
        self._busy[slot] = handle
        self._workers[slot][1].send((kind, payload))

    def submit_prepare(self, key, portrait: Path, handle) -> None:
        self._submit("prepare", portrait, handle)

    def submit_render(self, key, job, handle) -> None:
        self._submit("render", job, handle)  # the worker loads the subject from the cache

    def release(self, key) -> None:
        pass

    def wait(self) -> list[tuple[object, object]]:
        """Block until at least one task finishes: [(handle, outcome or an error message str)]."""
        conns = {self._workers[slot][1]: slot for slot in self._busy}
        sentinels = {self._workers[slot][0].sentinel: slot for slot in self._busy}
        ready = wait_connections(list(conns) + list(sentinels))
        done = []
        for slot in sorted({conns.get(r, sentinels.get(r)) for r in ready}):
            proc, conn = self._workers[slot]
            try:
                result = conn.recv()
            except (EOFError, OSError):
                proc.join(timeout=1.0)
                result = f"the worker process died (exit code {proc.exitcode})"
                conn.close()
                self._workers[slot] = self._start()  # a fresh one for the remaining tasks
            done.append((self._busy.pop(slot), result))
        return done

    def close(self) -> None:
        """Let idle workers exit (after the last task)."""
        for proc, conn in self._workers:
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        self._reap()

    def stop(self) -> None:
        """Stop every worker now (Ctrl+C): SIGTERM (again every ``STOP_RESEND_S`` while it runs),
        then SIGKILL after the grace period."""
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline:
            alive = [proc for proc, _ in self._workers if proc.is_alive()]
            if not alive:
                break
            for proc in alive:
                proc.terminate()
            wait_connections([proc.sentinel for proc in alive], timeout=STOP_RESEND_S)
        self._reap()

    def _reap(self) -> None:
        """Wait for every worker to end (SIGKILL after the grace period) and close its pipe."""
        for proc, conn in self._workers:
            proc.join(timeout=STOP_GRACE_S)
            if proc.is_alive():
                proc.kill()
                proc.join()
            conn.close()
