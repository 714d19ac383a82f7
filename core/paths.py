"""Locations of bundled files."""
from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ASSETS = PROJECT_ROOT / "assets"
SAMPLE_PORTRAIT = ASSETS / "sample" / "portrait.png"
SAMPLE_SPEECH = ASSETS / "sample" / "speech.wav"
# MODNet's portrait-matting model, installed by `make setup` (scripts/fetch_matting_model.py); not in git.
MATTING_MODEL = ASSETS / "models" / "modnet.onnx"
