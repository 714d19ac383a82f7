"""Rasterising the layered relief with OpenGL (moderngl, headless).

Two layers, drawn into an off-screen framebuffer and read back:

* the background plane (``ReliefScene.background``, continued past the photo's frame) as one big
  textured quad at the background depth;
* the head layer (``head_layer.HeadLayer``), the fitted whole head behind the relief;
* the person mesh (``relief_mesh.ReliefMesh``): positions rewritten every frame (the deformed
  surface), each vertex also carrying its canonical point; a fragment takes its colour from the
  full-resolution appearance at the photo projection of its interpolated canonical point (each
  point keeps its canonical colour, as Eq. 7 reads the canonical field), depth-tested, back faces
  culled, blended over what is behind it with the person matte's alpha. The hidden-side fill mixes in the mirror point's colour with a
  per-vertex weight whose view term is computed in the vertex shader.

The eyelids and the gaze change what the eye's surface shows, not where it is: ``eye_texture``
redraws the photo's eye regions for each frame and they are written into the texture here.

A second colour attachment keeps the world z of the nearest person surface (the mouth compositor
hides the mouth behind nearer surfaces). On a machine without a GPU the context runs on Mesa's
llvmpipe (software); with a GPU the same code runs in hardware.

OpenGL work happens on one thread owned by the renderer (an EGL context is current on one thread
only), so ``render`` may be called from any thread.
"""
from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from core.geometry.pinhole import Intrinsics
from core.render.camera import ViewCamera
from core.render.config import FastPathConfig, HiddenSideConfig
from core.render.raster.head_layer import HeadLayer, HeadLayerConfig
from core.render.raster.relief_mesh import ReliefMesh

# The z attachment's value where no person surface was drawn. Zero, not a huge number: blending
# (which also runs on that attachment, with alpha 1) may compute src * a + dst - dst * a, exact
# only for moderate dst. Every drawn surface lies beyond the near plane (z > 0).
MISS_Z = 0.0
MIN_ALPHA = 1.0 / 255.0  # relief fragments with less matte alpha are discarded
CLEAR_RGB = (1.0, 0.0, 1.0)  # never shown: the background quad covers every pixel (tests check for it)


class RasterUnavailable(RuntimeError):
    """No OpenGL 3.3 context could be created (no EGL / driver); the ray marcher is used instead."""


@dataclass(frozen=True)
class FrameFadeConfig:
    """How far the view must turn from the photo's before the relief fades where the photo's
    frame cut it (``ReliefMesh.frame_edge``): degrees between the view's and the photo's axes."""

    start_deg: float = 4.0
    full_deg: float = 15.0

    def __call__(self, forward: np.ndarray) -> float:
        """forward: the view camera's axis in the world [3] (the photo's is +z)."""
        angle = np.degrees(np.arccos(np.clip(forward[2] / np.linalg.norm(forward), -1.0, 1.0)))
        return float(np.clip((angle - self.start_deg) / (self.full_deg - self.start_deg), 0.0, 1.0))


@dataclass(frozen=True)
class TexturePatch:
    """A rectangle of the appearance texture: its top-left pixel and RGBA uint8 [h, w, 4]."""

    x0: int
    y0: int
    rgba: np.ndarray


@dataclass(frozen=True)
class ClipConfig:
    near_cm: float = 1.0  # near clipping plane
    far_margin: float = 4.0  # far plane = this x the background plane's depth


def projection_matrix(k: Intrinsics, near: float, far: float) -> np.ndarray:
    """Camera frame (x right, y down, z forward, cm) -> OpenGL clip space, float64 [4, 4], such
    that pixel coordinate (u, v) of ``core.geometry.pinhole`` lands on window position
    (u + 0.5, v + 0.5): image row 0 is the framebuffer's first row (read back first)."""
    a = (far + near) / (far - near)
    b = -2.0 * far * near / (far - near)
    return np.array([
        [2 * k.focal_px / k.width, 0.0, 2 * (k.cx + 0.5) / k.width - 1.0, 0.0],
        [0.0, 2 * k.focal_px / k.height, 2 * (k.cy + 0.5) / k.height - 1.0, 0.0],
        [0.0, 0.0, a, b],
        [0.0, 0.0, 1.0, 0.0],
    ])


