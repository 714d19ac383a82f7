"""Single-image lift of the subject: the canonical 3D representation (the role of the paper's
inverted StyleNeRF latent w_inv).

The subject is a layered relief in the photo's camera frame:

* person layer: a depth map (cm along the optical axis) over the person matte, with the full
  resolution portrait as its appearance. Inside the face the depth comes from the fitted face
  mesh (z-buffered). Where the fitted whole head (``core.head``) lies behind the person (hair over
  the skull, temples, ears) the depth is that head's surface a little toward the camera, so turned
  views show a head's shape there, continued past the photo's frame by the head itself. The rest
  (hair standing out from the skull, neck, torso) gets a smooth membrane that meets the face and
  the head and bends back to the silhouette, inflated toward the camera away from them.
* appearance: the portrait, with the photo's own mouth opening filled with lip colour (the inner
  mouth is drawn by the mouth model at render time, so teeth in the photo never float when the
  jaw moves).
* face fill mask: the face mesh's coverage of the photo with its holes (eyes, mouth) filled,
  grown by a pixel and softened. Where it is set, the renderer may take a face point's colour
  from its left/right mirror point (the hidden side filled from the visible one, see
  ``relief_renderer._mirror_where_seen_better``).
* background layer: the portrait with the person inpainted, on a plane behind the head.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
import scipy.sparse
import scipy.sparse.linalg

from core.face import topology as topo
from core.face.face_model import FaceModel
from core.geometry.pinhole import resize_pixels
from core.preprocess.mouth_colours import analyse_mouth_colours
from core.preprocess.config import ReliefConfig
from core.preprocess.face_fit import FaceFit
from core.preprocess.raster import MeshRaster, rasterize


@dataclass
class Relief:
    """The subject's canonical representation (see module docstring).

    appearance:  uint8 [H, W, 3]   colour of the person layer
    alpha:       float32 [H, W]    person matte (1 on the face)
    background:  uint8 [H, W, 3]   background layer, person removed
    depth:       float32 [h, w]    person-layer camera depth in cm at geometry resolution
    background_depth: float        depth of the background plane (cm)
    mouth_mask:  bool [H, W]       the photo's mouth opening (filled in ``appearance``)
    mouth_crop:  uint8 [h, w, 4]   the photo's own pixels around the opening, alpha = opening
                                   (teeth the photo shows, re-used by the mouth model); may be empty
    mouth_crop_xy: int64 [2]       pixel position (x, y) of the crop's top-left corner
    face_fill:   float32 [H, W]    face coverage, eye/mouth holes filled, grown and softened (0..1)
    mouth_colours: float32 [5, 3]  inner-mouth colours (rows teeth, cavity, tongue, gum, the photo's
                                   skin; RGB 0..255; ``MouthColours``)
    """

    # ``metadata``: how the cache stores each array (see core.preprocess.subject).
    appearance: np.ndarray
    alpha: np.ndarray = field(metadata={"stored": np.float16, "loaded": np.float32})
    background: np.ndarray
    depth: np.ndarray = field(metadata={"stored": np.float32})
    background_depth: float
    mouth_mask: np.ndarray = field(metadata={"stored": np.uint8, "loaded": bool})
    face_fill: np.ndarray = field(metadata={"stored": np.float32})
    mouth_crop: np.ndarray
    mouth_crop_xy: np.ndarray
    mouth_colours: np.ndarray = field(metadata={"stored": np.float32})


def _face_raster(fit: FaceFit, model: FaceModel, scale: float, width: int, height: int) -> MeshRaster:
    """The face mesh rasterised into a ``width`` x ``height`` image of the photo resized by
    ``scale`` (both axes; the sizes are rounded)."""
    mesh = fit.mesh[: model.triangles.max() + 1]
    uv = resize_pixels(fit.intrinsics.project(mesh), scale, scale)
    return rasterize(uv, mesh[:, 2], model.triangles, width, height)


def holes_filled(covered: np.ndarray) -> np.ndarray:
    """bool [H, W]: ``covered`` with the holes it encloses (the face mesh's eyes and mouth) filled."""
    filled = covered.astype(np.uint8)
    if filled.any():
        outside = np.zeros((covered.shape[0] + 4, covered.shape[1] + 4), np.uint8)
        flood = np.pad(filled, 1)
        cv2.floodFill(flood, outside, (0, 0), 2)
        filled = (flood[1:-1, 1:-1] != 2).astype(np.uint8)
    return filled.astype(bool)


def face_fill_mask(covered: np.ndarray) -> np.ndarray:
    """The face coverage bool [H, W] with its holes (eyes, mouth) filled, grown by a pixel and
    softened: float32 [H, W] in [0, 1], where the renderer's mirror fill may act."""
    filled = cv2.dilate(holes_filled(covered).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
    return cv2.GaussianBlur(filled, (0, 0), 1.0)


def fill_face_holes(covered: np.ndarray, depth: np.ndarray, where: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The face raster's enclosed holes that meet ``where`` (bool [h, w]: the mouth opening) filled:
    (coverage bool [h, w] with those holes set, depth float32 [h, w] cm with their depth harmonic
    between their rims' face depth). ``covered`` bool [h, w], ``depth`` float [h, w]."""
    holes = holes_filled(covered) & ~covered
    count, label = cv2.connectedComponents(holes.astype(np.uint8), connectivity=4)
    holes = np.isin(label, np.setdiff1d(np.unique(label[where & holes]), [0]))
    depth = np.asarray(depth, np.float32).copy()
    if not holes.any():
        return covered, depth
    ys, xs = np.nonzero(holes)
    y0, y1 = max(ys.min() - 1, 0), min(ys.max() + 2, covered.shape[0])
    x0, x1 = max(xs.min() - 1, 0), min(xs.max() + 2, covered.shape[1])
    part = covered[y0:y1, x0:x1]
    depth[y0:y1, x0:x1] = _membrane(part | holes[y0:y1, x0:x1], part, np.where(part, depth[y0:y1, x0:x1], 0.0),
                                    float(depth[y0:y1, x0:x1][part].mean()))
    return covered | holes, depth


def mouth_opening_mask(fit: FaceFit, width: int, height: int, grow_px: int = 2) -> np.ndarray:
    """The photo's inner-lip region (teeth, tongue, cavity). Bool [H, W]."""
    poly = fit.intrinsics.project(fit.mesh[list(topo.inner_lip_polygon())])
    mask = np.zeros((height, width), np.uint8)
    cv2.fillPoly(mask, [np.round(poly * 4).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=2)
    if grow_px > 0 and mask.any():
        mask = cv2.dilate(mask, np.ones((2 * grow_px + 1, 2 * grow_px + 1), np.uint8))
    return mask.astype(bool)


def _fill_region(rgb: np.ndarray, mask: np.ndarray, radius: int = 5) -> np.ndarray:
    """Inpaint ``mask`` from its surroundings (on a crop around it, for speed)."""
    if not mask.any():
        return rgb
    ys, xs = np.nonzero(mask)
    pad = 4 * radius
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, rgb.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, rgb.shape[1])
    out = rgb.copy()
    crop = cv2.inpaint(np.ascontiguousarray(rgb[y0:y1, x0:x1]), mask[y0:y1, x0:x1].astype(np.uint8),
                       radius, cv2.INPAINT_TELEA)
    out[y0:y1, x0:x1][mask[y0:y1, x0:x1]] = crop[mask[y0:y1, x0:x1]]
    return out


def _membrane(person: np.ndarray, fixed: np.ndarray, fixed_value: np.ndarray, edge_value: float) -> np.ndarray:
    """Harmonic interpolation over ``person & ~fixed`` with Dirichlet values on ``fixed`` pixels
    and ``edge_value`` outside the person; the image border is free (Neumann)."""
    h, w = person.shape
    unknown = person & ~fixed
    out = np.where(fixed, fixed_value, edge_value).astype(np.float64)
    n = int(unknown.sum())
    if n == 0:
        return out.astype(np.float32)
    index = -np.ones((h, w), np.int64)
    index[unknown] = np.arange(n)
    ys, xs = np.nonzero(unknown)
    rows, cols, vals = [], [], []
    rhs = np.zeros(n)
    diag = np.zeros(n)
    for dy, dx in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < h) & (nx >= 0) & (nx < w)
        diag[inside] += 1.0
        ny, nx, src = ny[inside], nx[inside], np.nonzero(inside)[0]
        nb = index[ny, nx]
        is_unknown = nb >= 0
        rows.append(src[is_unknown])
        cols.append(nb[is_unknown])
        vals.append(-np.ones(int(is_unknown.sum())))
        rhs[src[~is_unknown]] += out[ny[~is_unknown], nx[~is_unknown]]
    rows.append(np.arange(n))
    cols.append(np.arange(n))
    vals.append(diag)
    mat = scipy.sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    out[unknown] = scipy.sparse.linalg.spsolve(mat, rhs)
    return out.astype(np.float32)


@dataclass(frozen=True)
class HeadShell:
    """The fitted whole head's outer surface in the photo's camera frame (cm): vertices [V, 3],
    triangles int [F, 3] (only the parts the relief may lie on: not the neck, whose collar may
    stand in front of it, nor the hidden mouth bag and eye sockets)."""

    vertices: np.ndarray
    triangles: np.ndarray

    @staticmethod
    def of_fit(fit: FaceFit, config: ReliefConfig = ReliefConfig()) -> "HeadShell":
        """The MakeHuman head fitted to ``fit``'s face mesh (``core.head.fit``), in its camera frame."""
        from core.head.fit import fit_head
        from core.head.template import REGION_NAMES, load_head_template

        head = fit_head(load_head_template(), fit.to_head(fit.mesh.astype(np.float32)))
        world = fit.to_camera(head.vertices.astype(np.float64))
        shell = ~np.isin(head.regions, [REGION_NAMES.index(r) for r in config.shell_excluded_regions])
        triangles = head.triangles[shell[head.triangles].all(axis=1)]
        # An ear the photo saw edge-on is better drawn by the fitted ear (the head layer) than by
        # the photo's few pixels of it stretched over the ear's shape: the relief does not take it.
        ears = (head.regions == REGION_NAMES.index("ears"))[triangles].all(axis=1)
        p = world[triangles]
        normal = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])  # outward (the template winds counter-clockwise)
        centre = p.mean(axis=1)
        cos = -(normal * centre).sum(axis=1) / np.maximum(
            np.linalg.norm(normal, axis=1) * np.linalg.norm(centre, axis=1), 1e-12)
        # Only the head's front faces can be nearest to the photo's camera: the back ones are skipped.
        keep = (cos > 0.0) & (~ears | (cos >= config.shell_ear_facing))
        return HeadShell(world, triangles[keep])

    def raster(self, intrinsics, scale: float, width: int, height: int) -> MeshRaster:
        """Z-buffered into the photo resized by ``scale`` (``width`` x ``height`` pixels)."""
        uv = resize_pixels(intrinsics.project(self.vertices), scale, scale)
        return rasterize(uv, self.vertices[:, 2], self.triangles, width, height)


def build_relief(rgb: np.ndarray, matte: np.ndarray, fit: FaceFit, model: FaceModel,
                 config: ReliefConfig = ReliefConfig(), head: HeadShell | None = None) -> Relief:
    """Lift the portrait into the layered relief (see module docstring); ``head``: the fitted whole
    head (None: the membrane everywhere beyond the face)."""
    h, w = rgb.shape[:2]
    full = _face_raster(fit, model, 1.0, w, h)
    face_fill = face_fill_mask(full.covered)
    mouth = mouth_opening_mask(fit, w, h)
    crop, crop_xy = _mouth_crop(rgb, mouth)
    appearance = _fill_region(rgb, mouth)

    face_soft = cv2.GaussianBlur(full.covered.astype(np.float32), (0, 0), 1.5)
    alpha = np.maximum(matte, np.clip(face_soft * 2.0, 0.0, 1.0)).astype(np.float32)

    # Membrane for the non-face parts of the person at a coarse resolution.
    z_edge = float(fit.translation[2] + config.silhouette_depth_cm)
    s_scale = config.solve_side_px / max(h, w)
    sw, sh = max(round(w * s_scale), 2), max(round(h * s_scale), 2)
    coarse = _face_raster(fit, model, s_scale, sw, sh)
    person_s = cv2.resize(alpha, (sw, sh), interpolation=cv2.INTER_AREA) > config.matte_threshold
    face_s = coarse.covered
    fixed, fixed_depth = face_s, np.where(face_s, coarse.depth, 0.0)
    if head is not None:
        shell = head.raster(fit.intrinsics, s_scale, sw, sh)
        on_shell = shell.covered & person_s & ~holes_filled(face_s)
        fixed = face_s | on_shell
        fixed_depth = np.where(on_shell, shell.depth - config.shell_offset_cm, fixed_depth)
    membrane = _membrane(person_s | face_s, fixed, fixed_depth, z_edge)
    dt_edge = cv2.distanceTransform((person_s | face_s).astype(np.uint8), cv2.DIST_L2, 3)
    dt_face = cv2.distanceTransform((~face_s).astype(np.uint8), cv2.DIST_L2, 3)
    span = 0.15 * config.solve_side_px
    bulge = config.inflation_cm * np.sqrt(np.clip(dt_edge / span, 0, 1)) * np.clip(dt_face / (0.5 * span), 0, 1)
    if head is not None:
        # Hair beyond the skull's outline recedes with it (a bulge there would fold it over the
        # skull); the torso, away from the head, keeps its bulge.
        dt_shell = cv2.distanceTransform((~on_shell).astype(np.uint8), cv2.DIST_L2, 3)
        bulge = bulge * np.clip(dt_shell / (config.shell_bulge_span * config.solve_side_px), 0, 1)
    coarse_depth = membrane - bulge.astype(np.float32)

    g_scale = min(1.0, config.geometry_side_px / max(h, w))
    gw, gh = max(round(w * g_scale), 2), max(round(h * g_scale), 2)
    depth = cv2.resize(coarse_depth, (gw, gh), interpolation=cv2.INTER_LINEAR)
    geo_face = _face_raster(fit, model, g_scale, gw, gh)
    # The face mesh's hole at the mouth opening takes the face's own depth, harmonically filled from
    # their rim: the membrane's inflation toward the camera must not bulge the opening out in
    # front of the lips (the inner mouth is hidden behind surfaces nearer than the lips).
    mouth_geo = cv2.resize(mouth.astype(np.uint8), (gw, gh), interpolation=cv2.INTER_NEAREST) > 0
    covered, face_depth = fill_face_holes(geo_face.covered, geo_face.depth, mouth_geo)
    blend = cv2.GaussianBlur(covered.astype(np.float32), (0, 0), 1.0)
    blend = np.where(cv2.erode(covered.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0, 1.0, blend)
    face_depth = np.where(covered, face_depth, depth)
    depth = (blend * face_depth + (1 - blend) * depth).astype(np.float32)

    background = _inpaint_background(rgb, alpha)
    appearance = foreground_colours(appearance, alpha, background, config.foreground_alpha)
    # The mesh as the subject stores it (float32), so that the lip ring is the renderer's.
    mesh_uv = fit.intrinsics.project(fit.mesh.astype(np.float32).astype(np.float64))
    colours = analyse_mouth_colours(appearance, mesh_uv, mouth, crop, config.mouth_colours)
    return Relief(
        appearance=appearance, alpha=alpha, background=background, depth=depth,
        background_depth=float(fit.translation[2] + config.background_gap_cm),
        mouth_mask=mouth, face_fill=face_fill,
        mouth_crop=crop, mouth_crop_xy=crop_xy, mouth_colours=colours.to_array(),
    )


def _mouth_crop(rgb: np.ndarray, mouth: np.ndarray, pad: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """RGBA crop of the photo around its mouth opening (alpha 255 inside the opening)."""
    if not mouth.any():
        return np.zeros((0, 0, 4), np.uint8), np.zeros(2, np.int64)
    ys, xs = np.nonzero(mouth)
    y0, y1 = max(ys.min() - pad, 0), min(ys.max() + pad + 1, rgb.shape[0])
    x0, x1 = max(xs.min() - pad, 0), min(xs.max() + pad + 1, rgb.shape[1])
    crop = np.dstack([rgb[y0:y1, x0:x1], mouth[y0:y1, x0:x1].astype(np.uint8) * 255])
    return np.ascontiguousarray(crop), np.array([x0, y0], np.int64)


def _down(x: np.ndarray) -> np.ndarray:
    """Gaussian pyramid step down, [h, w, C] -> [(h + 1) // 2, (w + 1) // 2, C]."""
    out = cv2.pyrDown(x, borderType=cv2.BORDER_REFLECT101)
    return out.reshape(out.shape[0], out.shape[1], *x.shape[2:])


def _up(x: np.ndarray, width: int, height: int) -> np.ndarray:
    """Gaussian pyramid step up to [height, width, C]."""
    out = cv2.pyrUp(x, dstsize=(width, height), borderType=cv2.BORDER_REFLECT101)
    return out.reshape(height, width, *x.shape[2:])


def foreground_colours(rgb: np.ndarray, alpha: np.ndarray, background: np.ndarray,
                       trusted: tuple[float, float] = (0.3, 0.7)) -> np.ndarray:
    """The person's own colour at the matte's soft edge (colour decontamination): a photo pixel
    there is I = a F + (1 - a) B, person F over background B. Given the inpainted background, F =
    (I - (1 - a) B) / a where the matte ``alpha`` is at least ``trusted[0]`` (fully trusted from
    ``trusted[1]``), carried in from the person below that (``push_pull_fill``). Drawn over its
    background with alpha, F gives the photo back; seen from the side it gives no halo of the
    background's colour around the hair and shoulders. uint8 [H, W, 3] from rgb and background
    uint8 [H, W, 3], alpha float [H, W]; pixels of alpha 1 are unchanged."""
    a = np.clip(np.asarray(alpha, np.float32), 0.0, 1.0)[..., None]
    image = rgb.astype(np.float32)
    solved = np.clip((image - (1.0 - a) * background.astype(np.float32)) / np.maximum(a, 1e-3), 0.0, 255.0)
    lo, hi = trusted
    weight = np.clip((a[..., 0] - lo) / (hi - lo), 0.0, 1.0)
    out = push_pull_fill(np.where(a >= 1.0, image, solved), np.where(a[..., 0] >= 1.0, 1.0, weight))
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def push_pull_fill(image: np.ndarray, weight: np.ndarray, gain: float = 2.0) -> np.ndarray:
    """Fill the low-confidence pixels of ``image`` from their surroundings: push-pull (normalized
    convolution over a Gaussian pyramid).

    image:  float32 [H, W, C] (or [H, W])
    weight: float32 [H, W] in [0, 1], confidence of each pixel (0 = hole, colour unknown)
    Returns float32, same shape as ``image``: ``weight * image + (1 - weight) * estimate``. The
    estimate comes from ever coarser levels of (colour * weight, weight) until every pixel has
    support, pulled back up level by level (each level keeps its own normalized colour in
    proportion to ``gain`` times its weight there). Pixels of weight 1 come back unchanged; the
    fill is smooth and deterministic. With no known pixel at all the image mean is returned.
    """
    img = np.asarray(image, np.float32)
    if img.ndim == 2:
        return push_pull_fill(img[..., None], weight, gain)[..., 0]
    w = np.ascontiguousarray(np.clip(weight, 0.0, 1.0), np.float32)
    if w.min() >= 1.0:
        return img.copy()
    if w.max() <= 0.0:
        return np.broadcast_to(img.reshape(-1, img.shape[2]).mean(axis=0), img.shape).astype(np.float32)
    # Push: premultiplied colour and weight down the pyramid until every pixel has support.
    colours, weights = [np.ascontiguousarray(img * w[..., None])], [w]
    while weights[-1].min() <= 1e-6 and max(weights[-1].shape) > 1:
        colours.append(_down(colours[-1]))
        weights.append(_down(weights[-1]))
    est = colours[-1] / np.maximum(weights[-1], 1e-6)[..., None]
    # Pull: each finer level keeps its normalized colour where it has support, the coarser
    # estimate elsewhere.
    for k in range(len(colours) - 2, 0, -1):
        h, wd = weights[k].shape
        a = np.clip(gain * weights[k], 0.0, 1.0)[..., None]
        est = a * (colours[k] / np.maximum(weights[k], 1e-6)[..., None]) + (1 - a) * _up(est, wd, h)
    if len(colours) > 1:
        est = _up(est, w.shape[1], w.shape[0])
    return w[..., None] * img + (1 - w[..., None]) * est


def _inpaint_background(rgb: np.ndarray, alpha: np.ndarray, work_side: int = 512) -> np.ndarray:
    """The portrait with the person removed: uint8 [H, W, 3] from rgb uint8 [H, W, 3] and the
    person matte alpha float32 [H, W].

    The person (grown by a margin, so that hair fringes the matte missed go too) is filled by
    ``push_pull_fill`` at a working resolution; known pixels near the hole count less, since they
    may still carry some of the person's colour. The fill replaces the photo under the person and
    in a thin band around it; elsewhere the photo is kept exactly.
    """
    h, w = rgb.shape[:2]
    scale = min(1.0, work_side / max(h, w))
    size = (max(round(w * scale), 2), max(round(h * scale), 2))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    person = cv2.resize(alpha, size, interpolation=cv2.INTER_AREA) > 0.05
    grow = max(1, round(0.006 * max(size)))  # about 3 px at 512
    hole = cv2.dilate(person.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1,) * 2))
    # Confidence ramps up over a few pixels away from the hole.
    dist = cv2.distanceTransform(1 - hole, cv2.DIST_L2, 3)
    weight = np.clip(dist / (2.0 * grow), 0.0, 1.0).astype(np.float32)
    filled = push_pull_fill(small, weight)
    big = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
    # Where the fill replaces the photo: under the person and over a band of about ``grow`` work
    # pixels around it, fading out softly.
    band = grow / scale
    person_full = (alpha > 0.05).astype(np.uint8)
    out_dist = cv2.distanceTransform(1 - person_full, cv2.DIST_L2, 3)
    cover = np.clip(1.0 - out_dist / band, 0.0, 1.0).astype(np.float32)
    out = rgb.astype(np.float32) * (1 - cover[..., None]) + big * cover[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def extend_beyond_frame(image: np.ndarray, margin: float = 0.25, work_side: int = 256) -> tuple[np.ndarray, int, int]:
    """The image continued past its frame by ``margin`` of its size on every side, smoothly:
    novel views see parts of the background plane the photo never showed. The continuation is a
    ``push_pull_fill`` from the frame's pixels (a soft wash of the nearby colours, no mirrored or
    stretched copies); the photo itself is kept exactly.

    image: uint8 or float32 [H, W, 3]. Returns (float32 [H + 2 py, W + 2 px, 3], px, py).
    """
    h, w = image.shape[:2]
    px, py = round(margin * w), round(margin * h)
    big_w, big_h = w + 2 * px, h + 2 * py
    scale = min(1.0, work_side / max(big_w, big_h))
    sw, sh = max(round(big_w * scale), 2), max(round(big_h * scale), 2)
    x0, y0 = round(px * scale), round(py * scale)
    x1, y1 = sw - x0, sh - y0
    small = np.zeros((sh, sw, 3), np.float32)
    small[y0:y1, x0:x1] = cv2.resize(np.asarray(image, np.float32), (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)
    known = np.zeros((sh, sw), np.float32)
    known[y0:y1, x0:x1] = 1.0
    out = cv2.resize(push_pull_fill(small, known), (big_w, big_h), interpolation=cv2.INTER_LINEAR)
    out[py:py + h, px:px + w] = image
    return out.astype(np.float32), px, py
