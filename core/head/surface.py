"""Triangle-mesh helpers shared by the head template builder and the head fit.

Every array is numpy. Points and vertices are float [N, 3] in any consistent unit (cm in the
head frame here); triangles are int [F, 3] vertex indices; a surface point is given by a
triangle id and its barycentric weights (float [3], summing to 1).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree


def _closest_on_segment(p, a, b):
    """Closest points on segments a-b to p (all [..., 3]). Returns (t [...], squared dist)."""
    ab = b - a
    t = np.clip(np.einsum("...i,...i", p - a, ab) / np.maximum(np.einsum("...i,...i", ab, ab), 1e-20), 0, 1)
    q = a + t[..., None] * ab
    return t, np.einsum("...i,...i", p - q, p - q)


def closest_points(points: np.ndarray, vertices: np.ndarray, triangles: np.ndarray,
                   candidates: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Closest surface point of the mesh to each point.

    The search looks at the ``candidates`` triangles whose centroids are nearest, so it is exact
    for meshes of fairly even triangle size. Returns (triangle id int64 [N], barycentric float64
    [N, 3], distance float64 [N]).
    """
    p = np.asarray(points, np.float64)
    tri = np.asarray(triangles)
    corners = np.asarray(vertices, np.float64)[tri]  # [F, 3, 3]
    k = min(candidates, len(tri))
    _, cand = cKDTree(corners.mean(axis=1)).query(p, k=k)
    cand = cand.reshape(len(p), k)
    a, b, c = (corners[cand, i] for i in range(3))  # [N, k, 3]
    q = p[:, None, :]
    # Projection onto the plane, barycentric by the 2x2 normal equations.
    e0, e1, d = b - a, c - a, q - a
    d00, d01, d11 = (np.einsum("...i,...i", x, y) for x, y in ((e0, e0), (e0, e1), (e1, e1)))
    d20, d21 = np.einsum("...i,...i", d, e0), np.einsum("...i,...i", d, e1)
    den = np.maximum(d00 * d11 - d01 * d01, 1e-20)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    bary = np.stack([1 - v - w, v, w], axis=-1)
    inside = (bary >= 0).all(axis=-1)
    proj = a + v[..., None] * e0 + w[..., None] * e1
    best = np.where(inside, np.einsum("...i,...i", q - proj, q - proj), np.inf)
    for (i, j), (x, y) in zip(((0, 1), (1, 2), (2, 0)), ((a, b), (b, c), (c, a))):
        t, dist = _closest_on_segment(q, x, y)
        better = dist < best
        edge_bary = np.zeros_like(bary)
        edge_bary[..., i] = 1 - t
        edge_bary[..., j] = t
        bary = np.where(better[..., None], edge_bary, bary)
        best = np.where(better, dist, best)
    pick = np.argmin(best, axis=1)
    rows = np.arange(len(p))
    return cand[rows, pick], bary[rows, pick], np.sqrt(best[rows, pick])


def surface_points(vertices: np.ndarray, triangles: np.ndarray, tri: np.ndarray,
                   bary: np.ndarray) -> np.ndarray:
    """Points given by (triangle id [N], barycentric [N, 3]) on a mesh. Returns [N, 3]."""
    return np.einsum("nk,nkd->nd", bary, np.asarray(vertices)[np.asarray(triangles)[tri]])


def barycentric_matrix(num_vertices: int, triangles: np.ndarray, tri: np.ndarray,
                       bary: np.ndarray) -> sp.csr_matrix:
    """Sparse [N, V] matrix B with B @ vertices = surface_points(...)."""
    n = len(tri)
    cols = np.asarray(triangles)[tri].ravel()
    rows = np.repeat(np.arange(n), 3)
    return sp.csr_matrix((np.asarray(bary, np.float64).ravel(), (rows, cols)), shape=(n, num_vertices))


def edges(triangles: np.ndarray) -> np.ndarray:
    """Unique undirected edges of a triangle mesh, int [E, 2] (smaller index first)."""
    t = np.asarray(triangles)
    e = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
    return np.unique(e, axis=0)


def boundary_edges(triangles: np.ndarray) -> np.ndarray:
    """Edges used by exactly one triangle, int [B, 2]."""
    t = np.asarray(triangles)
    e = np.sort(np.concatenate([t[:, [0, 1]], t[:, [1, 2]], t[:, [2, 0]]]), axis=1)
    uniq, count = np.unique(e, axis=0, return_counts=True)
    return uniq[count == 1]