def view_projection(camera: ViewCamera, near: float, far: float) -> np.ndarray:
    """World -> clip, float64 [4, 4]."""
    view = np.eye(4)
    view[:3, :3] = camera.rotation.T
    view[:3, 3] = -camera.rotation.T @ camera.position
    return projection_matrix(camera.intrinsics, near, far) @ view


_PERSON_VS = """
#version 330
uniform mat4 view_proj;
uniform vec3 eye;
uniform vec3 head_x;
uniform vec2 view_turn;
uniform float frame_fade;
in vec3 position;
in vec3 canonical;
in vec2 mirror_coord;
in float mirror_weight;
in float to_photo_x;
in float frame_edge;
in float mouth_region;
out vec3 v_canonical;
out vec2 v_mirror;
out float v_weight;
out float v_z;
out float v_keep;
out float v_mouth;
void main() {
    gl_Position = view_proj * vec4(position, 1.0);
#if MIRROR
    float to_view = -dot(normalize(position - eye), head_x);
    float side = to_photo_x >= 0.0 ? 1.0 : -1.0;
    float toward = clamp((side * (to_photo_x - to_view) - view_turn.x) / view_turn.y, 0.0, 1.0);
    v_weight = mirror_weight * toward;
#else
    v_weight = 0.0;
#endif
    v_keep = 1.0 - frame_edge * frame_fade;
    v_mouth = mouth_region;
    v_canonical = canonical;
    v_mirror = mirror_coord;
    v_z = position.z;
}
"""

_PERSON_FS = """
#version 330
uniform sampler2D appearance;
uniform float min_weight;
uniform float min_alpha;
uniform vec4 photo;  // (f / W, (cx + 0.5) / W, f / H, (cy + 0.5) / H): camera point -> texture
in vec3 v_canonical;
in vec2 v_mirror;
in float v_weight;
in float v_z;
in float v_keep;
in float v_mouth;
layout(location = 0) out vec4 colour;
layout(location = 1) out vec4 surface_z;
void main() {
    // The canonical point's own photo pixel (exact at every view: the photo's view reproduces it).
    vec2 tex = vec2(photo.x * v_canonical.x / v_canonical.z + photo.y, photo.z * v_canonical.y / v_canonical.z + photo.w);
    vec4 app = texture(appearance, tex);
    app.a *= v_keep;
    if (app.a < min_alpha) {
        discard;  // off the matte: no colour and no depth (it must not hide what lies behind)
    }
    vec3 rgb = app.rgb;
#if MIRROR
    if (v_weight > min_weight) {
        rgb = mix(rgb, texture(appearance, v_mirror).rgb, v_weight);
    }
#endif
    colour = vec4(rgb, app.a);
    surface_z = vec4(v_z, v_mouth, 0.0, 1.0);
}
"""


def _with_mirror(source: str, mirror: bool) -> str:
    """A person shader with (``MIRROR`` 1) or without (0) the hidden-side fill's mirror lookup."""
    return source.replace("#version 330\n", f"#version 330\n#define MIRROR {int(mirror)}\n", 1)


_HEAD_VS = """
#version 330
uniform mat4 view_proj;
uniform vec3 eye;
uniform vec2 shade;
uniform float frame_fade;
in vec3 position;
in vec2 texcoord;
in float seen;
in vec3 fill;
in vec3 normal;
in float contradicted;
out vec2 v_tex;
out float v_seen;
out vec3 v_fill;
out float v_z;
out float v_hide;
void main() {
    v_hide = contradicted * (1.0 - frame_fade);
    gl_Position = view_proj * vec4(position, 1.0);
    v_tex = texcoord;
    v_seen = seen;
    float facing = max(dot(normal, normalize(eye - position)), 0.0);
    v_fill = fill * (shade.x + shade.y * facing);
    v_z = position.z;
}
"""

