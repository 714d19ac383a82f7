"""The render process's life cycle: it ignores Ctrl+C (the viewer decides when it ends), quits
quietly when its pipe closes, and ``stop()`` frees everything once, however often it is called."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from viewer.render_process import RenderProcess


def _ended(proc, timeout: float) -> bool:
    proc.join(timeout)
    return not proc.is_alive()


def test_stop_is_idempotent_and_frees_the_shared_memory(capfd):
    rp = RenderProcess("cpu")
    shm = Path("/dev/shm") / rp._shm.name
    assert shm.exists()
    os.kill(rp._proc.pid, signal.SIGINT)  # a Ctrl+C reaching the whole process group
    time.sleep(1.0)
    assert rp._proc.is_alive(), "the render process died of SIGINT"
    t = time.perf_counter()
    rp.stop()
    assert time.perf_counter() - t < 5
    assert not rp._proc.is_alive() and rp._proc.exitcode == 0  # it quit on the message, not killed
    assert not shm.exists()
    t = time.perf_counter()
    rp.stop()  # again (a finally block after a signal handler): nothing, at once
    rp.stop()
    assert time.perf_counter() - t < 0.1
    err = capfd.readouterr().err
    assert "Traceback" not in err and "leaked" not in err, err


def test_the_child_quits_quietly_when_its_pipe_closes(capfd):
    errors = []
    rp = RenderProcess("cpu", on_error=errors.append)
    rp._conn.close()  # as when the viewer is gone
    assert _ended(rp._proc, 30), "the render process outlived its pipe"
    assert rp._proc.exitcode == 0
    rp.stop()
    assert not (Path("/dev/shm") / rp._shm.name).exists()
    assert errors == []  # stopping: a closed pipe is not reported as a render failure
    err = capfd.readouterr().err
    assert "Traceback" not in err and "EOFError" not in err, err
