"""``main.py batch``: the jobs file, local worker processes, skipping, Ctrl+C and Ray.

Renders are tiny (64 px, 10 frames: 0.4 s of the sample speech or a 10-row coefficient CSV) and
every test has its own subject cache.
"""
from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from core.batch.jobs import JobsFileError, load_jobs
from core.batch.run import DONE, FAILED, SKIPPED, run_batch
from core.paths import PROJECT_ROOT, SAMPLE_PORTRAIT, SAMPLE_SPEECH
from main import main
from proctree import long_speech

FRAMES = 10


# ----------------------------------------------------------------------------- helpers
@pytest.fixture()
def inputs(tmp_path) -> Path:
    """A folder with short.wav (0.4 s of the sample), coeffs.csv (10 frames), a portrait with no
    face, a corrupt wav and a copy of the sample portrait."""
    import soundfile as sf

    d = tmp_path / "in"
    d.mkdir()
    audio, rate = sf.read(SAMPLE_SPEECH, dtype="float32")
    sf.write(d / "short.wav", audio[int(0.8 * rate):int(1.2 * rate)], rate)
    with open(d / "coeffs.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["time", "jawOpen", "mouthFunnel"])
        for k in range(FRAMES):
            w.writerow([f"{k / 25:.2f}", f"{0.5 * np.sin(k / 3) ** 2:.4f}", "0.1"])
    rng = np.random.default_rng(0)
    from PIL import Image

    Image.fromarray(np.full((96, 96, 3), 128, np.uint8) + rng.integers(0, 20, (96, 96, 3), dtype=np.uint8)) \
        .save(d / "noface.png")
    (d / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt junk" * 20)
    (d / "portrait.png").write_bytes(SAMPLE_PORTRAIT.read_bytes())
    return d


def write_json(path: Path, jobs: list[dict]) -> Path:
    path.write_text(json.dumps(jobs, indent=1))
    return path


def video_info(path: Path) -> tuple[int, bool]:
    """(number of video frames, whether an audio stream is there), read back with ffmpeg."""
    import imageio_ffmpeg

    frames, _ = imageio_ffmpeg.count_frames_and_secs(str(path))
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(path)],
                           capture_output=True, text=True)
    return frames, bool(re.search(r"Stream #\S+.*: Audio: aac", probe.stderr))


# ----------------------------------------------------------------------------- the jobs file
def test_csv_and_json_give_the_same_jobs(tmp_path):
    (tmp_path / "jobs.csv").write_text(
        "portrait,audio,coeffs,out,size,yaw,pitch,orbit,alpha-m,lambda_exp,mask_window,device,framing,zoom\n"
        "faces/a.png,speech/x.wav,,out/1.mp4,64,10,-5,,0.3,,3,cpu,photo,1.5\n"
        "\n"
        "/abs/b.jpg,,c.csv,out/2.mp4,,,,true,,2,,,,\n")
    write_json(tmp_path / "jobs.json", [
        {"portrait": "faces/a.png", "audio": "speech/x.wav", "out": "out/1.mp4", "size": 64, "yaw": 10,
         "pitch": -5.0, "alpha_m": 0.3, "mask_window": 3, "device": "cpu", "framing": "photo", "zoom": 1.5},
        {"portrait": "/abs/b.jpg", "coeffs": "c.csv", "out": "out/2.mp4", "orbit": True, "lambda_exp": 2,
         "audio": None},
    ])
    from_csv, from_json = load_jobs(tmp_path / "jobs.csv"), load_jobs(tmp_path / "jobs.json")
    assert from_csv == from_json
    first, second = from_csv
    assert first.portrait == tmp_path / "faces" / "a.png"          # relative to the jobs file's folder
    assert first.audio == tmp_path / "speech" / "x.wav" and first.coeffs is None
    assert (first.options.size, first.options.mask_window, first.options.motion.alpha_m) == (64, 3, 0.3)
    assert (first.yaw, first.pitch, first.orbit, first.device) == (10.0, -5.0, False, "cpu")
    assert first.options.framing == "photo" and first.pose.zoom == 1.5 and second.options.framing == "head"
    assert second.portrait == Path("/abs/b.jpg") and second.coeffs == tmp_path / "c.csv"
    assert second.orbit and second.options.motion.lambda_exp == 2.0 and second.options.size == 256
    assert [j.number for j in from_csv] == [1, 2] and first.where == "job 1 (line 2)"
    assert second.where == "job 2 (line 4)"