_HEAD_FS = """
#version 330
uniform sampler2D appearance;
in vec2 v_tex;
in float v_seen;
in vec3 v_fill;
in float v_z;
in float v_hide;
layout(location = 0) out vec4 colour;
layout(location = 1) out vec4 surface_z;
void main() {
    if (v_hide > 0.5) {
        discard;  // the photo shows background here, and the view is near the photo's
    }
    vec3 rgb = v_fill;
    if (v_seen > 0.004) {
        rgb = mix(rgb, texture(appearance, v_tex).rgb, v_seen);
    }
    colour = vec4(rgb, 1.0);
    surface_z = vec4(v_z, 0.0, 0.0, 1.0);
}
"""

_BACKGROUND_VS = """
#version 330
uniform mat4 view_proj;
in vec3 position;
in vec2 texcoord;
out vec2 v_tex;
void main() {
    gl_Position = view_proj * vec4(position, 1.0);
    v_tex = texcoord;
}
"""

_BACKGROUND_FS = """
#version 330
uniform sampler2D background;
uniform float miss_z;
in vec2 v_tex;
layout(location = 0) out vec4 colour;
layout(location = 1) out vec4 surface_z;
void main() {
    colour = vec4(texture(background, v_tex).rgb, 1.0);
    surface_z = vec4(miss_z, 0.0, 0.0, 1.0);
}
"""


_MOUTH_VS = """
#version 330
uniform mat4 view_proj;
in vec3 position;
in vec3 colour_in;
out vec3 v_colour;
void main() {
    gl_Position = view_proj * vec4(position, 1.0);
    v_colour = colour_in;
}
"""

_MOUTH_FS = """
#version 330
in vec3 v_colour;
out vec4 colour;
void main() {
    colour = vec4(v_colour, 1.0);
}
"""


@dataclass
class RasterImage:
    """rgb uint8 [H, W, 3]; hit_depth float32 [H, W] (cm, world z of the person surface, +inf
    where the pixel shows only the background); mouth_surface float32 [H, W]: how much the
    surface in view is the photo's lips and mouth opening (``ReliefMesh.mouth_region``)."""

    rgb: np.ndarray
    hit_depth: np.ndarray
    mouth_surface: np.ndarray


