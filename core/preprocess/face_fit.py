"""Face fit: MediaPipe FaceMesh landmarks -> head pose, the subject's 3D mesh S_init, beta_init;
SelfieSegmentation -> person matte.

Landmarks are lifted into the photo's pinhole camera (``core.geometry.pinhole.Intrinsics``): a
similarity fit of the canonical face to the landmarks (x, y in pixels, FaceMesh's relative z in
pixels) gives the head rotation R and the scale s in pixels per cm; the head sits at depth
Z0 = focal / s, and every landmark is placed on its own pixel ray at depth Z0 + z_rel / s. So
S_init reprojects onto the landmarks, and the expression fit beta_init is a bounded least-squares
problem on the basis.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import lsq_linear

from core.errors import PortraitError
from core.face import topology as topo
from core.face.face_model import FaceModel
from core.geometry.pinhole import Intrinsics, resize_pixels
from core.preprocess.config import LoadConfig

_MP_LOCK = threading.Lock()  # MediaPipe graphs are not safe to share across threads


def import_mediapipe():
    """``import mediapipe`` without importing matplotlib (about 0.4 s of a cold start): its
    ``solutions`` package imports ``matplotlib.pyplot`` for a plotting helper this program never
    calls, so empty placeholder modules stand in for matplotlib during the import and are taken
    out again (a later ``import matplotlib`` gets the real one; mediapipe's plotting helper
    alone would fail)."""
    import sys
    import types

    if "mediapipe" in sys.modules:
        return sys.modules["mediapipe"]
    placeholders = {}
    for name in ("matplotlib", "matplotlib.pyplot"):
        if name not in sys.modules:
            placeholders[name] = sys.modules[name] = types.ModuleType(name)
    try:
        import mediapipe
    finally:
        for name, module in placeholders.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    return mediapipe


@dataclass
class Landmarks:
    """FaceMesh output for the chosen face. points: float64 [478, 3] (u px, v px, z_rel px)."""

    points: np.ndarray
    num_faces: int
    notes: list[str] = field(default_factory=list)


@dataclass
class FaceFit:
    """The subject's face in the photo's camera.

    intrinsics:  the photo's pinhole camera
    rotation:    float64 [3, 3]  head frame -> camera frame
    translation: float64 [3]     head origin in the camera frame (cm)
    mesh:        float64 [478, 3] S_init, camera frame (cm)
    beta_init:   float32 [K]      expression in the photo
    reprojection_px: (mean, max) of the fitted model (mean + beta_init, rigid) against FaceMesh
    """

    intrinsics: Intrinsics
    rotation: np.ndarray
    translation: np.ndarray
    mesh: np.ndarray
    beta_init: np.ndarray
    reprojection_px: tuple[float, float]
    mesh_reprojection_px: tuple[float, float]

    def to_head(self, points: np.ndarray) -> np.ndarray:
        """Camera-frame points [N, 3] -> head frame."""
        return (points - self.translation) @ self.rotation

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """Head-frame points [N, 3] -> camera frame."""
        return points @ self.rotation.T + self.translation


def _run_face_mesh(rgb: np.ndarray, max_faces: int):
    mp = import_mediapipe()

    with _MP_LOCK, mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=max_faces, refine_landmarks=True,
        min_detection_confidence=0.5,
    ) as mesh:
        result = mesh.process(np.ascontiguousarray(rgb))
    faces = result.multi_face_landmarks or []
    h, w = rgb.shape[:2]
    return [np.array([[p.x * w, p.y * h, p.z * w] for p in f.landmark]) for f in faces]


def _detect_face_boxes(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Full-range face detector, for faces too small for FaceMesh's own detector. (x0, y0, x1, y1)."""
    mp = import_mediapipe()

    h, w = rgb.shape[:2]
    with _MP_LOCK, mp.solutions.face_detection.FaceDetection(
        model_selection=1, min_detection_confidence=0.5
    ) as det:
        result = det.process(np.ascontiguousarray(rgb))
    boxes = []
    for d in result.detections or []:
        b = d.location_data.relative_bounding_box
        boxes.append((int(b.xmin * w), int(b.ymin * h), int((b.xmin + b.width) * w), int((b.ymin + b.height) * h)))
    return boxes


def _face_height(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[topo.FOREHEAD, :2] - points[topo.CHIN, :2]))