def graph_laplacian(num_vertices: int, triangles: np.ndarray) -> sp.csr_matrix:
    """Uniform (umbrella) Laplacian L = I - D^-1 A of the mesh's edge graph, sparse [V, V]."""
    e = edges(triangles)
    adj = sp.coo_matrix((np.ones(2 * len(e)), (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])),
                        shape=(num_vertices, num_vertices)).tocsr()
    deg = np.asarray(adj.sum(axis=1)).ravel()
    inv = sp.diags(1.0 / np.maximum(deg, 1))
    return (sp.identity(num_vertices, format="csr") - inv @ adj).tocsr()


def vertex_normals(vertices: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals, float [V, 3] (outward for counter-clockwise faces in a
    right-handed frame)."""
    v = np.asarray(vertices, np.float64)
    t = np.asarray(triangles)
    fn = np.cross(v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]])
    n = np.zeros_like(v)
    for i in range(3):
        np.add.at(n, t[:, i], fn)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)


def similarity(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None
               ) -> tuple[float, np.ndarray, np.ndarray]:
    """Weighted least-squares similarity (Umeyama): dst ~ s * R @ src + t.

    src, dst: [N, 3]; weights: [N] or None. Returns (s, R [3, 3], t [3]).
    """
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64)
    w = w / w.sum()
    ms, md = w @ src, w @ dst
    a, b = src - ms, dst - md
    cov = (b * w[:, None]).T @ a
    u, sig, vt = np.linalg.svd(cov)
    fix = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    r = u @ fix @ vt
    s = float(np.trace(np.diag(sig) @ fix) / (w @ (a * a).sum(axis=1)))
    return s, r, md - s * r @ ms


def on_boundary(triangles: np.ndarray, tri: np.ndarray, bary: np.ndarray, eps: float = 1e-6
                ) -> np.ndarray:
    """Whether each surface point (tri [N], bary [N, 3]) lies on the mesh's boundary (an open
    edge or a boundary vertex). Returns bool [N]."""
    t = np.asarray(triangles)
    b_edges = boundary_edges(t)
    b_verts = np.zeros(t.max() + 1, bool)
    b_verts[b_edges.ravel()] = True
    edge_set = set(map(tuple, b_edges.tolist()))
    corners = t[tri]
    nonzero = bary > eps
    out = np.zeros(len(tri), bool)
    for i in range(len(tri)):
        vs = corners[i][nonzero[i]]
        if len(vs) == 1:
            out[i] = b_verts[vs[0]]
        elif len(vs) == 2:
            out[i] = tuple(sorted(vs.tolist())) in edge_set
    return out


def ray_hits(origins: np.ndarray, directions: np.ndarray, vertices: np.ndarray,
             triangles: np.ndarray, max_distance: float, min_distance: float = 1e-3,
             chunk: int = 64) -> np.ndarray:
    """The first triangle each ray (origin [N, 3], unit direction [N, 3]) hits between
    ``min_distance`` and ``max_distance`` (Moller-Trumbore, both faces), or -1. Returns int [N]."""
    v = np.asarray(vertices, np.float64)
    t = np.asarray(triangles)
    a, e1, e2 = v[t[:, 0]], v[t[:, 1]] - v[t[:, 0]], v[t[:, 2]] - v[t[:, 0]]
    out = np.full(len(origins), -1, np.int64)
    for s in range(0, len(origins), chunk):
        o = np.asarray(origins[s:s + chunk], np.float64)[:, None, :]
        d = np.asarray(directions[s:s + chunk], np.float64)[:, None, :]
        p = np.cross(d, e2[None])
        det = np.sum(e1[None] * p, axis=-1)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        tv = o - a[None]
        u = np.sum(tv * p, axis=-1) * inv
        q = np.cross(tv, e1[None])
        w = np.sum(d * q, axis=-1) * inv
        dist = np.sum(e2[None] * q, axis=-1) * inv
        hit = ok & (u >= 0) & (w >= 0) & (u + w <= 1) & (dist > min_distance) & (dist < max_distance)
        dist = np.where(hit, dist, np.inf)
        first = np.argmin(dist, axis=1)
        out[s:s + chunk] = np.where(hit.any(axis=1), first, -1)
    return out