@dataclass(frozen=True)
class BackgroundPlane:
    """The background layer: image uint8 [H, W, 3] seen through ``camera`` (the photo camera,
    principal point shifted for the continuation past the frame) on the plane z = ``depth_cm``."""

    image: np.ndarray
    camera: Intrinsics
    depth_cm: float

    def quad(self, reach: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
        """Corners [4, 3] (world) and texture coordinates [4, 2] of a quad ``reach`` times the
        image's size on every side (texture lookups beyond the image clamp to its edge)."""
        k = self.camera
        w, h = k.width, k.height
        us = np.array([-0.5 - reach * w, w - 0.5 + reach * w])
        vs = np.array([-0.5 - reach * h, h - 0.5 + reach * h])
        uv = np.array([[us[0], vs[0]], [us[1], vs[0]], [us[0], vs[1]], [us[1], vs[1]]])
        corners = k.unproject(uv, np.full(4, self.depth_cm))
        tex = (uv + 0.5) / np.array([w, h])
        return corners.astype(np.float32), tex.astype(np.float32)


SOFTWARE_RENDERERS = ("llvmpipe", "softpipe", "swrast", "software")  # GL_RENDERER names of CPU rasterisers


def create_context():
    """A headless OpenGL >= 3.3 context: EGL on Linux (no display needed), the platform's
    default elsewhere. Raises RasterUnavailable with the reason."""
    try:
        import moderngl
    except ImportError as err:  # pragma: no cover - moderngl is a pinned dependency
        raise RasterUnavailable(f"moderngl is not installed ({err})") from err
    backends = [{"backend": "egl"}, {}] if sys.platform.startswith("linux") else [{}]
    errors = []
    for kwargs in backends:
        try:
            ctx = moderngl.create_standalone_context(require=330, **kwargs)
            return ctx
        except Exception as err:  # noqa: BLE001 - every backend failure is reported together
            errors.append(f"{kwargs.get('backend', 'default')}: {err}")
    raise RasterUnavailable("no headless OpenGL 3.3 context (" + "; ".join(errors) + ")")


class RasterRenderer:
    """Owns the OpenGL context, the subject's textures and buffers, and one framebuffer per size."""

    def __init__(self, mesh: ReliefMesh, appearance: np.ndarray, background: BackgroundPlane,
                 head_x: np.ndarray, hidden: HiddenSideConfig = HiddenSideConfig(), clip: ClipConfig = ClipConfig(),
                 head: "HeadLayer | None" = None, frame_fade: FrameFadeConfig = FrameFadeConfig(),
                 head_shade: tuple[float, float] = HeadLayerConfig().fill_shade, *, photo: Intrinsics,
                 speed: FastPathConfig = FastPathConfig()):
        """appearance: float32 or uint8 [H, W, 4] (RGB + matte alpha; floats in 0..1);
        head_x: the head frame's x axis in the world [3] (the hidden-side view term);
        head: the fitted whole head, drawn behind the relief (None: the relief alone);
        photo: the camera of ``appearance`` (the photo's); speed: the fast paths (``FastPathConfig.plain()``: none)."""
        self.mesh = mesh
        self.head = head
        self.photo = photo  # the appearance's camera: texture lookups from camera-frame points
        self.frame_fade = frame_fade
        self.hidden = hidden
        self.near = clip.near_cm
        self.far = clip.far_margin * max(background.depth_cm, 10.0)
        self.speed = speed
        self._head_x = np.asarray(head_x, np.float64)
        # The vertices whose hidden-side fill can show (weight above the cut before the view term).
        self._mirror_vertices = np.nonzero(mesh.mirror_weight > hidden.min_weight)[0]
        self._positions_now = np.asarray(mesh.positions, np.float32)
        self.mirror_drawn = True  # whether the last frame was drawn with the mirror lookup
        # Per framebuffer size: the last view's matrix and, once seen twice, its drawn background.
        self._backgrounds: dict[tuple[int, int], tuple[bytes, object]] = {}
        self.background_copied = False  # whether the last frame's background was copied
        self._gl = ThreadPoolExecutor(max_workers=1, thread_name_prefix="gl")
        try:
            self._gl.submit(self._setup, _as_rgba8(appearance), background, np.asarray(head_x, np.float32),
                            head_shade).result()
        except Exception:
            self._gl.shutdown(wait=True)
            raise
        self._framebuffers: dict[tuple[int, int], object] = {}
        self._mouth_framebuffers: dict[tuple[int, int], object] = {}
        self._mouth_framebuffer = None  # (fbo, (width, height)) with ``speed.reuse_mouth_framebuffer``
        self._mouth_vao = None
        self._mouth_triangles: np.ndarray | None = None

    @property
    def software(self) -> bool:
        """Whether OpenGL draws on the CPU (Mesa's llvmpipe or softpipe), not on a GPU."""
        name = self.gl_renderer.lower()
        return any(word in name for word in SOFTWARE_RENDERERS)

    # ------------------------------------------------------------------ set-up (GL thread)
    def _setup(self, appearance: np.ndarray, background: BackgroundPlane, head_x: np.ndarray,
               head_shade: tuple[float, float]) -> None:
        import moderngl

        ctx = self.ctx = create_context()
        self.gl_renderer = str(ctx.info.get("GL_RENDERER", ""))
        h, w = appearance.shape[:2]
        self.appearance = ctx.texture((w, h), 4, np.ascontiguousarray(appearance).tobytes())
        self.appearance.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.appearance.repeat_x = self.appearance.repeat_y = False
        bg = np.ascontiguousarray(background.image, np.uint8)
        self.background = ctx.texture((bg.shape[1], bg.shape[0]), 3, bg.tobytes(), alignment=1)
        self.background.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.background.repeat_x = self.background.repeat_y = False

        m = self.mesh
        self.positions = ctx.buffer(np.ascontiguousarray(m.positions, np.float32).tobytes(), dynamic=True)
        k = self.photo
        # Two programs: with the hidden-side fill's mirror lookup, and without it (``FastPathConfig``).
        self.person_programs = {}
        for mirror in (True, False):
            program = ctx.program(vertex_shader=_with_mirror(_PERSON_VS, mirror),
                                  fragment_shader=_with_mirror(_PERSON_FS, mirror))
            uniforms = {"head_x": tuple(float(x) for x in head_x),
                        "view_turn": (self.hidden.view_turn.start, self.hidden.view_turn.span),
                        "min_weight": self.hidden.min_weight, "min_alpha": MIN_ALPHA, "appearance": 0,
                        "photo": (k.focal_px / k.width, (k.cx + 0.5) / k.width, k.focal_px / k.height,
                                  (k.cy + 0.5) / k.height)}
            for name, value in uniforms.items():
                if name in program:  # the variant without the lookup has fewer
                    program[name].value = value
            self.person_programs[mirror] = program
        self.person_program = self.person_programs[True]
        static = np.concatenate([m.positions, m.mirror_coords, m.mirror_weight[:, None], m.to_photo_x[:, None],
                                 m.frame_edge[:, None], m.mouth_region[:, None]], axis=1).astype(np.float32)
        self.static = ctx.buffer(np.ascontiguousarray(static).tobytes())
        self.indices = ctx.buffer(np.ascontiguousarray(m.triangles, np.int32).tobytes())
        self.person_vaos = {mirror: ctx.vertex_array(program, [
            (self.positions, "3f", "position"),
            (self.static, "3f 2f 1f 1f 1f 1f", "canonical", "mirror_coord", "mirror_weight", "to_photo_x",
             "frame_edge", "mouth_region"),
        ], index_buffer=self.indices, index_element_size=4, skip_errors=not mirror)
            for mirror, program in self.person_programs.items()}
        self.person = self.person_vaos[True]

        self.head_vao = None
        if self.head is not None:
            hd = self.head
            self.head_program = ctx.program(vertex_shader=_HEAD_VS, fragment_shader=_HEAD_FS)
            self.head_program["appearance"].value = 0
            self.head_positions = ctx.buffer(np.ascontiguousarray(hd.positions, np.float32).tobytes(), dynamic=True)
            self.head_program["shade"].value = tuple(float(x) for x in head_shade)
            head_static = np.concatenate([hd.texcoords, hd.seen[:, None], hd.colours, hd.normals,
                                          hd.contradicted[:, None]], axis=1).astype(np.float32)
            self.head_vao = ctx.vertex_array(self.head_program, [
                (self.head_positions, "3f", "position"),
                (ctx.buffer(np.ascontiguousarray(head_static).tobytes()), "2f 1f 3f 3f 1f", "texcoord", "seen", "fill", "normal",
                 "contradicted"),
            ], index_buffer=ctx.buffer(np.ascontiguousarray(hd.triangles, np.int32).tobytes()), index_element_size=4)

        self.background_program = ctx.program(vertex_shader=_BACKGROUND_VS, fragment_shader=_BACKGROUND_FS)
        self.background_program["background"].value = 1
        self.background_program["miss_z"].value = MISS_Z
        corners, tex = background.quad()
        quad = np.concatenate([corners, tex], axis=1)[[0, 1, 2, 1, 3, 2]].astype(np.float32)
        self.quad = ctx.vertex_array(self.background_program, [(ctx.buffer(quad.tobytes()), "3f 2f", "position", "texcoord")])

    def _framebuffer(self, width: int, height: int):
        fbo = self._framebuffers.get((width, height))
        if fbo is None:
            ctx = self.ctx
            fbo = ctx.framebuffer(
                color_attachments=[ctx.renderbuffer((width, height), 4),
                                   ctx.renderbuffer((width, height), 2, dtype="f4")],
                depth_attachment=ctx.depth_renderbuffer((width, height)))
            self._framebuffers[(width, height)] = fbo
        return fbo

    # ------------------------------------------------------------------ per frame
    def render(self, camera: ViewCamera, positions: np.ndarray | None = None,
               head_positions: np.ndarray | None = None, patches: list[TexturePatch] | None = None) -> RasterImage:
        """Draw the scene from ``camera``; ``positions`` float32 [V, 3] are the deformed relief
        mesh's vertices and ``head_positions`` [Vh, 3] the head layer's (world, cm); None keeps
        the last ones. ``patches``: rectangles of the appearance texture to replace first (the
        eyes, ``eye_texture``); they stay until replaced."""
        return self._gl.submit(self._render, camera, positions, head_positions, patches).result()

    def _render(self, camera: ViewCamera, positions: np.ndarray | None,
                head_positions: np.ndarray | None = None, patches: list[TexturePatch] | None = None) -> RasterImage:
        import moderngl

        ctx = self.ctx
        for patch in patches or ():
            h, w = patch.rgba.shape[:2]
            self.appearance.write(np.ascontiguousarray(patch.rgba).tobytes(), viewport=(patch.x0, patch.y0, w, h))
        k = camera.intrinsics
        fbo = self._framebuffer(k.width, k.height)
        matrix = view_projection(camera, self.near, self.far).T.astype(np.float32).tobytes()
        self._draw_background(fbo, (k.width, k.height), matrix)
        fbo.use()
        ctx.enable(moderngl.DEPTH_TEST)
        self.appearance.use(0)
        if self.head_vao is not None:
            if head_positions is not None:
                self.head_positions.write(np.ascontiguousarray(head_positions, np.float32).tobytes())
            self.head_program["view_proj"].write(matrix)
            self.head_program["eye"].value = tuple(float(x) for x in camera.position)
            self.head_program["frame_fade"].value = float(self.frame_fade(camera.rotation[:, 2]))
            ctx.enable(moderngl.CULL_FACE)
            self.head_vao.render(moderngl.TRIANGLES)
            ctx.disable(moderngl.CULL_FACE)
        if positions is not None:
            self._positions_now = np.ascontiguousarray(positions, np.float32)
            self.positions.write(self._positions_now.tobytes())
        self.appearance.use(0)
        mirror = self.mirror_drawn = not self.speed.skip_unseen_mirror or self.mirror_shows(camera)
        program, person = self.person_programs[mirror], self.person_vaos[mirror]
        program["view_proj"].write(matrix)
        if "eye" in program:
            program["eye"].value = tuple(float(x) for x in camera.position)
        program["frame_fade"].value = float(self.frame_fade(camera.rotation[:, 2]))
        ctx.enable(moderngl.BLEND)
        ctx.blend_func = moderngl.SRC_ALPHA, moderngl.ONE_MINUS_SRC_ALPHA
        # A height field is solid behind its surface: a ray never sees the surface from behind
        # (where it recedes faster than the ray, the ray meets the solid first). The mesh's
        # triangles all wind counter-clockwise in the photo's view, so culling back faces
        # keeps exactly the part a ray can see first.
        ctx.enable(moderngl.CULL_FACE)
        person.render(moderngl.TRIANGLES)
        ctx.disable(moderngl.CULL_FACE)
        rgb = np.frombuffer(fbo.read(components=3, attachment=0, alignment=1), np.uint8).reshape(k.height, k.width, 3)
        surface = np.frombuffer(fbo.read(components=2, attachment=1, dtype="f4", alignment=1), np.float32)
        surface = surface.reshape(k.height, k.width, 2)
        z = surface[..., 0]
        hit = np.where(z > MISS_Z, z, np.float32(np.inf))
        return RasterImage(rgb.copy(), hit, np.ascontiguousarray(surface[..., 1]))

    def _draw_background(self, fbo, size: tuple[int, int], matrix: bytes) -> None:
        """The cleared framebuffer with the background quad drawn (colour, surface z and depth).
        With ``speed.cache_background``, a view seen twice in a row is drawn once more into a
        framebuffer of its own and copied from there while the view stays (a copy of the three
        attachments costs a seventh of the quad's drawing)."""
        import moderngl

        ctx = self.ctx
        cached = self._backgrounds.get(size)
        if self.speed.cache_background and cached is not None and cached[0] == matrix:
            if cached[1] is None:  # seen twice: draw it into its own framebuffer
                bg = ctx.framebuffer(color_attachments=[ctx.renderbuffer(size, 4), ctx.renderbuffer(size, 2, dtype="f4")],
                                     depth_attachment=ctx.depth_renderbuffer(size))
                self._draw_background_into(bg, matrix)
                self._backgrounds[size] = cached = (matrix, bg)
            ctx.copy_framebuffer(fbo, cached[1])
            self.background_copied = True
            return
        if cached is not None and cached[1] is not None:
            for attachment in (*cached[1].color_attachments, cached[1].depth_attachment):
                attachment.release()
            cached[1].release()
        self._backgrounds[size] = (matrix, None)
        self._draw_background_into(fbo, matrix)
        self.background_copied = False

    def _draw_background_into(self, fbo, matrix: bytes) -> None:
        import moderngl

        ctx = self.ctx
        fbo.use()
        fbo.clear(*CLEAR_RGB, 1.0, depth=1.0)
        ctx.enable(moderngl.DEPTH_TEST)
        self.background.use(1)
        self.background_program["view_proj"].write(matrix)
        ctx.disable(moderngl.BLEND)
        self.quad.render(moderngl.TRIANGLES)

    def mirror_shows(self, camera: ViewCamera) -> bool:
        """Whether any relief vertex's hidden-side fill weight (``_PERSON_VS``: the static weight
        times the view term) reaches ``min_weight`` less ``speed.mirror_margin`` from ``camera``
        with the current positions. Interpolation never exceeds the largest vertex value, so
        where it is False no fragment takes the mirror lookup."""
        idx = self._mirror_vertices
        if len(idx) == 0:
            return False
        to_eye = self._positions_now[idx].astype(np.float64) - np.asarray(camera.position, np.float64)
        to_view = -(to_eye @ self._head_x) / np.maximum(np.linalg.norm(to_eye, axis=1), 1e-12)
        x = self.mesh.to_photo_x[idx].astype(np.float64)
        side = np.where(x >= 0.0, 1.0, -1.0)
        toward = np.clip((side * (x - to_view) - self.hidden.view_turn.start) / self.hidden.view_turn.span, 0.0, 1.0)
        weight = self.mesh.mirror_weight[idx] * toward
        return bool(weight.max() > self.hidden.min_weight - self.speed.mirror_margin)

    # ------------------------------------------------------------------ the mouth interior
    def render_mouth(self, camera: ViewCamera, lit) -> np.ndarray:
        """The lit mouth interior (``core.render.mouth_scene.LitMouth``: world positions, per-vertex
        colours 0..255, triangles, cavity colour) z-buffered over the cavity colour, seen from
        ``camera`` (usually a supersampled box camera). uint8 [H, W, 3]."""
        return self._gl.submit(self._render_mouth, camera, lit).result()

    def _render_mouth(self, camera: ViewCamera, lit) -> np.ndarray:
        import moderngl

        ctx = self.ctx
        if self._mouth_vao is None or self._mouth_triangles is not lit.triangles:
            if self._mouth_vao is None:
                self._mouth_program = ctx.program(vertex_shader=_MOUTH_VS, fragment_shader=_MOUTH_FS)
            self._mouth_buffer = ctx.buffer(reserve=len(lit.positions) * 24, dynamic=True)
            self._mouth_vao = ctx.vertex_array(self._mouth_program, [
                (self._mouth_buffer, "3f 3f", "position", "colour_in")],
                index_buffer=ctx.buffer(np.ascontiguousarray(lit.triangles, np.int32).tobytes()), index_element_size=4)
            self._mouth_triangles = lit.triangles
        k = camera.intrinsics
        viewport = (0, 0, k.width, k.height)
        if self.speed.reuse_mouth_framebuffer:
            fbo = self._mouth_framebuffer_at_least(k.width, k.height)
        else:
            fbo = self._mouth_framebuffers.get((k.width, k.height))
            if fbo is None:
                fbo = ctx.framebuffer(color_attachments=[ctx.renderbuffer((k.width, k.height), 4)],
                                      depth_attachment=ctx.depth_renderbuffer((k.width, k.height)))
                self._mouth_framebuffers[(k.width, k.height)] = fbo
        fbo.use()
        fbo.viewport = viewport
        cavity = np.asarray(lit.cavity, np.float32) / 255.0
        fbo.clear(float(cavity[0]), float(cavity[1]), float(cavity[2]), 1.0, depth=1.0, viewport=viewport)
        ctx.enable(moderngl.DEPTH_TEST)
        ctx.disable(moderngl.BLEND)
        # Back faces are culled; the mouth's outward faces run clockwise in window coordinates
        # (this projection keeps image rows in order), as ``mouth_scene.rasterise`` assumes.
        ctx.enable(moderngl.CULL_FACE)
        ctx.front_face = "cw"
        data = np.concatenate([lit.positions, np.asarray(lit.colours, np.float32) / 255.0], axis=1)
        self._mouth_buffer.write(np.ascontiguousarray(data, np.float32).tobytes())
        self._mouth_program["view_proj"].write(view_projection(camera, self.near, self.far).T.astype(np.float32).tobytes())
        self._mouth_vao.render(moderngl.TRIANGLES)
        ctx.front_face = "ccw"
        ctx.disable(moderngl.CULL_FACE)
        image = np.frombuffer(fbo.read(viewport=viewport, components=3, alignment=1), np.uint8)
        return image.reshape(k.height, k.width, 3)

    def _mouth_framebuffer_at_least(self, width: int, height: int):
        """The mouth's framebuffer, replaced by a larger one (sizes rounded up to 64 pixels) when
        (width, height) does not fit."""
        current = self._mouth_framebuffer
        if current is not None and current[1][0] >= width and current[1][1] >= height:
            return current[0]
        if current is not None:
            for attachment in (*current[0].color_attachments, current[0].depth_attachment):
                attachment.release()
            current[0].release()
        old = current[1] if current is not None else (0, 0)
        size = tuple(int(-(-max(n, o) // 64) * 64) for n, o in zip((width, height), old))
        ctx = self.ctx
        fbo = ctx.framebuffer(color_attachments=[ctx.renderbuffer(size, 4)], depth_attachment=ctx.depth_renderbuffer(size))
        self._mouth_framebuffer = (fbo, size)
        return fbo

    def close(self) -> None:
        """Release the GL objects and stop the GL thread."""
        def release():
            ctx = getattr(self, "ctx", None)
            if ctx is not None:
                ctx.release()
                self.ctx = None
        try:
            self._gl.submit(release).result()
        finally:
            self._gl.shutdown(wait=True)


def _as_rgba8(image: np.ndarray) -> np.ndarray:
    """float [H, W, 4] in 0..1 (or uint8) -> uint8 [H, W, 4]."""
    if image.dtype == np.uint8:
        return image
    return np.clip(np.asarray(image, np.float32) * 255.0 + 0.5, 0, 255).astype(np.uint8)
