"""The per-subject cache: round trip, staleness, corruption, atomicity."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from core.errors import PortraitError
from core.preprocess import cache
from core.preprocess.config import MappingConfig, PrepareConfig
from core.preprocess.pipeline import prepare
from core.preprocess.subject import Subject


@pytest.fixture()
def portrait(tmp_path, sample_portrait):
    dst = tmp_path / "portrait.png"
    shutil.copy(sample_portrait, dst)
    return dst


def test_round_trip_gives_the_same_subject(tmp_path, portrait):
    root = tmp_path / "cache"
    first = prepare(portrait, cache_root=root)
    assert not first.from_cache
    assert set(first.stage_seconds) >= {"find face", "fit face model", "lift 3D relief", "vertex-to-feature mapping"}
    second = prepare(portrait, cache_root=root)
    assert second.from_cache and second.cache_key == first.cache_key
    a, b = first.subject.to_arrays(), second.subject.to_arrays()
    assert a.keys() == b.keys() == Subject.required_arrays()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        assert a[k].dtype == b[k].dtype, k
    # Arrays stored narrower come back in their in-memory dtype.
    r = second.subject.relief
    assert r.alpha.dtype == np.float32 and r.mouth_mask.dtype == bool
    assert second.subject.intrinsics == first.subject.intrinsics
    assert isinstance(r.background_depth, float) and isinstance(second.subject.mapping.voxel, float)
    manifest = json.loads((root / f"{first.cache_key}.json").read_text())
    assert manifest["format_version"] == cache.FORMAT_VERSION
    assert "vertex-to-feature mapping" in manifest["stage_seconds"]
    assert not list(root.glob("*.tmp"))


def test_a_fresh_subject_renders_as_its_cached_copy(tmp_path, portrait):
    """The first render after preparing a portrait is the one every later run gives."""
    from core.engine import Engine, FrameRequest
    from core.render.camera import OrbitPose

    root = tmp_path / "cache"
    fresh, cached = prepare(portrait, cache_root=root).subject, prepare(portrait, cache_root=root).subject
    np.testing.assert_array_equal(fresh.relief.alpha, cached.relief.alpha)
    request = FrameRequest(pose=OrbitPose(20.0, 5.0), size=96)
    assert np.array_equal(Engine(fresh, "cpu").render(request), Engine(cached, "cpu").render(request))


def test_progress_reports_every_stage(tmp_path, portrait):
    seen = []
    prepare(portrait, cache_root=tmp_path, progress=lambda stage, f: seen.append((stage, f)))
    stages = [s for s, _ in seen]
    assert stages[0] == "load portrait" and stages[-1] == "done"
    assert "vertex-to-feature mapping" in stages
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_settings_and_content_change_the_key(tmp_path, portrait):
    a = prepare(portrait, cache_root=tmp_path)
    b = prepare(portrait, cache_root=tmp_path, config=PrepareConfig(mapping=MappingConfig(voxel_cm=0.5)))
    assert a.cache_key != b.cache_key and not b.from_cache
    data = bytearray(portrait.read_bytes())
    other = tmp_path / "other.png"
    from PIL import Image
    img = np.asarray(Image.open(portrait)).copy()
    img[0, 0] ^= 1
    Image.fromarray(img).save(other)
    assert prepare(other, cache_root=tmp_path).cache_key != a.cache_key
    assert data  # the original file is untouched
    assert portrait.read_bytes() == bytes(data)


@pytest.mark.parametrize("damage", ["truncate_npz", "garble_manifest", "old_format", "drop_array"])
def test_corrupt_or_stale_entries_are_rebuilt(tmp_path, portrait, damage):
    root = tmp_path / "cache"
    key = prepare(portrait, cache_root=root).cache_key
    npz, manifest_path = root / f"{key}.npz", root / f"{key}.json"
    if damage == "truncate_npz":
        npz.write_bytes(npz.read_bytes()[:1000])
    elif damage == "garble_manifest":
        manifest_path.write_text("{not json")
    elif damage == "old_format":
        m = json.loads(manifest_path.read_text())
        m["format_version"] = 0
        manifest_path.write_text(json.dumps(m))
    else:
        with np.load(npz) as d:
            arrays = {k: d[k] for k in d.files if k != "mapping_upper_index" and k != "map_upper_index"}
        np.savez(npz, **arrays)
        m = json.loads(manifest_path.read_text())
        m["npz_sha256"] = cache._digest(npz)
        manifest_path.write_text(json.dumps(m))
    again = prepare(portrait, cache_root=root)
    assert not again.from_cache
    assert any("rebuilding" in msg for msg in again.messages)
    assert prepare(portrait, cache_root=root).from_cache  # the rebuilt entry is valid


def test_failed_prepare_leaves_no_entry(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(PortraitError):
        prepare(bad, cache_root=tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not list((tmp_path / "cache").iterdir())


def test_interrupted_write_leaves_no_entry(tmp_path, monkeypatch):
    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(cache.np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        cache.save_entry(tmp_path, "k", {"a": np.zeros(3)}, {"settings": {}})
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(cache.CacheMiss):
        cache.load_entry(tmp_path, "k", {}, {"a"})
