"""Ray deformation (paper Eq. 5-7): vertex displacements -> 3D displacement field -> samples.

Per frame: dV = V(beta) - V_init from the face model (head frame); the backward displacement
dp = -dV is carried to the grid points of the subject's 3D NN mapping (sum_j w_j dp[idx_j]) for
the skull side and the jaw side, and looked up trilinearly at any point. A point takes the jaw
side's field below the (deformed) mouth line and the skull side's above it, with a sharp switch
between the lip corners and a soft one beyond them.

Two ways to apply it:
* ``displacement_at``: the literal Eq. 7, any sample p -> p + dp(p) (used by the reference renderer);
* ``warp_height_field``: the fast path. The person layer is a height field seen from the photo's
  camera, so deforming it is solved once per frame on the photo's pixel grid: for each pixel ray,
  find the depth z whose deformed point p(z) + dp(p(z)) lies on the canonical relief (a few Newton
  steps, 2 by default; ``warp_plan`` precomputes the lookups of the fixed canonical points). Any
  camera then ray-marches the deformed height field without per-sample deformation.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torch.nn.functional as F

from core.geometry.pinhole import project_to_grid, ray_directions_torch
from core.face import topology as topo
from core.face.face_model import FaceModel
from core.preprocess.subject import Subject
from core.render.config import DeformationConfig
from core.render.motion_field import EyeGaze, EyeLids, HeadRegion, head_motion_matrix, inverse_motion



def _sparse_mapping(index: np.ndarray, weight: np.ndarray, n_vertices: int, device) -> torch.Tensor:
    """CSR matrix [G, N] with weight[g, j] at column index[g, j]; zero weights are dropped."""
    g, k = index.shape
    keep = weight.reshape(-1) > 0
    rows = np.repeat(np.arange(g), k)[keep]
    cols = index.reshape(-1)[keep]
    vals = weight.reshape(-1)[keep]
    coo = torch.sparse_coo_tensor(torch.from_numpy(np.stack([rows, cols])), torch.from_numpy(vals),
                                  (g, n_vertices), check_invariants=True).coalesce()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        return coo.to_sparse_csr().to(device)


@dataclass
class FrameDeformation:
    """One frame's deformation.

    fields:  float32 [A + 1, 6]  backward displacement (cm, head frame) at the active grid points:
             skull side xyz, jaw side xyz; the last row is zero (every inactive grid point)
    mouth_x, mouth_y: float32 [M]        deformed mouth line (head frame, x increasing)
    vertices: float32 [478, 3]           deformed mesh V(beta), head frame, before the head's motion
    lids:     eyelid closure (subject's left, right), 0..1 (``motion_field.EyeLids``)
    gaze:     the eyes' turn, degrees (``motion_field.GAZE_CHANNELS``; ``EyeGaze``)
    head_motion: float64 [3, 4] forward rigid motion of the head in the head frame
             (``motion_field.head_motion_matrix``), None when the head is still
    head_inverse: float32 [3, 4] its inverse (torch), None when still
    camera_inverse: float32 [3, 4] that inverse in the camera frame (torch), None when still
    """

    fields: torch.Tensor
    mouth_x: torch.Tensor
    mouth_y: torch.Tensor
    vertices: torch.Tensor
    lids: tuple[float, float] = (0.0, 0.0)
    gaze: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)
    head_motion: np.ndarray | None = None
    head_inverse: torch.Tensor | None = None
    camera_inverse: torch.Tensor | None = None  # float32 [3, 4]: the same inverse in the camera frame

    @property
    def head_moves(self) -> bool:
        return self.head_motion is not None


@dataclass
class LookupPlan:
    """Grid rows [N, 8] and trilinear weights [N, 8] of fixed points (head frame [N, 3])."""

    head: torch.Tensor
    rows: torch.Tensor
    weights: torch.Tensor


class Deformer:
    """Per-subject tensors for ray deformation, on ``device``."""

    def __init__(self, subject: Subject, model: FaceModel, device: torch.device,
                 config: DeformationConfig = DeformationConfig()):
        self.device = device
        self.config = config
        f32 = dict(dtype=torch.float32, device=device)
        self.rotation = torch.as_tensor(subject.rotation, **f32)  # head -> camera
        self.translation = torch.as_tensor(subject.translation, **f32)
        self._rotation_np = np.asarray(subject.rotation, np.float32)
        self._translation_np = np.asarray(subject.translation, np.float32)
        self.head_init = torch.as_tensor(subject.head_mesh, **f32)
        self.basis = torch.as_tensor(model.basis, **f32)
        self.beta_init = torch.as_tensor(subject.beta_init, **f32)
        self._basis_array = np.asarray(model.basis, np.float32).reshape(len(model.basis), -1)  # [K, 478 * 3]
        self._beta_init_array = np.asarray(subject.beta_init, np.float32)
        m = subject.mapping
        self.origin = torch.as_tensor(m.origin, **f32)
        self.voxel = float(m.voxel)
        self.dims = tuple(int(d) for d in m.dims)  # (nx, ny, nz)
        n_vertices = len(subject.mesh)
        # Only grid points near the face carry any displacement: keep those ("active", A of G),
        # with a slot volume mapping every grid point to its row (A = the zero row).
        active = (m.upper_weight.astype(np.float32).sum(axis=1) > 0) | (m.lower_weight.astype(np.float32).sum(axis=1) > 0)
        active_ids = np.nonzero(active)[0]
        self.num_active = len(active_ids)
        slot = np.full(len(active), self.num_active, np.int64)
        slot[active_ids] = np.arange(self.num_active)
        self.slot = torch.as_tensor(slot, device=device)
        self._corners = torch.tensor([[x, y, z] for z in (0, 1) for y in (0, 1) for x in (0, 1)], device=device)
        self._dims_t = torch.tensor(self.dims, device=device)
        # The mapping as one sparse matrix [2A, N]: rows are active grid points (skull side, then
        # jaw side), columns vertices. Carrying dV to the grid is a single sparse product.
        self.carry = _sparse_mapping(
            np.concatenate([m.upper_index[active_ids], m.lower_index[active_ids]]).astype(np.int64),
            np.concatenate([m.upper_weight[active_ids], m.lower_weight[active_ids]]).astype(np.float32),
            n_vertices, device)
        self._upper_ids = torch.tensor(topo.LIP_INNER_UPPER, device=device)
        self._lower_ids = torch.tensor(topo.LIP_INNER_LOWER, device=device)
        self.lids = EyeLids(subject.head_mesh.astype(np.float64), device, config.lids)
        self.gaze = EyeGaze(subject.head_mesh.astype(np.float64), device, config.gaze)
        self.head_region = HeadRegion(subject.head_mesh.astype(np.float64), config.head_region)

    # ----------------------------------------------------------------- per frame
    def frame(self, beta: np.ndarray, extra: np.ndarray | None = None, lids: tuple[float, float] = (0.0, 0.0),
              head: tuple[float, ...] | None = None, gaze: tuple[float, ...] = (0.0, 0.0, 0.0, 0.0)) -> FrameDeformation:
        """Deformation for expression ``beta`` [K] (after the motion parameters), plus an optional
        extra head-frame vertex displacement [478, 3] (cm; the lip seal), eyelid closures
        (left, right) in 0..1, the head's rigid motion ``head`` (yaw, pitch, roll degrees,
        x, y, z cm; ``motion_field.HEAD_POSE_CHANNELS``; None or zeros: still) and the eyes'
        turn ``gaze`` (degrees, ``motion_field.GAZE_CHANNELS``)."""
        dv = self.vertex_displacement(beta, extra)
        vertices = self.head_init + dv
        a = self.num_active
        both = torch.sparse.mm(self.carry, -dv)  # [2A, 3]
        fields = torch.cat([torch.cat([both[:a], both[a:]], dim=1),
                            torch.zeros(1, 6, device=self.device)])  # [A + 1, 6], last row zero
        up, lo = vertices[self._upper_ids], vertices[self._lower_ids]
        mid = 0.5 * (up + lo)
        order = torch.argsort(mid[:, 0])
        lids = (float(lids[0]), float(lids[1]))
        motion = inverse = camera_inverse = None
        if head is not None and any(float(v) != 0.0 for v in head):
            motion = head_motion_matrix(head, self.head_region.pivot)
            inv = inverse_motion(motion)
            r, t = self.rotation.cpu().double().numpy(), self.translation.cpu().double().numpy()
            a_cam = r @ inv[:, :3] @ r.T  # x_cam -> R (A (R^T (x - t)) + b) + t
            b_cam = r @ inv[:, 3] + t - a_cam @ t
            inverse = torch.as_tensor(inv, dtype=torch.float32, device=self.device)
            camera_inverse = torch.as_tensor(np.concatenate([a_cam, b_cam[:, None]], axis=1), dtype=torch.float32,
                                             device=self.device)
        return FrameDeformation(fields, mid[order, 0].contiguous(), mid[order, 1].contiguous(), vertices,
                                lids, tuple(float(g) for g in gaze), motion, inverse, camera_inverse)

    def vertex_displacement(self, beta: np.ndarray, extra: np.ndarray | None = None) -> torch.Tensor:
        """dV = V(beta) - V_init (+ ``extra``), [478, 3] head frame (cm): what the mapping carries."""
        beta_t = torch.as_tensor(np.asarray(beta, np.float32), device=self.device)
        dv = torch.tensordot(beta_t - self.beta_init, self.basis, dims=1)  # [478, 3]
        if extra is not None:
            dv = dv + torch.as_tensor(np.asarray(extra, np.float32), device=self.device)
        return dv

    def vertex_displacement_array(self, beta: np.ndarray, extra: np.ndarray | None = None) -> np.ndarray:
        """``vertex_displacement`` in numpy, float32 [478, 3] (the rasteriser's per-frame path:
        one small matrix product, which torch pays a dispatch overhead for on the CPU)."""
        delta = np.asarray(beta, np.float32) - self._beta_init_array
        dv = (delta @ self._basis_array).reshape(-1, 3)
        return dv if extra is None else dv + np.asarray(extra, np.float32)

    # ----------------------------------------------------------------- lookups
    def to_head(self, points: torch.Tensor) -> torch.Tensor:
        return (points - self.translation) @ self.rotation

    def _jaw_side_weight(self, head: torch.Tensor, frame: FrameDeformation) -> torch.Tensor:
        """0 on the skull side of the deformed mouth line, 1 on the jaw side. [N]."""
        x, y = head[:, 0], head[:, 1]
        mx, my = frame.mouth_x, frame.mouth_y
        xc = x.clamp(mx[0], mx[-1])
        seg = torch.searchsorted(mx, xc.contiguous()).clamp(1, len(mx) - 1)
        x0, x1 = mx[seg - 1], mx[seg]
        t = ((xc - x0) / (x1 - x0).clamp_min(1e-6)).clamp(0, 1)
        y_mid = my[seg - 1] * (1 - t) + my[seg] * t
        beyond = (x - xc).abs()
        c = self.config
        soften = (beyond / c.soft_side_distance_cm).clamp(0, 1)
        width = c.sharp_side_width_cm + (c.soft_side_width_cm - c.sharp_side_width_cm) * soften
        return torch.sigmoid((y - y_mid) / width)

    def lookup_plan(self, points: torch.Tensor) -> "LookupPlan":
        """The frame-independent part of ``displacement_at`` for fixed points [N, 3] (camera frame)."""
        return self._plan_head(self.to_head(points))

    def _plan_head(self, head: torch.Tensor) -> "LookupPlan":
        nx, ny, nz = self.dims
        g = (head - self.origin) / self.voxel
        base = torch.floor(g)
        frac = g - base
        corner = base.long()[:, None, :] + self._corners  # [N, 8, 3] integer grid corners
        inside = ((corner >= 0) & (corner < self._dims_t)).all(dim=2)  # [N, 8]
        flat = (corner[..., 2] * ny + corner[..., 1]) * nx + corner[..., 0]
        rows = torch.where(inside, self.slot[flat.clamp(0, self.slot.numel() - 1)],
                           torch.full_like(flat, self.num_active))
        # Trilinear weights: prod over axes of frac (corner offset 1) or 1 - frac (offset 0).
        weights = torch.where(self._corners.bool(), frac[:, None, :], 1.0 - frac[:, None, :]).prod(dim=2)
        return LookupPlan(head, rows, weights)

    def _unmove_head(self, head: torch.Tensor, frame: FrameDeformation) -> torch.Tensor:
        """Head-frame points [N, 3] of the moved head -> where they were before the head's rigid
        motion (weighted by the head region; identity when the head is still)."""
        if frame.head_inverse is None:
            return head
        inv = frame.head_inverse
        w = self.head_region.weight(head)[:, None]
        return head + w * (head @ inv[:, :3].T + inv[:, 3] - head)

    def unmove(self, points: torch.Tensor, frame: FrameDeformation) -> torch.Tensor:
        """Camera-frame points [N, 3] of the moved head -> where they were before the head's
        weighted rigid motion, camera frame [N, 3] (the identity when the head is still)."""
        if frame.head_inverse is None:
            return points
        w = self.head_region.weight(self.to_head(points))[:, None]
        a, b = frame.camera_inverse[:, :3], frame.camera_inverse[:, 3]
        return points + w * (points @ a.T + b - points)

    def move_forward(self, points: torch.Tensor, frame: FrameDeformation) -> torch.Tensor:
        """Forward rigid motion of the head (weighted) for canonical camera-frame points [N, 3]
        already moved by the expression -> [N, 3]: what a renderer that moves mesh vertices
        applies (the backward field of ``displacement_at`` inverts it; the plain reference of the
        rasteriser's ``move_points_array``). The eyelids and the gaze move no vertex: they change
        what the eye's surface shows (see ``eye_backward``)."""
        return self.move_points(points, frame.head_motion)

    def head_motion(self, head: tuple[float, ...] | None) -> np.ndarray | None:
        """The head's forward rigid motion [3, 4] (head frame) for the channels ``head`` (see
        ``frame``); None when the head is still."""
        if head is None or not any(float(v) != 0.0 for v in head):
            return None
        return head_motion_matrix(head, self.head_region.pivot)

    def move_points(self, points: torch.Tensor, head_motion: np.ndarray | None) -> torch.Tensor:
        """``move_forward`` without a FrameDeformation: the head's forward motion [3, 4] or None.
        points [N, 3] camera frame -> [N, 3]."""
        if head_motion is None:
            return points
        head = self.to_head(points)
        m = torch.as_tensor(head_motion, dtype=head.dtype, device=head.device)
        w = self.head_region.weight(head)[:, None]
        head = head + w * (head @ m[:, :3].T + m[:, 3] - head)
        return head @ self.rotation.T + self.translation

    def move_points_array(self, points: np.ndarray, head_motion: np.ndarray | None,
                          weight: np.ndarray | None = None) -> np.ndarray:
        """``move_points`` in numpy, float32 [N, 3] camera frame -> [N, 3]: for the rasteriser's
        vertices, which live on the CPU (small per-frame torch ops there lose to thread
        contention). ``weight`` [N]: the head region's weight of each point when known (a mesh
        gives its vertices' weights at rest; the region's weight varies over centimetres, the
        expression moves the neck's vertices by millimetres); else computed here."""
        points = np.asarray(points, np.float32)
        if head_motion is None:
            return points
        r, t = self._rotation_np, self._translation_np
        if weight is None:
            weight = self.head_weight_array(points)
        # The head frame's motion seen in the camera frame: x -> a x + b.
        m = np.asarray(head_motion, np.float32)
        a = r @ m[:, :3] @ r.T
        b = r @ m[:, 3] + t - a @ t
        return points + weight[:, None] * (points @ a.T + b - points)

    def head_weight_array(self, points: np.ndarray) -> np.ndarray:
        """The head region's weight [N] at camera-frame points [N, 3] (numpy)."""
        return self.head_region.weight_array((np.asarray(points, np.float32) - self._translation_np) @ self._rotation_np)

    def _expression_planned(self, plan: "LookupPlan", frame: FrameDeformation) -> torch.Tensor:
        """Expression (grid) plus eyelid and gaze backward displacement at the plan's points, head frame [N, 3]."""
        sampled = torch.einsum("nk,nkc->nc", plan.weights, frame.fields[plan.rows])
        w = self._jaw_side_weight(plan.head, frame)[:, None]
        dp_head = sampled[:, :3] * (1 - w) + sampled[:, 3:] * w
        return dp_head + self._eyes_backward(plan.head, frame)

    def _eyes_backward(self, head: torch.Tensor, frame: FrameDeformation) -> torch.Tensor | float:
        """The eyelids' and the gaze's backward displacement at head-frame points [N, 3] (or 0)."""
        if frame.lids[0] <= 0 and frame.lids[1] <= 0 and not any(frame.gaze):
            return 0.0
        return self.eye_backward(head, frame.lids, frame.gaze)

    def eye_backward(self, head: torch.Tensor, lids: tuple[float, float], gaze: tuple[float, ...]) -> torch.Tensor:
        """Backward displacement [N, 3] (head frame, cm) of the eyelids' closure (left, right)
        and the eyes' turn ``gaze`` at head-frame points [N, 3]: where each point's colour comes
        from. The lids and the gaze move no surface, only what the eye's surface shows."""
        lids_dp = self.lids.backward(head, lids) if lids[0] > 0 or lids[1] > 0 else None
        if not any(gaze):
            return torch.zeros_like(head) if lids_dp is None else lids_dp
        gaze_dp = self.gaze.backward(head, gaze)
        if lids_dp is None:
            return gaze_dp
        # Where a lid covers the eye it shows the lid's skin, not the turned eye.
        return lids_dp + torch.where(lids_dp[:, 1:2] != 0, torch.zeros_like(gaze_dp), gaze_dp)

    def eye_region_corners(self, lids: bool = True) -> list[np.ndarray]:
        """Per eye (subject's left, right), the 8 corners [8, 3] (camera frame) of a box holding
        every point that ``eye_backward`` can change (``lids=False``: that its gaze can change,
        the eye opening)."""
        c = self.config.lids
        rot, t = self._rotation_np.astype(np.float64), self._translation_np.astype(np.float64)
        out = []
        for (x, yu, yl, zu), eye in zip(self.lids.curves, self.gaze.eyes):
            x, yu, yl, zu = (a.cpu().numpy().astype(np.float64) for a in (x, yu, yl, zu))
            zc = float(eye["centre"][2])
            gaze_depth = self.config.gaze.depth_zero_cm
            if lids:
                depth = max(c.depth_zero_cm, gaze_depth)
                lo = np.array([min(x[0], eye["x_lo"]), yu.min() - c.skin_above_cm, min(zu.min(), zc) - depth])
                hi = np.array([max(x[-1], eye["x_hi"]), yl.max(), max(zu.max(), zc) + depth])
            else:
                _, yu_g, yl_g = (a.cpu().numpy().astype(np.float64) for a in eye["curves"])
                lo = np.array([eye["x_lo"], yu_g.min(), zc - gaze_depth])
                hi = np.array([eye["x_hi"], yl_g.max(), zc + gaze_depth])
            corners = np.array([[a, b, cz] for a in (lo[0], hi[0]) for b in (lo[1], hi[1]) for cz in (lo[2], hi[2])])
            out.append(corners @ rot.T + t)
        return out

    def displacement_planned(self, plan: "LookupPlan", frame: FrameDeformation) -> torch.Tensor:
        """``displacement_at`` for the points of ``plan``: [N, 3] camera frame (cm). The plan is
        reused as is while the head is still; a moving head is looked up where its points were."""
        if frame.head_inverse is None:
            return self._expression_planned(plan, frame) @ self.rotation.T
        return self._displacement_head(plan.head, frame) @ self.rotation.T

    def _displacement_head(self, head: torch.Tensor, frame: FrameDeformation) -> torch.Tensor:
        still = self._unmove_head(head, frame)
        if frame.head_inverse is None:
            return self._expression_planned(self._plan_head(still), frame)
        # Only points inside the mapping grid carry expression (and eyelid) displacement.
        g = (still - self.origin) / self.voxel
        inside = ((g >= -1) & (g <= self._dims_t - 1)).all(dim=1)
        out = still - head
        idx = torch.nonzero(inside).squeeze(1)
        if idx.numel():
            out[idx] += self._expression_planned(self._plan_head(still[idx]), frame)
        return out

    def displacement_at(self, points: torch.Tensor, frame: FrameDeformation) -> torch.Tensor:
        """Backward displacement dp at camera-frame points [N, 3] -> [N, 3] (camera frame, cm):
        the head's rigid motion undone (weighted), then the expression field (trilinear in the
        grid through the compact active rows; zero outside the grid) and the eyelids."""
        return self._displacement_head(self.to_head(points), frame) @ self.rotation.T

    def dense_fields(self, frame: FrameDeformation) -> torch.Tensor:
        """The frame's fields on the full grid, [1, 6, nz, ny, nx] (for the reference lookup)."""
        nx, ny, nz = self.dims
        return frame.fields[self.slot].T.reshape(1, 6, nz, ny, nx).contiguous()

    def displacement_at_reference(self, points: torch.Tensor, frame: FrameDeformation) -> torch.Tensor:
        """Plain version of ``displacement_at``: grid_sample on the dense grid."""
        moved = self.to_head(points)
        head = self._unmove_head(moved, frame)
        nx, ny, nz = self.dims
        g = (head - self.origin) / self.voxel
        norm = torch.stack([g[:, 0] / (nx - 1), g[:, 1] / (ny - 1), g[:, 2] / (nz - 1)], dim=1) * 2 - 1
        sampled = F.grid_sample(self.dense_fields(frame), norm.view(1, 1, 1, -1, 3), mode="bilinear",
                                padding_mode="zeros", align_corners=True)
        sampled = sampled.view(6, -1).T  # [N, 6]
        w = self._jaw_side_weight(head, frame)[:, None]
        dp_head = sampled[:, :3] * (1 - w) + sampled[:, 3:] * w + (head - moved)
        return (dp_head + self._eyes_backward(head, frame)) @ self.rotation.T

    def reach_box_corners(self, head_moves: bool) -> np.ndarray:
        """Corners [8, 3] (camera frame) of a box holding every point the deformation can move:
        the mapping grid, or with ``head_moves`` the head region grown by the largest head motion
        (``HeadRegionConfig``). Renderers limit their deformation work to its projection."""
        if not head_moves:
            return self.grid_box_corners()
        head = self.head_region.support_corners()
        return head @ self.rotation.cpu().numpy().T.astype(np.float64) + self.translation.cpu().numpy()

    def to_camera_motion(self, frame: FrameDeformation) -> tuple[np.ndarray, np.ndarray] | None:
        """The frame's head motion as a camera-frame pose of the moved head frame (rotation [3, 3],
        translation [3]): head-frame points x of the head go to R x + t; None when still."""
        if frame.head_motion is None:
            return None
        return moved_head_pose(self.rotation.cpu().numpy().astype(np.float64),
                               self.translation.cpu().numpy().astype(np.float64), frame.head_motion)

    def grid_box_corners(self) -> np.ndarray:
        """The mapping grid's 8 corners in the camera frame, [8, 3]."""
        nx, ny, nz = self.dims
        ext = np.array([nx - 1, ny - 1, nz - 1], np.float64) * self.voxel
        corners = np.array([[i, j, k] for i in (0, 1) for j in (0, 1) for k in (0, 1)], np.float64) * ext
        head = corners + self.origin.cpu().numpy()
        return head @ self.rotation.cpu().numpy().T + self.translation.cpu().numpy()


def moved_head_pose(rotation: np.ndarray, translation: np.ndarray, motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pose (head -> camera) of a head moved by ``motion`` [3, 4] (head frame): R A, R b + t."""
    return rotation @ motion[:, :3], rotation @ motion[:, 3] + translation


@lru_cache(maxsize=4)
def identity_source_grid(geo, photo, device: torch.device) -> torch.Tensor:
    """grid_sample coordinates [1, 2, h, w] into the photo of every geometry pixel's own ray
    (where an undeformed pixel takes its colour). The photo projection of the pixel's ray, not a
    plain rescale: the geometry grid's rows and columns need not divide the photo's evenly."""
    rays = ray_directions_torch(geo, device=device)
    return project_to_grid(rays.view(-1, 3), photo).T.reshape(1, 2, geo.height, geo.width)


def warp_height_field(deformer: Deformer, frame: FrameDeformation, depth_gated: torch.Tensor,
                      depth_open: torch.Tensor, geo, photo, box_px: tuple[int, int, int, int],
                      no_surface: float, iterations: int = 2,
                      plan: LookupPlan | None = None, only: torch.Tensor | None = None,
                      open_out: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Fast path of Eq. 7: deform the person height field once per frame in the photo's view.

    depth_gated: [1, 1, h, w] canonical depth with ``no_surface`` off the person
    depth_open:  [1, 1, h, w] canonical depth defined everywhere (initial guesses)
    box_px:      (x0, y0, x1, y1) geometry pixels that the deformation can reach
    plan:        ``deformer.lookup_plan`` of the box's canonical surface points (see ``warp_plan``)
    only:        optional flat indices [M] (row-major in the box) of the rays to solve; the others
                 keep the canonical surface (rays that cannot meet the person however it moves)
    open_out:    optional [1, 1, h, w] (a copy of depth_open) that receives the deformed depth of the
                 box before gating (with ``only`` None)
    Returns (deformed depth [1, 1, h, w], source grid [1, 2, h, w]): for every geometry pixel,
    the grid_sample coordinates of its canonical point in the full-resolution appearance.
    """
    from core.render.relief_renderer import sample_image

    device = depth_gated.device
    source = identity_source_grid(geo, photo, device).clone()  # the cached grid must stay the identity
    depth = depth_gated.clone()
    x0, y0, x1, y1 = box_px
    if x1 <= x0 or y1 <= y0:
        return depth, source
    rays = ray_directions_torch(geo, box_px, device).view(-1, 3)
    z = depth_open[0, 0, y0:y1, x0:x1].reshape(-1).clone()
    if only is not None:  # the rays of the box that can meet the moved person
        rays, z = rays[only], z[only]
    canon = rays * z[:, None]
    # The canonical surface points of the box are fixed: their lookup can be planned once.
    dp = deformer.displacement_planned(plan, frame) if plan is not None else deformer.displacement_at(canon, frame)
    # Rays whose canonical point does not move are already solved; iterate on the others only.
    moving = torch.nonzero(dp.abs().sum(dim=1) > 0).squeeze(1)
    canon[moving] += dp[moving]
    if moving.numel():
        zm, rm, cm = z[moving], rays[moving], canon[moving]
        for _ in range(iterations):
            dc = sample_image(depth_open, project_to_grid(cm, geo))[:, 0]
            zm = zm - (cm[:, 2] - dc)
            pm = rm * zm[:, None]
            cm = pm + deformer.displacement_at(pm, frame)
        z[moving], canon[moving] = zm, cm
    on_person = sample_image(depth_gated, project_to_grid(canon, geo))[:, 0] < 0.5 * no_surface
    if open_out is not None:  # the deformed depth before gating, defined everywhere
        open_out[0, 0, y0:y1, x0:x1] = z.view(y1 - y0, x1 - x0) if only is None else open_out[0, 0, y0:y1, x0:x1]
    z = torch.where(on_person, z, torch.full_like(z, no_surface))
    uv = project_to_grid(canon, photo).T
    if only is not None:
        box_depth = depth[0, 0, y0:y1, x0:x1].reshape(-1).clone()
        box_source = source[0, :, y0:y1, x0:x1].reshape(2, -1).clone()
        box_depth[only], box_source[:, only] = z, uv
        z, uv = box_depth, box_source
    depth[0, 0, y0:y1, x0:x1] = z.view(y1 - y0, x1 - x0)
    source[0, :, y0:y1, x0:x1] = uv.reshape(2, y1 - y0, x1 - x0)
    return depth, source


def warp_plan(deformer: Deformer, depth_open: torch.Tensor, geo, box_px: tuple[int, int, int, int],
              only: torch.Tensor | None = None) -> LookupPlan:
    """The lookup plan of the canonical surface points of ``box_px`` (for ``warp_height_field``;
    ``only``: the same ray subset)."""
    device = depth_open.device
    x0, y0, x1, y1 = box_px
    rays = ray_directions_torch(geo, box_px, device).view(-1, 3)
    z = depth_open[0, 0, y0:y1, x0:x1].reshape(-1)
    if only is not None:
        rays, z = rays[only], z[only]
    return deformer.lookup_plan(rays * z[:, None])


def warp_head_motion(deformer: Deformer, frame: FrameDeformation, depth_gated: torch.Tensor,
                     depth_open: torch.Tensor, source: torch.Tensor, geo, box_px: tuple[int, int, int, int],
                     only: torch.Tensor, no_surface: float, iterations: int = 1,
                     rays: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The head's rigid motion on a height field that already carries the expression (fast path).

    The backward field composes: a point of the moved head is first brought back by the weighted
    rigid motion (``Deformer.unmove``), then the expression field applies. So the expression is
    warped first (``warp_height_field`` with the head still; its gated and open depths and source
    grid come in here and are updated in place) and this second warp only undoes the rigid
    motion, which needs no grid lookups: for each ray of ``only`` (flat indices in ``box_px``), z
    such that unmove(p(z)) lies on the expression-deformed height field. ``rays``: the rays of
    ``only`` [M, 3] if already known. Returns (depth [1, 1, h, w], source [1, 2, h, w]).
    """
    from core.render.relief_renderer import sample_image

    x0, y0, x1, y1 = box_px
    if x1 <= x0 or y1 <= y0 or not only.numel():
        return depth_gated, source
    if rays is None:
        rays = ray_directions_torch(geo, box_px, depth_gated.device).view(-1, 3)[only]
    z = depth_open[0, 0, y0:y1, x0:x1].reshape(-1)[only]
    back = deformer.unmove(rays * z[:, None], frame)
    for _ in range(iterations):
        dc = sample_image(depth_open, project_to_grid(back, geo))[:, 0]
        z = z - (back[:, 2] - dc)
        back = deformer.unmove(rays * z[:, None], frame)
    grid = project_to_grid(back, geo)
    on_person = sample_image(depth_gated, grid)[:, 0] < 0.5 * no_surface
    z = torch.where(on_person, z, torch.full_like(z, no_surface))
    moved_source = sample_image(source, grid).T
    w = x1 - x0
    rows, cols = only // w + y0, only % w + x0
    depth_gated[0, 0, rows, cols] = z
    source[0, :, rows, cols] = moved_source
    return depth_gated, source


def rays_near_person(depth_gated: torch.Tensor, box_px: tuple[int, int, int, int], no_surface: float,
                     reach_px: int) -> torch.Tensor:
    """Flat indices (row-major in ``box_px``) of the pixels within ``reach_px`` of the person
    (``depth_gated`` below ``no_surface``): the only rays a moving person can reach."""
    x0, y0, x1, y1 = box_px
    person = (depth_gated[:, :, y0:y1, x0:x1] < 0.5 * no_surface).float()
    near = F.max_pool2d(person, 2 * reach_px + 1, stride=1, padding=reach_px) > 0
    return torch.nonzero(near.reshape(-1)).squeeze(1)