def test_every_problem_is_reported_with_its_job(tmp_path):
    (tmp_path / "jobs.csv").write_text(
        "portrait,audio,out,colour\n"
        "p.png,a.wav,o1.mp4,red\n")
    with pytest.raises(JobsFileError, match=r"header \(line 1\): unknown column 'colour'"):
        load_jobs(tmp_path / "jobs.csv")
    bad = write_json(tmp_path / "bad.json", [
        {"portrait": "p.png", "audio": "a.wav", "out": "o1.mp4"},                      # fine
        {"portrait": "p.png", "audio": "a.wav", "coeffs": "c.csv", "out": "o2.mp4"},   # both drivers
        {"audio": "a.wav", "out": "o3.mp4", "size": 10},                               # no portrait, size
        {"portrait": "p.png", "audio": "a.wav", "out": "o4.mp4", "alpha_m": 2, "sise": 64},
        {"portrait": "p.png", "audio": "a.wav", "out": "o1.mp4", "mask_window": "x", "orbit": "maybe"},
        "not an object",
        {"portrait": "p.png", "out": "o7.mp4", "device": "tpu"},
        {"portrait": "p.png", "audio": "a.wav", "out": "o8.mp4", "framing": "face", "zoom": 7},
    ])
    with pytest.raises(JobsFileError) as err:
        load_jobs(bad)
    problems = err.value.problems
    expected = [r"^job 2: give audio or coeffs, not both", r"^job 3: missing portrait",
                r"^job 3: size must be between 32 and 2048", r"^job 4: unknown key 'sise'",
                r"^job 4: alpha_m must be in \[0, 1\]", r"^job 5: mask_window must be a whole number",
                r"^job 5: orbit must be true or false", r"^job 6: must be an object",
                r"^job 7: missing audio", r"^job 7: device must be auto, cpu or cuda",
                r"^job 8: zoom must be between", r"^job 8: framing must be one of"]
    for pattern in expected:
        assert any(re.search(pattern, p) for p in problems), (pattern, problems)
    assert not any(p.startswith("job 1:") for p in problems)
    # The CLI: every problem on stderr, exit code 2, nothing rendered.
    assert main(["batch", str(bad)]) == 2
    assert main(["batch", str(tmp_path / "missing.csv")]) == 2
    (tmp_path / "empty.csv").write_text("portrait,audio,out\n")
    with pytest.raises(JobsFileError, match="no jobs"):
        load_jobs(tmp_path / "empty.csv")
    (tmp_path / "broken.json").write_text("[{\"portrait\": ")
    with pytest.raises(JobsFileError, match="not valid JSON"):
        load_jobs(tmp_path / "broken.json")


def test_ray_missing_says_how_to_install(tmp_path, inputs, monkeypatch, capsys):
    jobs = write_json(tmp_path / "jobs.json", [{"portrait": "in/portrait.png", "coeffs": "in/coeffs.csv",
                                                "out": "o.mp4", "size": 64}])
    monkeypatch.setitem(sys.modules, "ray", None)   # import ray -> ImportError
    assert main(["batch", str(jobs), "--ray", "local", "--cache-dir", str(tmp_path / "cache")]) == 2
    err = capsys.readouterr().err
    assert "make ray-setup" in err and "Traceback" not in err
    assert not (tmp_path / "o.mp4").exists()


