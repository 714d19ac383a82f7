"""eval_command: inputs, phone matching, the report files, and a tiny end-to-end run."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.errors import UserInputError
from core.evaluation import commands
from core.evaluation.config import EvalConfig, IdentityConfig, ViewGridConfig


def _touch(path: Path) -> Path:
    path.write_bytes(b"x")
    return path


def test_collect_files_and_errors(tmp_path):
    a = _touch(tmp_path / "b.png")
    _touch(tmp_path / "a.jpg")
    _touch(tmp_path / "notes.md")
    assert [p.name for p in commands.collect_files([tmp_path], commands.IMAGE_SUFFIXES, "portrait")] == \
        ["a.jpg", "b.png"]
    assert commands.collect_files([a, tmp_path], commands.IMAGE_SUFFIXES, "portrait")[0] == a   # no duplicates
    with pytest.raises(UserInputError, match="not found"):
        commands.collect_files([tmp_path / "missing.png"], commands.IMAGE_SUFFIXES, "portrait")
    with pytest.raises(UserInputError, match="No audio files"):
        commands.collect_files([tmp_path], commands.AUDIO_SUFFIXES, "audio")


def test_phone_matching(tmp_path):
    arctic, mary, bobby = (_touch(tmp_path / n) for n in ("arctic_a0009.wav", "mary.wav", "bobby.wav"))
    tg = _touch(tmp_path / "mary.TextGrid")
    txt = _touch(tmp_path / "arctic_a0009_phones_sec.txt")
    _touch(tmp_path / "bobby_words.TextGrid")          # words, not phones: not picked up by itself
    auto = commands.match_phones([arctic, mary, bobby], None)
    assert auto == {arctic: txt, mary: tg}
    explicit = commands.match_phones([arctic, mary, bobby], [txt, tg])
    assert explicit == {arctic: txt, mary: tg}
    assert commands.match_phones([bobby], [tg]) == {bobby: tg}       # one and one always pair


def test_bad_options(tmp_path, sample_portrait):
    with pytest.raises(UserInputError, match="--size"):
        commands.eval_command([sample_portrait], [sample_portrait], tmp_path, size=8)
    with pytest.raises(UserInputError, match="--max-seconds"):
        commands.eval_command([sample_portrait], [sample_portrait], tmp_path, max_seconds=0)
    with pytest.raises(UserInputError, match="portrait"):
        commands.eval_command([], [sample_portrait], tmp_path)


def test_tiny_end_to_end_without_dlib(tmp_path, monkeypatch, sample_subject, capsys):
    """Sample portrait x 0.4 s of the sample speech, 96 px, a 2-view grid, dlib hidden: every report
    file is written and identity is reported as not available."""
    from core.evaluation import identity
    from core.paths import SAMPLE_PORTRAIT, SAMPLE_SPEECH
    from core.preprocess import pipeline

    monkeypatch.setattr(identity, "load_identity_model", lambda config=IdentityConfig(): None)
    monkeypatch.setattr(identity, "unavailable_reason", lambda config=IdentityConfig(): identity.NOT_AVAILABLE)
    monkeypatch.setattr(pipeline, "prepare", lambda path, *a, **k: pipeline.PrepareResult(sample_subject, True))
    config = EvalConfig(views=ViewGridConfig(yaws_deg=(0.0, 20.0), pitches_deg=(0.0,)))
    out = tmp_path / "report"
    rc = commands.eval_command([SAMPLE_PORTRAIT], [SAMPLE_SPEECH], out, size=96, max_seconds=0.4, config=config)
    assert rc == 0
    assert "report:" in capsys.readouterr().out
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    pair = data["pairs"][0]
    assert pair["input"]["frames"] == 10 and pair["flipped"]["frames"] == 10
    assert pair["input"]["metrics"]["csim"] is None and data["identity_note"] == identity.NOT_AVAILABLE
    assert set(pair["delta"]) >= {"cpbd", "csim", "sync_corr"}
    assert len(data["multiview"][0]["views"]) == 2
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "not available: pip install -r requirements-eval.txt" in md
    assert "NeRFFaceSpeech (paper)" in md and "SadTalker (paper)" in md and "w/ h-flipped pose" in md
    from PIL import Image

    sheet = np.asarray(Image.open(out / "contact_sheet.png"))
    assert sheet.ndim == 3 and sheet.shape[1] >= 4 * 128
    assert (out / "views_portrait.png").is_file()
    assert sorted(p.name for p in (out / "videos").iterdir()) == ["portrait__speech__flipped.mp4",
                                                                 "portrait__speech__input.mp4"]