def detect_landmarks(rgb: np.ndarray, config: LoadConfig = LoadConfig()) -> Landmarks:
    """Find the largest face and its 478 landmarks. Raises PortraitError when there is none."""
    faces = _run_face_mesh(rgb, max_faces=5)
    notes: list[str] = []
    if not faces:
        # Small faces in big photos: crop around a full-range detection and try again.
        for x0, y0, x1, y1 in sorted(_detect_face_boxes(rgb), key=lambda b: -(b[2] - b[0]) * (b[3] - b[1])):
            pad = int(1.0 * max(x1 - x0, y1 - y0))
            cx0, cy0 = max(0, x0 - pad), max(0, y0 - pad)
            crop = rgb[cy0: y1 + pad, cx0: x1 + pad]
            scale = 256.0 / max(crop.shape[:2])
            if scale > 1.0:
                import cv2
                crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
            else:
                scale = 1.0
            found = _run_face_mesh(crop, max_faces=1)
            if found:
                # Back to the photo: undo the crop's resize (pixel centres), then its offset.
                pts = found[0].copy()
                pts[:, :2] = resize_pixels(pts[:, :2], 1.0 / scale, 1.0 / scale) + np.array([cx0, cy0])
                pts[:, 2] /= scale
                faces = [pts]
                break
    if not faces:
        raise PortraitError(
            "No face found in the portrait. Use a photo where one face is clearly visible, "
            "roughly facing the camera, and not covered."
        )
    faces.sort(key=_face_height, reverse=True)
    if len(faces) > 1:
        notes.append(f"{len(faces)} faces found; using the largest")
    height = _face_height(faces[0])
    if height < config.min_face_px:
        raise PortraitError(
            f"The face is only {height:.0f} pixels tall; at least {config.min_face_px} are needed. "
            "Crop the photo around the face or use a larger photo."
        )
    return Landmarks(points=faces[0], num_faces=len(faces), notes=notes)


def segment_person(rgb: np.ndarray) -> np.ndarray:
    """Soft person matte. Returns float32 [H, W] in [0, 1]."""
    mp = import_mediapipe()

    with _MP_LOCK, mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as seg:
        mask = seg.process(np.ascontiguousarray(rgb)).segmentation_mask
    return np.clip(mask, 0.0, 1.0).astype(np.float32)


def similarity_fit(src: np.ndarray, dst: np.ndarray, weights: np.ndarray | None = None):
    """Least-squares s, R, t with dst ~ s * R @ src + t (Umeyama). src, dst [N, 3]."""
    w = np.ones(len(src)) if weights is None else weights
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    a, b = src - mu_s, dst - mu_d
    cov = (b * w[:, None]).T @ a
    u, sig, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.diag([1.0, 1.0, d])
    rot = u @ fix @ vt
    var = (w * (a**2).sum(axis=1)).sum()
    scale = float(np.trace(np.diag(sig) @ fix) / var)
    return scale, rot, mu_d - scale * rot @ mu_s


def rigid_vertices(model: FaceModel) -> np.ndarray:
    """Vertices that no expression moves (forehead, nose, temples). Bool [N]."""
    motion = np.linalg.norm(model.basis, axis=2).max(axis=0)
    return (motion < 0.05) & (model.jaw_weight < 0.05)


def fit_face(landmarks: Landmarks, width: int, height: int, model: FaceModel,
             fov_deg: float) -> FaceFit:
    """Pose, lifted mesh and expression of the subject (see module docstring)."""
    intr = Intrinsics.from_fov(width, height, fov_deg)
    pts = landmarks.points
    rigid = rigid_vertices(model)
    mean = model.mean.astype(np.float64)
    s, rot, t = similarity_fit(mean[rigid], pts[rigid])
    z0 = intr.focal_px / s
    origin = intr.unproject(t[None, :2], np.array([z0]))[0]
    depth = z0 + (pts[:, 2] - t[2]) / s
    mesh = intr.unproject(pts[:, :2], depth)

    # Expression: bounded, lightly regularised least squares in the head frame after removing
    # the residual similarity between the lifted mesh and the neutral face.
    head = (mesh - origin) @ rot
    s2, r2, t2 = similarity_fit(head[rigid], mean[rigid])
    head_aligned = s2 * head @ r2.T + t2
    active = ~rigid
    k = model.num_expressions
    axis_w = np.array([1.0, 1.0, 0.3])
    a = (model.basis[:, active, :] * axis_w).reshape(k, -1).T.astype(np.float64)
    b = ((head_aligned[active] - mean[active]) * axis_w).reshape(-1)
    ridge = 3.0
    a_aug = np.vstack([a, ridge * np.eye(k)])
    b_aug = np.concatenate([b, np.zeros(k)])
    beta = lsq_linear(a_aug, b_aug, bounds=(0.0, 1.0), method="bvls").x.astype(np.float32)

    model_head = (model.shape(beta).astype(np.float64) - t2) @ r2 / s2
    model_px = intr.project(model_head @ rot.T + origin)
    err = np.linalg.norm(model_px - pts[:, :2], axis=1)
    mesh_err = np.linalg.norm(intr.project(mesh) - pts[:, :2], axis=1)
    return FaceFit(intr, rot, origin, mesh, beta, (float(err.mean()), float(err.max())),
                   (float(mesh_err.mean()), float(mesh_err.max())))
