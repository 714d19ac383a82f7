"""Contact sheet of the fitted head for the bundled sample and the development faces.

    python tools/head_sheet.py [--out out/head_sheets] [--size 256]

For each portrait: prepare the subject, fit the head template, render it (Lambert shading,
moderngl offscreen through EGL) at yaw -45..45 by 15 degrees and pitch -25, 0, 25, plus the
photo with the fitted head's silhouette (photo camera) drawn over it and the photo with the shaded
head drawn over it at half opacity, and a last row with the
head driven by the face model's jawOpen = 0.7 through ``core.head.drive`` (the audio path). One
PNG per portrait. Pitch > 0 looks from above.
Regions are tinted (face warm, scalp grey, ears green, neck blue, back of head violet, inside
of mouth, nose and eye sockets red).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.head import surface
from core.head.fit import FittedHead, fit_head
from core.head.silhouette import Silhouette
from core.head.template import REGION_NAMES, load_head_template

YAWS = tuple(range(-45, 46, 15))
PITCHES = (-25, 0, 25)
REGION_TINT = {"face": (0.92, 0.78, 0.68), "scalp": (0.75, 0.75, 0.75), "ears": (0.65, 0.85, 0.6),
               "neck": (0.6, 0.7, 0.9), "back": (0.78, 0.65, 0.88),
               "inside": (0.9, 0.55, 0.55)}
PART_TINT = {"eye_left": (0.95, 0.95, 0.95), "eye_right": (0.95, 0.95, 0.95),
             "teeth_upper": (1.0, 1.0, 0.9), "teeth_lower": (1.0, 1.0, 0.9), "tongue": (0.85, 0.4, 0.4)}
CAMERA_DISTANCE_CM = 70.0
FOV_DEG = 24.0

VERTEX_SHADER = """
#version 330
uniform mat3 rot; uniform vec3 shift; uniform vec4 proj; uniform float near; uniform float far;
in vec3 pos; in vec3 nrm; in vec3 col;
out vec3 v_nrm; out vec3 v_col;
void main() {
    vec3 p = rot * pos + shift;          // OpenCV camera frame: x right, y down, z forward
    v_nrm = rot * nrm; v_col = col;
    float a = (far + near) / (far - near), b = -2.0 * far * near / (far - near);
    // pixel u = f x / z + cx (centres at integers) -> NDC (u + 0.5) / W * 2 - 1, y flipped
    gl_Position = vec4(proj.x * p.x + proj.z * p.z, -(proj.y * p.y + proj.w * p.z), a * p.z + b, p.z);
}
"""
FRAGMENT_SHADER = """
#version 330
in vec3 v_nrm; in vec3 v_col; out vec4 color;
void main() {
    vec3 light = normalize(vec3(-0.4, -0.5, -1.0));   // from the upper left, toward the head
    float lambert = abs(dot(normalize(v_nrm), light));
    color = vec4(v_col * (0.25 + 0.75 * lambert), 1.0);
}
"""


def rotation(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Head frame -> camera for a camera orbiting the head: yaw about y, then pitch about x."""
    y, p = np.radians(yaw_deg), np.radians(pitch_deg)
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    return rx @ ry