# ----------------------------------------------------------------------------- local workers
def test_local_batch_prepares_once_and_isolates_failures(tmp_path, inputs, capsys):
    cache = tmp_path / "cache"
    jobs = write_json(tmp_path / "jobs.json", [
        {"portrait": "in/portrait.png", "audio": "in/short.wav", "out": "out/a.mp4", "size": 64},
        {"portrait": "in/portrait.png", "coeffs": "in/coeffs.csv", "out": "out/b.mp4", "size": 64, "yaw": 15},
        {"portrait": "in/portrait.png", "audio": "in/corrupt.wav", "out": "out/c.mp4", "size": 64},
        {"portrait": "in/noface.png", "audio": "in/short.wav", "out": "out/d.mp4", "size": 64},
        {"portrait": "in/portrait.png", "audio": "in/short.wav", "out": "out/e.mp4", "size": 64, "orbit": True},
    ])
    report = run_batch(jobs, workers=2, cache_dir=cache)
    out = capsys.readouterr().out
    status = {r.job.number: r.status for r in report.rows}
    assert status == {1: DONE, 2: DONE, 3: FAILED, 4: FAILED, 5: DONE}
    assert report.exit_code == 1
    messages = {r.job.number: r.message for r in report.rows}
    assert "corrupt.wav" in messages[3] and "No face found" in messages[4]
    assert re.search(r"\[job 3/5\] failed +.*corrupt\.wav", out) and "[job 4/5] failed   No face found" in out
    assert re.search(r"\[job 1/5\] done +in [\d.]+ s \([\d.]+ x real time\)", out)
    assert "[job 2/5] started" in out
    for line in ("job  status", "   3  failed"):                              # the summary table
        assert line in out
    for name, has_audio in (("a", True), ("b", False), ("e", True)):
        frames, audio = video_info(tmp_path / "out" / f"{name}.mp4")
        assert frames == FRAMES and audio == has_audio, name
    assert not (tmp_path / "out" / "c.mp4").exists() and not (tmp_path / "out" / "d.mp4").exists()
    assert not list((tmp_path / "out").glob("*.part*"))
    # The portrait was prepared once, before its jobs: they all found it in the cache.
    prepared = {g.portrait.name: g.outcome for g in report.portraits}
    assert prepared["portrait.png"].ok and not prepared["portrait.png"].from_cache
    assert not prepared["noface.png"].ok
    assert [r.outcome.subject_from_cache for r in report.rows if r.job.number in (1, 2, 3, 5)] == [True] * 4
    assert len(list(cache.glob("*.npz"))) == 1

    # Again: finished outputs are skipped (the failed jobs are tried again and fail again).
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.mp4")}
    report = run_batch(jobs, workers=2, cache_dir=cache)
    assert [r.status for r in report.rows] == [SKIPPED, SKIPPED, FAILED, FAILED, SKIPPED]
    assert "[job 1/5] skipped" in capsys.readouterr().out
    assert before == {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*.mp4")}
    # --overwrite renders an existing output again.
    one = write_json(tmp_path / "one.json", [{"portrait": "in/portrait.png", "coeffs": "in/coeffs.csv",
                                              "out": "out/b.mp4", "size": 64}])
    assert main(["batch", str(one), "--workers", "1", "--cache-dir", str(cache)]) == 0
    assert (tmp_path / "out" / "b.mp4").stat().st_mtime_ns == before["b.mp4"]
    assert main(["batch", str(one), "--workers", "1", "--overwrite", "--cache-dir", str(cache)]) == 0
    assert (tmp_path / "out" / "b.mp4").stat().st_mtime_ns != before["b.mp4"]
    assert video_info(tmp_path / "out" / "b.mp4")[0] == FRAMES


def test_ctrl_c_stops_workers_and_leaves_no_partial_file(tmp_path):
    """Two long renders; SIGINT to the whole process group (what Ctrl+C does) once both run."""
    speech = long_speech(tmp_path / "long.wav")
    jobs = write_json(tmp_path / "jobs.json", [
        {"portrait": str(SAMPLE_PORTRAIT), "audio": str(speech), "out": f"out/{k}.mp4", "size": 384}
        for k in range(2)])
    proc = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "main.py"), "batch", str(jobs), "--workers", "2",
                             "--cache-dir", str(tmp_path / "cache")], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    seen = []
    try:
        deadline = time.monotonic() + 120
        for line in proc.stdout:
            seen.append(line)
            if sum("started" in s for s in seen) == 2 or time.monotonic() > deadline:
                break
        for _ in range(100):   # until a render has opened its temporary file
            if list((tmp_path / "out").glob("*.part*")):
                break
            time.sleep(0.1)
        assert list((tmp_path / "out").glob("*.part*")), "".join(seen)
        os.killpg(proc.pid, signal.SIGINT)
        rest = proc.communicate(timeout=60)[0]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, "".join(seen) + rest
    assert "interrupted" in rest
    assert not list((tmp_path / "out").iterdir())          # no partial file, no half video
    for _ in range(50):   # the workers (and their ffmpeg) are gone with the batch process
        left = subprocess.run(["ps", "-o", "pid=,stat=,args=", "-s", str(proc.pid)], capture_output=True,
                              text=True).stdout.strip()
        if not left:
            break
        time.sleep(0.1)
    assert not left, f"processes still running: {left}"


