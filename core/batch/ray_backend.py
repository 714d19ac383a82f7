"""Ray execution (``batch --ray ADDRESS``): one Ray task per portrait to prepare it, one per job.

The driver reads each input file and ships its bytes with the task, and a render task returns
the finished MP4's bytes, which the driver writes atomically under the job's ``out``: so the
cluster's nodes need no shared file system (only the project's requirements). The prepared
subject travels from its prepare task to the render tasks through Ray's object store; the
prepare task also fills the subject cache of its node (``--cache-dir`` there, or the default).

``local`` starts a Ray instance on this machine; ``auto`` or HOST:PORT joins a running cluster,
to which the project's code is sent as the job's working directory.
"""
from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

from core.batch.jobs import Job
from core.errors import UserInputError
from core.files import write_atomically
from core.paths import PROJECT_ROOT

INSTALL_HINT = ("--ray needs Ray, which is optional and not installed. Install it with `make ray-setup` "
                "(or `pip install -r requirements-ray.txt` in the project's environment).")
MAX_CPUS_PER_TASK = 4  # torch's speed-up per render flattens out past a few threads
WORKER_ENV = {"OPENBLAS_NUM_THREADS": "1", "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
UPLOAD_EXCLUDES = [".git", ".venv", "out", "tests", "**/__pycache__", "*.mp4"]


def import_ray():
    """The ray module, or a UserInputError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise UserInputError(INSTALL_HINT) from None
    return ray


def cpus_per_task(total_cpus: int, largest_node_cpus: int, tasks: int, workers: int | None) -> int:
    """CPUs (= torch threads) per task: the cluster's CPUs shared by the concurrent tasks
    (``workers`` when given, else every task at once), 1 to MAX_CPUS_PER_TASK, never more
    than the largest node has."""
    share = total_cpus // max(1, workers or tasks)
    return max(1, min(share, MAX_CPUS_PER_TASK, max(1, largest_node_cpus)))


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """For a HOST:PORT (or ray://HOST:PORT) address, fail fast when nothing listens there (Ray
    itself retries for minutes). Other forms (auto) are left to Ray."""
    import socket

    match = re.fullmatch(r"(?:ray://)?\[?([^\]/]+?)\]?:(\d+)", address.strip())
    if not match:
        return
    try:
        socket.create_connection((match.group(1), int(match.group(2))), timeout=timeout_s).close()
    except OSError as exc:
        raise UserInputError(f"cannot reach Ray at {address}: {exc.strerror or exc}. Is the cluster running "
                             f"(`ray start --head` prints its address)?") from None


def _read(path: Path) -> bytes | None:
    """The file's bytes; None when the driver cannot read it (the worker then tries the path
    itself and reports the same message a local run would)."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def _localise(tmp: Path, path: Path, data: bytes | None) -> Path:
    if data is None:
        return path
    local = tmp / path.name
    local.write_bytes(data)
    return local


def _prepare_remote(portrait: str, data: bytes | None, cache_dir: str | None, threads: int):
    from core.batch.work import PrepareOutcome, prepare_portrait, set_threads

    set_threads(threads)
    with tempfile.TemporaryDirectory(prefix="talkinghead-batch-") as tmp:
        local = _localise(Path(tmp), Path(portrait), data)
        outcome, subject = prepare_portrait(local, Path(cache_dir) if cache_dir else None)
        if not outcome.ok:
            outcome = PrepareOutcome(False, outcome.message.replace(str(local), portrait), outcome.seconds)
            return outcome, None
    return outcome, (subject.to_arrays(), list(subject.notes))


def _render_remote(job: Job, subject_payload, driver_data: bytes | None, threads: int):
    import numpy as np

    from core.batch.work import JobOutcome, render_job, set_threads
    from core.preprocess.subject import Subject

    set_threads(threads)
    arrays, notes = subject_payload
    subject = Subject.from_arrays({k: np.array(v) for k, v in arrays.items()}, notes)  # writable copies
    with tempfile.TemporaryDirectory(prefix="talkinghead-batch-") as tmp:
        driver = _localise(Path(tmp), job.driver, driver_data)
        out = Path(tmp) / "render" / job.out.name
        outcome = render_job(job, subject=subject, audio=driver if job.audio is not None else None,
                             coeffs=driver if job.coeffs is not None else None, out=out)
        if not outcome.ok:
            message = outcome.message.replace(str(driver), str(job.driver)).replace(str(out), str(job.out))
            return JobOutcome(job.number, False, message, outcome.seconds), None
        return outcome, out.read_bytes()