def scene_arrays(head: FittedHead, skin: np.ndarray | None = None,
                 parts: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Interleaved (pos, normal, colour) rows [N, 9] float32 of every triangle corner; ``skin``
    [V, 3] and ``parts`` (name -> [n, 3]) replace the fitted positions."""
    chunks = []
    tint = np.array([REGION_TINT[n] for n in REGION_NAMES])[head.regions]
    meshes = [(head.vertices if skin is None else skin, head.triangles, tint)]
    moved = parts or {}
    meshes += [(moved.get(n, v), t, np.tile(PART_TINT[n], (len(v), 1)))
               for n, (v, t) in head.parts.items()]
    for v, t, c in meshes:
        n = surface.vertex_normals(v, t)
        idx = np.asarray(t).ravel()
        chunks.append(np.hstack([v[idx], n[idx], c[idx]]))
    return np.vstack(chunks).astype(np.float32)


class HeadRenderer:
    """Offscreen Lambert renderer of a fitted head (moderngl, EGL)."""

    def __init__(self, size: int):
        import moderngl

        self.size = size
        self.ctx = moderngl.create_standalone_context(backend="egl")
        self.prog = self.ctx.program(vertex_shader=VERTEX_SHADER, fragment_shader=FRAGMENT_SHADER)
        self.fbos: dict[tuple[int, int], object] = {}

    def draw(self, rows: np.ndarray, rot: np.ndarray, shift: np.ndarray, focal: float, cx: float,
             cy: float, width: int, height: int) -> np.ndarray:
        """RGB uint8 [height, width, 3]: head-frame rows seen by the pinhole camera
        (p_cam = rot @ p + shift; pixels as in core.geometry.pinhole)."""
        import moderngl

        if (width, height) not in self.fbos:
            self.fbos[width, height] = self.ctx.simple_framebuffer((width, height), components=3)
        fbo = self.fbos[width, height]
        vbo = self.ctx.buffer(rows.tobytes())
        vao = self.ctx.vertex_array(self.prog, [(vbo, "3f 3f 3f", "pos", "nrm", "col")])
        self.prog["rot"].write(np.asarray(rot).T.astype("f4").tobytes())  # GLSL is column-major
        self.prog["shift"].value = tuple(float(x) for x in shift)
        self.prog["proj"].value = (2 * focal / width, 2 * focal / height,
                                   2 * (cx + 0.5) / width - 1, 2 * (cy + 0.5) / height - 1)
        self.prog["near"].value, self.prog["far"].value = 5.0, 500.0
        fbo.use()
        self.ctx.enable(moderngl.DEPTH_TEST)
        fbo.clear(0.12, 0.12, 0.14, 1.0)
        vao.render()
        img = np.frombuffer(fbo.read(components=3), np.uint8).reshape(height, width, 3)
        vao.release()
        vbo.release()
        return img[::-1].copy()

    def render(self, rows: np.ndarray, center: np.ndarray, yaw: float, pitch: float) -> np.ndarray:
        """RGB uint8 [size, size, 3] of the head seen from (yaw, pitch) degrees."""
        r = rotation(yaw, pitch)
        focal = 0.5 * self.size / np.tan(np.radians(FOV_DEG) / 2)
        c = (self.size - 1) / 2
        return self.draw(rows, r, np.array([0, 0, CAMERA_DISTANCE_CM]) - r @ center, focal, c, c,
                         self.size, self.size)


def photo_shaded(subject, head: FittedHead, renderer: HeadRenderer) -> np.ndarray:
    """The photo with the shaded head drawn in the photo camera at half opacity."""
    k = subject.intrinsics
    img = renderer.draw(scene_arrays(head), subject.rotation, subject.translation, k.focal_px,
                        k.cx, k.cy, k.width, k.height)
    photo = subject.relief.appearance
    drawn = np.any(img != renderer_background(), axis=2)
    out = photo.copy()
    out[drawn] = (0.5 * photo[drawn] + 0.5 * img[drawn]).astype(np.uint8)
    return out


def renderer_background() -> np.ndarray:
    return np.round(np.array([0.12, 0.12, 0.14]) * 255).astype(np.uint8)


def photo_overlay(subject, head: FittedHead) -> np.ndarray:
    """The photo (RGB uint8) with the head's silhouette in the photo camera: filled tint and
    outline, FaceMesh points in red."""
    photo = subject.relief.appearance.copy()  # uint8 [H, W, 3]
    cam = head.vertices.astype(np.float64) @ subject.rotation.T + subject.translation
    uv = subject.intrinsics.project(cam)
    mask = np.zeros(photo.shape[:2], np.uint8)
    for tri in head.triangles:
        cv2.fillConvexPoly(mask, np.round(uv[tri] * 4).astype(np.int32), 255, lineType=cv2.LINE_8, shift=2)
    out = photo.copy()
    tint = np.array([90, 200, 255], np.float64)
    sel = mask > 0
    out[sel] = (0.7 * out[sel] + 0.3 * tint).astype(np.uint8)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(out, contours, -1, (40, 255, 40), 1)
    for u, v in subject.intrinsics.project(subject.mesh.astype(np.float64)):
        cv2.circle(out, (round(u), round(v)), 1, (255, 40, 40), -1)
    return out


def talking_rows(subject, head: FittedHead) -> np.ndarray:
    """Scene rows of the head with jawOpen = 0.7 added to the photo's expression."""
    from core.face.face_model import load_face_model
    from core.head.drive import expression_binding

    model = load_face_model()
    bind = expression_binding(head, subject.head_mesh, model.triangles)
    beta = np.zeros(model.num_expressions, np.float32)
    beta[model.names.index("jawOpen")] = 0.7
    dv = model.displacement(beta)
    return scene_arrays(head, head.vertices + bind.skin_displacement(dv),
                        {n: bind.move_part(n, v, dv) for n, (v, _) in head.parts.items()})


def sheet(subject, head: FittedHead, renderer: HeadRenderer, title: str) -> np.ndarray:
    rows = scene_arrays(head)
    center = np.array([0.0, 0.0, 0.5 * (head.vertices[:, 2].min() + head.vertices[:, 2].max())])
    center[1] = 0.5 * (head.vertices[:, 1].min() + head.vertices[:, 1].max())
    s = renderer.size
    tiles = [np.hstack([renderer.render(rows, center, yaw, pitch) for yaw in YAWS]) for pitch in PITCHES]
    talking = talking_rows(subject, head)
    tiles.append(np.hstack([renderer.render(talking, center, yaw, 0) for yaw in YAWS]))
    grid = np.vstack(tiles)
    h = grid.shape[0]
    panels = []
    for over in (photo_overlay(subject, head), photo_shaded(subject, head, renderer)):
        panels.append(cv2.resize(over, (int(over.shape[1] * h / 2 / over.shape[0]), h // 2),
                                 interpolation=cv2.INTER_AREA))
    side = np.vstack(panels)
    side = np.vstack([side, np.zeros((h - side.shape[0],) + side.shape[1:], np.uint8)])
    img = np.hstack([grid, side])
    bar = np.full((28, img.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, title, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    del s
    return np.vstack([bar, img])


def portraits() -> list[Path]:
    from core.paths import SAMPLE_PORTRAIT

    out = [SAMPLE_PORTRAIT]
    faces = ROOT.parent / "shared" / "data" / "faces"
    if faces.is_dir():
        out += sorted(p for p in faces.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".ppm"))
    return out


def main(argv: list[str] | None = None) -> None:
    from core.errors import PortraitError
    from core.preprocess.pipeline import prepare

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "out" / "head_sheets"))
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--no-silhouette", action="store_true", help="do not fit the cranium to the matte")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    template = load_head_template()
    renderer = HeadRenderer(args.size)
    for path in portraits():
        try:
            subject = prepare(path, cache_root=out / "cache").subject
        except PortraitError as exc:  # a development face the pipeline refuses: note it, go on
            print(f"{path.name}: skipped ({exc})")
            continue
        t0 = time.perf_counter()
        sil = None if args.no_silhouette else Silhouette.from_subject(subject)
        head = fit_head(template, subject.head_mesh, silhouette=sil)
        dt = time.perf_counter() - t0
        mean, worst = head.residual_cm
        title = (f"{path.name}: fit {dt * 1000:.0f} ms, landmark residual {mean:.3f} cm mean / "
                 f"{worst:.3f} max; yaw {YAWS[0]}..{YAWS[-1]}, pitch {PITCHES} (+ from above); "
                 "last row jawOpen 0.7; " + "; ".join(head.notes))
        img = sheet(subject, head, renderer, title)
        dest = out / f"{path.stem}_head{'_nosil' if args.no_silhouette else ''}.png"
        cv2.imwrite(str(dest), img[:, :, ::-1])
        print(f"{dest}: {title}")


if __name__ == "__main__":
    main()
