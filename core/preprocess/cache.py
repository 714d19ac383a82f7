"""Per-subject cache: ``<root>/<key>.npz`` (arrays, no pickle) + ``<root>/<key>.json`` (manifest).

The key hashes the portrait file's bytes, the preprocessing settings, the face model and the
format version, so any change that affects the result gives a new entry. Both files are written
to a temporary name and renamed into place (npz first, manifest last), so a crash never leaves a
half-written entry that looks valid. A manifest that does not match its npz, an unreadable npz or
missing arrays make the entry stale: it is deleted and rebuilt.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

FORMAT_VERSION = 11


def default_cache_root() -> Path:
    """``$TALKINGHEAD_CACHE`` or ``$XDG_CACHE_HOME/talking-head`` or ``~/.cache/talking-head``."""
    env = os.environ.get("TALKINGHEAD_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "talking-head"


def cache_key(image_bytes: bytes, settings: dict, model_digest: str) -> str:
    h = hashlib.sha256()
    h.update(image_bytes)
    h.update(json.dumps({"settings": settings, "model": model_digest, "format": FORMAT_VERSION},
                        sort_keys=True).encode())
    return h.hexdigest()[:24]


class CacheMiss(Exception):
    """No usable entry; ``reason`` says why (missing, stale, corrupt)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _atomic_write(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_entry(root: Path, key: str, arrays: dict[str, np.ndarray], manifest: dict) -> None:
    """Write an entry atomically. ``manifest`` is extended with the format version and the npz digest."""
    npz_path, json_path = root / f"{key}.npz", root / f"{key}.json"
    _atomic_write(npz_path, lambda f: np.savez(f, **arrays))
    full = dict(manifest, format_version=FORMAT_VERSION, key=key, npz_sha256=_digest(npz_path),
                arrays=sorted(arrays))
    _atomic_write(json_path, lambda f: f.write(json.dumps(full, indent=2, sort_keys=True).encode()))


def load_entry(root: Path, key: str, settings: dict, required: set[str]) -> tuple[dict[str, np.ndarray], dict]:
    """Load and validate an entry. Raises CacheMiss (and removes a bad entry)."""
    npz_path, json_path = root / f"{key}.npz", root / f"{key}.json"
    if not json_path.exists():
        raise CacheMiss("not cached yet")
    try:
        manifest = json.loads(json_path.read_text())
        if manifest.get("format_version") != FORMAT_VERSION:
            raise ValueError(f"format version {manifest.get('format_version')} != {FORMAT_VERSION}")
        if manifest.get("settings") != settings:
            raise ValueError("settings differ")
        if not npz_path.exists() or _digest(npz_path) != manifest.get("npz_sha256"):
            raise ValueError("array file missing or does not match its manifest")
        with np.load(npz_path, allow_pickle=False) as data:
            missing = required - set(data.files)
            if missing:
                raise ValueError(f"missing arrays {sorted(missing)}")
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError, json.JSONDecodeError, EOFError) as exc:
        remove_entry(root, key)
        raise CacheMiss(f"stale or corrupt cache entry ({exc})") from None
    return arrays, manifest


def remove_entry(root: Path, key: str) -> None:
    for suffix in (".json", ".npz"):
        (root / f"{key}{suffix}").unlink(missing_ok=True)