# ----------------------------------------------------------------------------- Ray
def test_ray_local_instance_runs_the_jobs(tmp_path, inputs, capsys):
    pytest.importorskip("ray")
    cache = tmp_path / "cache"
    jobs = write_json(tmp_path / "jobs.json", [
        {"portrait": "in/portrait.png", "audio": "in/short.wav", "out": "out/a.mp4", "size": 64},
        {"portrait": "in/portrait.png", "coeffs": "in/coeffs.csv", "out": "out/b.mp4", "size": 64, "pitch": 10},
        {"portrait": "in/portrait.png", "audio": "in/corrupt.wav", "out": "out/c.mp4", "size": 64},
    ])
    report = run_batch(jobs, ray_address="local", cache_dir=cache)
    out = capsys.readouterr().out
    assert "Ray at local" in report.backend
    assert [r.status for r in report.rows] == [DONE, DONE, FAILED] and report.exit_code == 1
    assert "corrupt.wav" in report.rows[2].message and str(inputs / "corrupt.wav") in report.rows[2].message
    assert video_info(tmp_path / "out" / "a.mp4") == (FRAMES, True)
    assert video_info(tmp_path / "out" / "b.mp4") == (FRAMES, False)
    assert not (tmp_path / "out" / "c.mp4").exists() and not list((tmp_path / "out").glob("*.part*"))
    assert len(report.portraits) == 1 and out.count("[prepare] in/portrait.png prepared") + \
        out.count(f"[prepare] {inputs / 'portrait.png'} prepared") == 1
    assert len(list(cache.glob("*.npz"))) == 1                  # the prepare task filled the cache
    assert re.search(r"\[job 1/3\] done +in [\d.]+ s", out) and "   3  failed" in out
    import ray

    assert not ray.is_initialized()                             # the instance was shut down


def test_ray_unreachable_address_fails_fast(tmp_path, inputs, capsys):
    pytest.importorskip("ray")
    jobs = write_json(tmp_path / "jobs.json", [{"portrait": "in/portrait.png", "coeffs": "in/coeffs.csv",
                                                "out": "o.mp4", "size": 64}])
    t0 = time.monotonic()
    assert main(["batch", str(jobs), "--ray", "127.0.0.1:1"]) == 2
    assert time.monotonic() - t0 < 30
    assert "cannot reach Ray at 127.0.0.1:1" in capsys.readouterr().err
