"""Talking head from one portrait: viewer, video rendering and tools.

    python main.py                           open the viewer on the bundled sample
                                             (with no display: render the sample to a video)
    python main.py viewer [--portrait PATH] [--audio PATH]

    python main.py prepare --portrait PATH   build the subject cache, print stage timings
    python main.py audio2exp --audio PATH --out coeffs.csv
    python main.py render [--portrait PATH] [--audio PATH | --coeffs CSV] --out OUT.mp4
    python main.py batch JOBS [--workers N] [--overwrite] [--ray ADDRESS] [--cache-dir DIR]
                                             many renders from a jobs file (CSV or JSON: portrait,
                                             audio or coeffs, out, and render's options per job),
                                             on local worker processes or a Ray cluster
    python main.py eval --portraits DIR_OR_FILES --audio DIR_OR_FILES --out REPORT_DIR
    python main.py bench
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Quieter MediaPipe / TensorFlow Lite start-up logs.
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# One thread pool for the heavy work (torch's). numpy's BLAS (OpenBLAS) only sees small matrices here, and a
# second pool of spinning threads on a 2-core machine stalls torch's.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def build_parser() -> argparse.ArgumentParser:
    from core.expression.natural import GAZE_MODES
    from core.options import RenderOptions
    from core.render.camera import FRAMINGS

    defaults = RenderOptions()

    def add_natural(p: argparse.ArgumentParser) -> None:
        n = defaults.natural
        p.add_argument("--blink-rate", type=float, default=n.blink_rate,
                       help=f"blinks per minute, 0 = no blinks (default {n.blink_rate:g})")
        p.add_argument("--head-motion", type=float, default=n.head_motion,
                       help=f"amount of head motion, 1 = like a real speaker, 0 = still (default {n.head_motion:g})")
        p.add_argument("--seed", type=int, default=n.seed,
                       help=f"the same seed gives the same blinks, gaze and head motion (default {n.seed})")
        p.add_argument("--gaze", choices=GAZE_MODES, default=n.gaze,
                       help="on: natural eye movements; off: the photo's gaze; camera: the eyes follow the "
                            f"viewing camera (default {n.gaze})")

    def add_framing(p: argparse.ArgumentParser, default: str | None = defaults.framing) -> None:
        p.add_argument("--framing", choices=FRAMINGS, default=default,
                       help="head: head and shoulders, the face about 45%% of the frame height; photo: the "
                            f"photo's largest square (default {defaults.framing})")
        p.add_argument("--zoom", type=float, default=None,
                       help="move the camera toward the head by this factor (0.5 to 3; default 1)")
    def add_renderer(p: argparse.ArgumentParser) -> None:
        from core.options import DEFAULT_RENDERER, RENDERERS

        p.add_argument("--renderer", choices=RENDERERS, default=DEFAULT_RENDERER,
                       help="raster: OpenGL (hardware, or Mesa's software rasteriser); march: the torch ray "
                            f"marcher; auto: raster where OpenGL works (default {DEFAULT_RENDERER})")
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

    r = sub.add_parser("render", help="render a talking-head video with sound (no display needed)")
    r.add_argument("--portrait", type=Path, help="image file (default: the bundled sample)")
    r.add_argument("--audio", type=Path, help="speech file (default: the bundled sample); with --coeffs: the sound only")
    r.add_argument("--coeffs", type=Path, help="per-frame expression CSV (from audio2exp, or a Live Link Face "
                                               "recording) that drives the face instead of the audio")
    r.add_argument("--out", type=Path, default=Path("out/talking_head.mp4"), help="MP4 to write")
    r.add_argument("--size", type=int, default=defaults.size,
                   help=f"output height and width in pixels (default {defaults.size})")
    r.add_argument("--yaw", type=float, default=0.0, help="degrees, offset from the photo's view (+: subject's left)")
    r.add_argument("--pitch", type=float, default=0.0, help="degrees, offset from the photo's view (+: from above)")
    r.add_argument("--orbit", action="store_true", help="a smooth turntable camera path")
    add_framing(r)
    r.add_argument("--performance", type=Path,
                   help="a viewer recording (JSON: camera and sliders per frame) to render instead")
    r.add_argument("--alpha-m", type=float, default=defaults.motion.alpha_m,
                   help=f"momentum alpha_m in [0, 1] (default {defaults.motion.alpha_m})")
    r.add_argument("--lambda-exp", type=float, default=defaults.motion.lambda_exp,
                   help=f"expression scale lambda_exp (default {defaults.motion.lambda_exp})")
    r.add_argument("--mask-window", type=int, default=defaults.mask_window,
                   help=f"mouth-mask averaging window n (default {defaults.mask_window})")
    add_natural(r)
    r.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    add_renderer(r)
    r.add_argument("--workers", type=int, default=None,
                   help="processes drawing frames: 2 lets a second one draw every other frame while this one "
                        "works (the software rasteriser; default: 2 where there are two cores and the memory "
                        "for it, else 1)")
    r.add_argument("--cache-dir", type=Path, help="subject cache folder")

    from core.batch.jobs import OPTION_KEYS as JOB_OPTION_KEYS

    bt = sub.add_parser("batch", help="render many jobs from a CSV or JSON jobs file",
                        description="Render every job of a jobs file (a CSV with a header row, or a JSON list of "
                                    "objects) with keys portrait, audio or coeffs, out, and optionally "
                                    f"{', '.join(JOB_OPTION_KEYS)}. Relative paths are "
                                    "relative to the jobs file's folder. Exit code 0: all done or skipped; 1: a "
                                    "job failed; 2: the jobs file cannot be used.")
    bt.add_argument("jobs", type=Path, metavar="JOBS", help="jobs file (.csv or .json)")
    bt.add_argument("--workers", type=int, metavar="N", help="local worker processes (default: one per core, as many as the "
                                                "memory holds); with --ray, the most tasks at once")
    bt.add_argument("--overwrite", action="store_true", help="render jobs whose output exists (default: skip them)")
    bt.add_argument("--ray", metavar="ADDRESS", help="run on Ray: local (start one here), auto, or HOST:PORT "
                                                     "(needs `make ray-setup`)")
    bt.add_argument("--cache-dir", type=Path, metavar="DIR", help="subject cache folder")

    v = sub.add_parser("viewer", help="the interactive window")
    v.add_argument("--portrait", type=Path, help="image file (default: the bundled sample)")
    v.add_argument("--audio", type=Path, help="speech file (default: the bundled sample)")
    v.add_argument("--coeffs", type=Path, help="per-frame expression CSV (audio2exp, Live Link Face) that drives the "
                                               "face instead of the audio (the audio still plays)")
    v.add_argument("--device", default="auto", help="auto, cpu or cuda (default auto)")
    add_renderer(v)
    v.add_argument("--loop", action="store_true", help="loop the audio")
    add_framing(v)
    add_natural(v)
    v.add_argument("--automation", type=Path, help=argparse.SUPPRESS)  # test hook: state JSON file
    v.add_argument("--max-seconds", type=float, help=argparse.SUPPRESS)

    e = sub.add_parser("eval", help="measure the program: the paper's metrics and its pose-robustness protocol")
    e.add_argument("--portraits", type=Path, nargs="+", required=True, help="image files or folders")
    e.add_argument("--audio", type=Path, nargs="+", required=True, help="speech files or folders")
    e.add_argument("--out", type=Path, required=True, help="report folder")
    e.add_argument("--size", type=int, default=defaults.size, help=f"render size (default {defaults.size})")
    e.add_argument("--max-seconds", type=float, help="use at most this much of each audio file")
    add_framing(e, default=None)
    e.add_argument("--phones", type=Path, nargs="+",
                   help="TextGrid or 'start end phone' files (default: X.TextGrid / X_phones*.txt beside X.wav)")

    b = sub.add_parser("bench", help="print speed figures as JSON")
    b.add_argument("--quick", action="store_true", help="fewer frames (for a smoke test)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from core.commands import prepare_command, run_guarded, terminate_raises

    terminate_raises()  # SIGTERM cleans up like Ctrl+C (the viewer installs its own handlers)

    command = args.command or "viewer"
    if args.command is None:
        args = build_parser().parse_args(["viewer"])
    if command == "prepare":
        return run_guarded(prepare_command, getattr(args, "portrait", None),
                           getattr(args, "cache_dir", None), getattr(args, "no_cache", False))
    if command == "audio2exp":
        from core.audio.commands import audio2exp_command
        from core.paths import SAMPLE_SPEECH

        return run_guarded(lambda: audio2exp_command(args.audio or SAMPLE_SPEECH, args.out) or 0)
    if command == "render":
        from core.commands import render_command
        from core.options import RenderOptions, checked_zoom
        from core.render.camera import OrbitPose

        def render() -> int:
            options = RenderOptions.from_values(args.size, args.alpha_m, args.lambda_exp, args.mask_window,
                                                args.framing, args.blink_rate, args.head_motion, args.seed, args.gaze)
            pose = OrbitPose(args.yaw, args.pitch, checked_zoom(args.zoom))
            return render_command(args.portrait, args.audio, args.coeffs, args.out, options,
                                  pose=pose, orbit=args.orbit, device=args.device, cache_dir=args.cache_dir,
                                  performance=args.performance, renderer=args.renderer, workers=args.workers)

        return run_guarded(render)
    if command == "batch":
        from core.batch.run import batch_command

        return run_guarded(batch_command, args.jobs, args.workers, args.overwrite, args.ray, args.cache_dir)
    if command == "viewer":
        from core.options import RenderOptions
        from viewer.app import display_available

        if not display_available():
            out = Path("out/sample_talking_head.mp4")
            print("No display found (DISPLAY / WAYLAND_DISPLAY unset), so the viewer cannot open.\n"
                  f"Rendering the sample to a video instead: {out}", flush=True)
            from core.commands import render_command

            from core.options import RenderOptions, checked_zoom
            from core.render.camera import OrbitPose

            return run_guarded(lambda: render_command(
                args.portrait, args.audio, args.coeffs, out,
                RenderOptions.from_values(framing=args.framing, blink_rate=args.blink_rate,
                                          head_motion=args.head_motion, seed=args.seed, gaze=args.gaze),
                pose=OrbitPose(zoom=checked_zoom(args.zoom)), device=args.device, renderer=args.renderer))
        from core.options import checked_zoom
        from viewer.app import run_viewer

        def viewer() -> int:
            natural = RenderOptions.from_values(blink_rate=args.blink_rate, head_motion=args.head_motion,
                                                seed=args.seed, gaze=args.gaze).natural
            return run_viewer(args.portrait, args.audio, args.device, args.automation, args.max_seconds, args.loop,
                              args.framing, checked_zoom(args.zoom), natural, args.renderer, args.coeffs)

        return run_guarded(viewer)
    if command == "eval":
        from core.evaluation.commands import eval_command

        return run_guarded(eval_command, args.portraits, args.audio, args.out, args.size, args.max_seconds,
                           args.phones, args.framing, args.zoom)
    if command == "bench":
        from core.bench import bench_command

        return run_guarded(bench_command, quick=args.quick)
    raise AssertionError(command)


if __name__ == "__main__":
    sys.exit(main())