class RayBackend:
    """Tasks on a Ray cluster; at most ``capacity`` in flight, so a job's "started" line is
    printed when a slot is free for it."""

    name = "ray"

    def __init__(self, address: str, cache_dir: Path | None, tasks: int, workers: int | None = None):
        ray = import_ray()
        self.ray = ray
        env: dict = {"env_vars": dict(WORKER_ENV)}
        kwargs = dict(log_to_driver=False, runtime_env=env)
        if address == "local":
            kwargs.update(address="local", include_dashboard=False)  # always a new instance
        else:
            check_reachable(address)
            env.update(working_dir=str(PROJECT_ROOT), excludes=UPLOAD_EXCLUDES)
            kwargs.update(address=address)
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise UserInputError(f"cannot start or reach Ray at {address!r}: {exc}") from None
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        total = int(ray.cluster_resources().get("CPU", 1))
        largest = max((int(n.get("Resources", {}).get("CPU", 0)) for n in nodes), default=total)
        self.address = address
        self.cache_dir = cache_dir
        self.cpus = cpus_per_task(total, largest, tasks, workers)
        self.total_cpus = total
        self.capacity = max(1, min(workers or total, total // self.cpus))
        options = dict(num_cpus=self.cpus, max_retries=0)
        self._prepare = ray.remote(num_returns=2, **options)(_prepare_remote)
        self._render = ray.remote(**options)(_render_remote)
        self._inflight: dict = {}   # ObjectRef -> (handle, job or None)
        self._subjects: dict = {}   # portrait group key -> ObjectRef of the prepared subject

    def describe(self) -> str:
        return (f"Ray at {self.address} ({self.total_cpus} CPUs): up to {self.capacity} tasks at once, "
                f"{self.cpus} CPU{'s' if self.cpus != 1 else ''} (torch threads) each")

    def submit_prepare(self, key, portrait: Path, handle) -> None:
        status, subject = self._prepare.remote(str(portrait), _read(portrait),
                                               str(self.cache_dir) if self.cache_dir else None, self.cpus)
        self._subjects[key] = subject
        self._inflight[status] = (handle, None)

    def submit_render(self, key, job: Job, handle) -> None:
        ref = self._render.remote(job, self._subjects[key], _read(job.driver), self.cpus)
        self._inflight[ref] = (handle, job)

    def release(self, key) -> None:
        """Every job of this portrait has finished: drop its subject from the object store."""
        self._subjects.pop(key, None)

    def wait(self) -> list[tuple[object, object]]:
        from core.batch.work import JobOutcome

        ready, _ = self.ray.wait(list(self._inflight), num_returns=1)
        done = []
        for ref in ready:
            handle, job = self._inflight.pop(ref)
            try:
                result = self.ray.get(ref)
            except Exception as exc:  # the task crashed or its worker died
                first = str(exc).strip().splitlines()
                done.append((handle, f"Ray task failed: {type(exc).__name__}: {first[0] if first else ''}"))
                continue
            if job is not None:
                outcome, data = result
                if outcome.ok:
                    t = time.perf_counter()
                    try:
                        write_atomically(job.out, data)
                    except OSError as exc:
                        outcome = JobOutcome(job.number, False, f"cannot write {job.out}: {exc.strerror or exc}",
                                             outcome.seconds)
                    else:
                        outcome = JobOutcome(job.number, True, "", outcome.seconds + time.perf_counter() - t,
                                             outcome.video_seconds, outcome.subject_from_cache)
                result = outcome
            done.append((handle, result))
        return done

    def close(self) -> None:
        self._subjects.clear()
        self.ray.shutdown()

    def stop(self) -> None:
        for ref in list(self._inflight):
            try:
                self.ray.cancel(ref, force=True)
            except Exception:
                pass
        self._inflight.clear()
        self.close()
