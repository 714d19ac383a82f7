"""``python main.py batch JOBS``: check every job, prepare each portrait once, render the jobs on
local worker processes or a Ray cluster, print a line per job and a summary table.

Order of work: the distinct portraits (by file content) are prepared first, one task each; when a
portrait is ready its jobs are queued, and each loads the prepared subject (from the subject cache
locally, from Ray's object store on Ray) instead of preparing it again. A portrait that cannot be
used fails its jobs with its message; the other jobs go on.

Exit codes: 0 every job done or skipped, 1 some job failed, 2 the jobs file cannot be used,
130 interrupted (Ctrl+C: workers are stopped and no partial output is left), 143 after SIGTERM.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from core.batch.jobs import Job, load_jobs
from core.batch.work import JobOutcome, PrepareOutcome
from core.errors import UserInputError
from core.files import partial_files

DONE, FAILED, SKIPPED, INTERRUPTED, NOT_RUN = "done", "failed", "skipped", "interrupted", "not run"


@dataclass
class Row:
    """The summary of one job."""

    job: Job
    status: str = NOT_RUN
    seconds: float | None = None
    message: str = ""
    outcome: JobOutcome | None = None


@dataclass
class PortraitGroup:
    key: str
    portrait: Path
    jobs: list[Job]
    outcome: PrepareOutcome | None = None
    remaining: int = 0


@dataclass
class BatchReport:
    rows: list[Row]
    portraits: list[PortraitGroup] = field(default_factory=list)
    backend: str = ""
    wall_seconds: float = 0.0
    interrupted: bool = False
    terminated: bool = False  # the interruption was a SIGTERM, not a Ctrl+C

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 143 if self.terminated else 130
        return 1 if any(r.status == FAILED for r in self.rows) else 0


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _short(path: Path) -> str:
    """A path relative to the current folder when it lies below it."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _portrait_key(path: Path) -> str:
    """Portraits with the same bytes share one cache entry, so one preparation."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return f"unreadable:{os.path.abspath(path)}"


def _remove_partials(job: Job) -> None:
    """Temporary files of an interrupted render of ``job`` (core.video's naming), if a worker had
    no time to delete its own."""
    for part in partial_files(job.out):
        part.unlink(missing_ok=True)


def run_batch(jobs_file: str | Path, workers: int | None = None, overwrite: bool = False,
              ray_address: str | None = None, cache_dir: Path | None = None,
              say: Callable[[str], None] | None = None) -> BatchReport:
    """Run a jobs file. Raises UserInputError (JobsFileError) before anything runs when the file or
    a job in it is unusable, or when --workers / --ray cannot be used."""
    say = say or (lambda msg: print(msg, flush=True))
    if workers is not None and workers < 1:
        raise UserInputError("--workers must be at least 1")
    jobs = load_jobs(jobs_file)
    t_start = time.perf_counter()
    rows = {job.number: Row(job) for job in jobs}
    total = len(jobs)

    def tag(job: Job) -> str:
        return f"[job {job.number}/{total}]"

    todo: list[Job] = []
    for job in jobs:
        if job.out.exists() and not overwrite:
            rows[job.number].status = SKIPPED
            rows[job.number].message = "output exists (--overwrite to render again)"
        else:
            todo.append(job)
    groups: dict[str, PortraitGroup] = {}
    for job in todo:
        key = _portrait_key(job.portrait)
        group = groups.setdefault(key, PortraitGroup(key, job.portrait, []))
        group.jobs.append(job)
        group.remaining += 1
    report = BatchReport(list(rows.values()), list(groups.values()))

    backend = None
    inflight: dict[int, Job] = {}
    try:
        if todo:
            backend = _make_backend(ray_address, workers, cache_dir, len(todo), len(groups))
            report.backend = backend.describe()
        say(f"batch: {total} job{'s' if total != 1 else ''} from {jobs_file}, {len(todo)} to render, "
            f"{total - len(todo)} skipped, {len(groups)} portrait{'s' if len(groups) != 1 else ''}"
            + (f"; {report.backend}" if backend else ""))
        for job in jobs:
            if rows[job.number].status == SKIPPED:
                say(f"{tag(job)} skipped  {_short(job.out)} exists (--overwrite to render again)")
        pending = deque(groups.values())
        ready: deque[tuple[PortraitGroup, Job]] = deque()
        running = 0

        def finish(group: PortraitGroup, job: Job, result) -> None:
            row = rows[job.number]
            if isinstance(result, JobOutcome) and result.ok:
                row.status, row.seconds, row.outcome = DONE, result.seconds, result
                say(f"{tag(job)} done     in {result.seconds:.1f} s ({result.realtime_factor:.2f} x real time)"
                    f" -> {_short(job.out)}")
            else:
                message = result.message if isinstance(result, (JobOutcome, PrepareOutcome)) else str(result)
                row.status, row.message = FAILED, message
                row.seconds = result.seconds if isinstance(result, JobOutcome) else None
                row.outcome = result if isinstance(result, JobOutcome) else None
                say(f"{tag(job)} failed   {message}")
            group.remaining -= 1
            if group.remaining == 0:
                backend.release(group.key)

        while pending or ready or running:
            while running < backend.capacity and (pending or ready):
                if pending:
                    group = pending.popleft()
                    backend.submit_prepare(group.key, group.portrait, ("prepare", group, None))
                    say(f"[prepare] {_short(group.portrait)} ({len(group.jobs)} job{'s' if len(group.jobs) != 1 else ''})")
                else:
                    group, job = ready.popleft()
                    backend.submit_render(group.key, job, ("render", group, job))
                    inflight[job.number] = job
                    say(f"{tag(job)} started  {job.portrait.name} + {job.driver.name} -> {_short(job.out)}")
                running += 1
            for (kind, group, job), result in backend.wait():
                running -= 1
                if kind == "prepare":
                    ok = isinstance(result, PrepareOutcome) and result.ok
                    group.outcome = result if isinstance(result, PrepareOutcome) else PrepareOutcome(False, str(result))
                    if ok:
                        how = "loaded from the cache" if result.from_cache else "prepared"
                        note = f" (note: {result.message})" if result.message else ""
                        say(f"[prepare] {_short(group.portrait)} {how} in {result.seconds:.1f} s{note}")
                        ready.extend((group, j) for j in group.jobs)
                    else:
                        say(f"[prepare] {_short(group.portrait)} failed: {group.outcome.message}")
                        for j in group.jobs:
                            finish(group, j, group.outcome)
                else:
                    inflight.pop(job.number, None)
                    finish(group, job, result)
    except KeyboardInterrupt as exc:
        from core.commands import Terminated

        report.interrupted = True
        report.terminated = isinstance(exc, Terminated)
        if backend is not None:
            backend.stop()
        for job in inflight.values():
            _remove_partials(job)
            rows[job.number].status = INTERRUPTED
        backend = None
    finally:
        if backend is not None:
            backend.close()
    report.wall_seconds = time.perf_counter() - t_start
    _summary(report, say)
    return report


def _make_backend(ray_address: str | None, workers: int | None, cache_dir: Path | None, tasks: int, portraits: int):
    if ray_address:
        from core.batch.ray_backend import RayBackend

        return RayBackend(ray_address, cache_dir, tasks, workers)
    from core.batch.local import LocalBackend, default_workers, total_memory_bytes

    cores = available_cores()
    n = min(workers or default_workers(cores, total_memory_bytes()), max(tasks, portraits))
    return LocalBackend(n, max(1, cores // n), cache_dir)


def _summary(report: BatchReport, say: Callable[[str], None]) -> None:
    say("")
    say(f"{'job':>4}  {'status':<11} {'seconds':>8}  output")
    for row in report.rows:
        seconds = f"{row.seconds:8.1f}" if row.seconds is not None else f"{'-':>8}"
        note = f"  ({row.message})" if row.status == FAILED else ""
        say(f"{row.job.number:>4}  {row.status:<11} {seconds}  {_short(row.job.out)}{note}")
    counts = {s: sum(r.status == s for r in report.rows) for s in (DONE, FAILED, SKIPPED, INTERRUPTED, NOT_RUN)}
    parts = ", ".join(f"{n} {s}" for s, n in counts.items() if n or s in (DONE, FAILED))
    say(f"{len(report.rows)} jobs: {parts}; wall time {report.wall_seconds:.1f} s"
        + ("; interrupted" if report.interrupted else ""))


def batch_command(jobs_file: Path, workers: int | None = None, overwrite: bool = False,
                  ray_address: str | None = None, cache_dir: Path | None = None) -> int:
    report = run_batch(jobs_file, workers, overwrite, ray_address, cache_dir)
    if report.interrupted:
        print(f"{'terminated' if report.terminated else 'interrupted'}: the workers were stopped; finished "
              "videos are kept, no partial file is left", file=sys.stderr)
    return report.exit_code
