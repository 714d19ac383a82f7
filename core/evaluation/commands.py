"""``python main.py eval``: render every portrait with every speech file and write the report.

    eval_command(portraits, audio, out_dir, size=256, max_seconds=None, phones=None) -> exit code

For each portrait: prepare it, frame the face, render the multi-view grid and the photo's own view.
For each speech file: Audio2Exp once, then per portrait a clip at the input pose and one at the
horizontally flipped pose, each measured (identity, CPBD, lip sync, phones) and saved as MP4.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from core.errors import UserInputError
from core.evaluation.config import EvalConfig
from core.options import DEFAULT_SIZE_PX, RenderOptions
from core.render.camera import FRAMINGS, ZOOM_LIMITS

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".pgm", ".tif", ".tiff"})
AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus"})
PHONE_SUFFIXES = frozenset({".textgrid", ".txt"})
SIZE_RANGE = (64, 1024)


def _say(msg: str) -> None:
    print(msg, flush=True)


def _num(v: float | None, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


# ----------------------------------------------------------------------------- inputs
def collect_files(items: Sequence[Path], suffixes: frozenset[str], what: str) -> list[Path]:
    """Files named directly, plus the files with a matching suffix inside named folders (not
    recursive), in order, without duplicates. Raises UserInputError for missing paths."""
    out: list[Path] = []
    for item in items:
        item = Path(item)
        if item.is_dir():
            found = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if not found:
                raise UserInputError(f"No {what} files in {item} (looked for {', '.join(sorted(suffixes))}).")
            out += found
        elif item.is_file():
            out.append(item)
        else:
            raise UserInputError(f"{what.capitalize()} not found: {item}")
    seen: set[Path] = set()
    return [p for p in out if not (p.resolve() in seen or seen.add(p.resolve()))]


def _phone_candidates(audio: Path) -> list[Path]:
    """Phone files looked for beside an audio file, in order of preference."""
    folder, stem = audio.parent, audio.stem
    names = [f"{stem}.TextGrid", f"{stem}_phones.TextGrid", f"{stem}_phones.txt"]
    out = [folder / n for n in names]
    out += sorted(folder.glob(f"{stem}_phones*.txt")) + sorted(folder.glob(f"{stem}_phones*.TextGrid"))
    return out


def match_phones(audio: Sequence[Path], phones: Sequence[Path] | None) -> dict[Path, Path]:
    """Phone-label file for each audio file that has one.

    With ``phones`` given (files or folders), a phone file belongs to the audio file whose stem is
    the longest prefix of its own stem (``mary`` <- ``mary.TextGrid``, ``arctic_a0009`` <-
    ``arctic_a0009_phones_sec.txt``); a single phone file with a single audio file always pairs.
    Without, files named like ``X.TextGrid`` or ``X_phones*.txt`` beside ``X.wav`` are used.
    """
    result: dict[Path, Path] = {}
    if phones is None:
        for a in audio:
            hit = next((c for c in _phone_candidates(a) if c.is_file()), None)
            if hit is not None:
                result[a] = hit
        return result
    files = collect_files(phones, PHONE_SUFFIXES, "phone label")
    if len(files) == 1 and len(audio) == 1:
        return {audio[0]: files[0]}
    for f in files:
        owners = [a for a in audio if f.stem == a.stem or f.stem.startswith(a.stem + "_")]
        if not owners:
            _say(f"note: phone labels {f.name} match no audio file by name; ignored")
            continue
        owner = max(owners, key=lambda a: len(a.stem))
        result.setdefault(owner, f)
    return result


@dataclass
class SpeechInput:
    """One speech file ready for the clips: driver [T, 33], envelope [T] (dB), phones or None.

    driver_sync: the lip-sync stand-in applied to the driver's jawOpen curve itself (no
    rendering), i.e. what Audio2Exp alone scores; the rendered clips can be read against it.
    driver_closure: jawOpen in bilabials / in open vowels (``lipsync.PhoneApertures``), or None.
    """

    path: Path
    driver: np.ndarray
    envelope: np.ndarray
    phones: list | None
    phones_path: Path | None
    driver_sync: object = None
    driver_closure: object = None


def load_speech(path: Path, phones_path: Path | None, config: EvalConfig) -> SpeechInput:
    """Audio2Exp coefficients and the speech envelope, cut to ``config.max_seconds``."""
    from core.audio.audio2exp import coefficients_for_file
    from core.audio.loading import load_audio
    from core.evaluation.lipsync import phone_apertures, read_phones, speech_envelope, sync_offset
    from core.face.arkit import EXPRESSION_INDEX

    driver = coefficients_for_file(path)
    samples = load_audio(path)
    n = len(driver)
    if config.max_seconds is not None:
        n = min(n, int(np.ceil(config.max_seconds * 25)))
    if n == 0:
        raise UserInputError(f"{path.name} holds no audio frames.")
    phones = read_phones(phones_path) if phones_path is not None else None
    envelope = speech_envelope(samples, n, config.sync)
    jaw = driver[:n, EXPRESSION_INDEX["jawOpen"]].astype(np.float64)
    closure = phone_apertures(jaw, phones) if phones else None
    return SpeechInput(path, driver[:n], envelope, phones, phones_path, sync_offset(jaw, envelope, config.sync),
                       closure)


# ----------------------------------------------------------------------------- the run
def _evaluate_portrait(path: Path, speeches: Sequence[SpeechInput], config: EvalConfig, out_dir: Path,
                       identity_model):
    """PortraitInfo, ViewGrid and one PoseRobustness per speech file for one portrait."""
    from core.engine import Engine
    from core.evaluation.cpbd import cpbd_score
    from core.evaluation.identity import cosine_similarity
    from core.evaluation.multiview import view_grid
    from core.evaluation.protocol import PoseRobustness, measure_clip
    from core.evaluation.rendering import (ClipWriter, face_zoom, flipped_pose, head_yaw_deg, photo_view,
                                           render_clip)
    from core.evaluation.report import PortraitInfo
    from core.preprocess.pipeline import prepare
    from core.preprocess.portrait import load_portrait
    from core.render.camera import OrbitPose

    result = prepare(path)
    subject = result.subject
    engine = Engine(subject, config.device)
    photo = load_portrait(path).rgb
    if config.zoom is not None:
        zoom = config.zoom
    else:  # the face fills config.face_fraction of the frame: by the framing, or by zooming in
        zoom = face_zoom(subject, config.face_fraction) if config.framing == "photo" else 1.0
    yaw = head_yaw_deg(subject.rotation)
    reference = None
    notes = list(result.messages)
    if identity_model is not None:
        emb = identity_model.embed(photo)
        if emb is None:
            notes.append("dlib found no face in the photo: no identity figures")
        else:
            reference = emb.vector
    view = photo_view(photo, subject, engine, config.size, zoom, config.framing)
    photo_csim = None
    if reference is not None:
        emb = identity_model.embed(view)
        photo_csim = cosine_similarity(reference, emb.vector) if emb is not None else None
    info = PortraitInfo(path.name, yaw, zoom, cpbd_score(view, config.cpbd), photo_csim, notes, view)
    _say(f"  head yaw {yaw:+.1f} deg, zoom {zoom:.2f}; multi-view grid")
    grid = view_grid(engine, path.name, config.size, zoom, config.views, identity_model, reference, config.framing)
    pairs = []
    poses = {"input": (OrbitPose(0.0, 0.0, zoom), False), "flipped": flipped_pose(yaw, zoom)}
    for speech in speeches:
        engine.set_driver(speech.driver)
        n = len(speech.driver)
        clips, videos, stills = {}, {}, {}
        for cond, (pose, _) in poses.items():
            t0 = time.perf_counter()
            writer = None
            if config.save_videos:
                video = out_dir / "videos" / f"{path.stem}__{speech.path.stem}__{cond}.mp4"
                writer = ClipWriter(video, config.size, speech.path)
                videos[cond] = str(video.relative_to(out_dir))

            def on_frame(k: int, frame: np.ndarray, cond=cond, writer=writer) -> None:
                if writer is not None:
                    writer.add(frame)
                if k == n // 2:
                    stills[cond] = frame

            try:
                clips[cond] = measure_clip(cond, pose, render_clip(engine, pose, n, config.size,
                                                                               RenderOptions(framing=config.framing)), n,
                                           speech.envelope, speech.phones, identity_model, reference, config,
                                           on_frame)
            except BaseException:
                if writer is not None:
                    writer.abort()
                raise
            if writer is not None:
                writer.close()
            m = clips[cond].scalars()
            _say(f"  {speech.path.name} {cond:7s} yaw {pose.yaw_deg:+6.1f}: {n} frames in "
                 f"{time.perf_counter() - t0:.1f} s; CPBD {_num(m['cpbd'])}, face {_num(m['face_rate'], 2)}, "
                 f"CSIM* {_num(m['csim'])}, AV corr {_num(m['sync_corr'], 2)}")
        flip_pose, clamped = poses["flipped"]
        pairs.append(PoseRobustness(path.name, speech.path.name, yaw, flip_pose.yaw_deg, clamped,
                                    clips["input"], clips["flipped"], videos, stills))
    return info, grid, pairs


def eval_command(portraits: list[Path], audio: list[Path], out_dir: Path, size: int = DEFAULT_SIZE_PX,
                 max_seconds: float | None = None, phones: list[Path] | None = None,
                 framing: str | None = None, zoom: float | None = None,
                 *, config: EvalConfig | None = None) -> int:
    """Evaluate every portrait with every speech file; write the report into ``out_dir``.

    portraits, audio, phones: files or folders (folders: their image / audio / phone-label files).
    Phone labels (Praat TextGrid or ``start end phone`` text) are matched to audio by file name;
    without ``phones``, ``X.TextGrid`` / ``X_phones*.txt`` beside ``X.wav`` are used.
    ``config`` (keyword only, for tests and scripts) sets everything else; ``size``,
    ``max_seconds``, ``framing`` and ``zoom`` override its fields (None keeps them).
    Returns 0; raises UserInputError (shown without traceback) for unusable options or inputs.
    """
    from core.device import resolve_device
    from core.evaluation.identity import load_identity_model, unavailable_reason
    from core.evaluation.report import EvalRun, SpeechInfo, write_report

    if not SIZE_RANGE[0] <= size <= SIZE_RANGE[1]:
        raise UserInputError(f"--size must be between {SIZE_RANGE[0]} and {SIZE_RANGE[1]} pixels")
    if max_seconds is not None and not max_seconds > 0:
        raise UserInputError("--max-seconds must be a positive number of seconds")
    if not portraits:
        raise UserInputError("Give at least one portrait (--portraits FILE_OR_FOLDER).")
    if not audio:
        raise UserInputError("Give at least one speech file (--audio FILE_OR_FOLDER).")
    config = replace(config or EvalConfig(), size=int(size), max_seconds=max_seconds)
    if framing is not None:
        if framing not in FRAMINGS:
            raise UserInputError(f"--framing must be one of {', '.join(FRAMINGS)}")
        config = replace(config, framing=framing)
    if zoom is not None:
        if not ZOOM_LIMITS[0] <= zoom <= ZOOM_LIMITS[1]:
            raise UserInputError(f"--zoom must be between {ZOOM_LIMITS[0]} and {ZOOM_LIMITS[1]}")
        config = replace(config, zoom=float(zoom))
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserInputError(f"Cannot create the report folder {out_dir}: {exc.strerror or exc}") from None
    portrait_files = collect_files(portraits, IMAGE_SUFFIXES, "portrait")
    audio_files = collect_files(audio, AUDIO_SUFFIXES, "audio")
    phone_map = match_phones(audio_files, phones)
    t_start = time.perf_counter()
    identity_model = load_identity_model(config.identity)
    identity_note = unavailable_reason(config.identity)
    if identity_note:
        _say(f"identity similarity: {identity_note}")
    device = str(resolve_device(config.device))
    skipped: list[tuple[str, str]] = []
    speeches: list[SpeechInput] = []
    for path in audio_files:
        _say(f"speech {path.name}" + (f" (phones: {phone_map[path].name})" if path in phone_map else ""))
        try:
            speeches.append(load_speech(path, phone_map.get(path), config))
        except UserInputError as exc:
            skipped.append((str(path), str(exc)))
            _say(f"  skipped: {exc}")
    if not speeches:
        raise UserInputError("None of the speech files could be used: " + "; ".join(r for _, r in skipped))
    infos, grids, pairs = [], [], []
    for i, path in enumerate(portrait_files, 1):
        _say(f"[{i}/{len(portrait_files)}] portrait {path.name}")
        try:
            info, grid, portrait_pairs = _evaluate_portrait(path, speeches, config, out_dir, identity_model)
        except UserInputError as exc:
            skipped.append((str(path), str(exc)))
            _say(f"  skipped: {exc}")
            continue
        infos.append(info)
        grids.append(grid)
        pairs += portrait_pairs
    if not infos:
        raise UserInputError("None of the portraits could be used: " + "; ".join(r for _, r in skipped))
    speech_info = [SpeechInfo(sp.path.name, len(sp.driver) / 25.0, sp.phones_path.name if sp.phones_path else None,
                              len(sp.phones or []), sp.driver_sync, sp.driver_closure) for sp in speeches]
    run = EvalRun(config, device, identity_note, infos, pairs, grids, skipped, time.perf_counter() - t_start,
                  speech_info)
    report = write_report(run, out_dir)
    _say(f"report: {report}  (also {out_dir / 'report.json'}, {out_dir / 'contact_sheet.png'})")
    return 0
