"""Mesh overlays on camera images: OpenGL through moderngl, headless (EGL), CPU or GPU.

On a machine without a GPU, Mesa's llvmpipe rasterises on the CPU (``libegl-mesa0`` and
``libgl1-mesa-dri`` on Debian/Ubuntu); with an NVIDIA driver, EGL renders on the GPU. The
camera model is the pinhole of :class:`hmr_models.types.CameraIntrinsics` in the optical frame
(x right, y down, z forward, metres), pixel centres at integer coordinates (OpenCV's
convention), so a vertex X lands exactly where ``K @ X`` says.
"""
import logging

import numpy as np

from .colors import track_colors

log = logging.getLogger(__name__)

_MESH_VS = """
#version 330
uniform vec4 intrinsics;   // fx, fy, cx, cy (pixels)
uniform vec2 image_size;   // width, height (pixels)
uniform vec2 depth_range;  // near, far (metres)
in vec3 in_position;       // camera optical frame, metres
in vec3 in_normal;
in vec3 in_color;
out vec3 v_position;
out vec3 v_normal;
out vec3 v_color;
void main() {
    float z = in_position.z;
    // Pixel coordinates u, v with pixel centres at integers; GL puts centres at i + 0.5.
    // Rows are laid out top-down in NDC (+y = image down), so the read-back needs no flip.
    float u = intrinsics.x * in_position.x + intrinsics.z * z;
    float v = intrinsics.y * in_position.y + intrinsics.w * z;
    float n = depth_range.x, f = depth_range.y;
    gl_Position = vec4(2.0 * (u + 0.5 * z) / image_size.x - z,
                       2.0 * (v + 0.5 * z) / image_size.y - z,
                       (f + n) / (f - n) * z - 2.0 * f * n / (f - n),
                       z);
    v_position = in_position;
    v_normal = in_normal;
    v_color = in_color;
}
"""

_MESH_FS = """
#version 330
in vec3 v_position;
in vec3 v_normal;
in vec3 v_color;
out vec4 f_color;
void main() {
    // Head light at the camera; two-sided so face winding does not matter.
    vec3 to_eye = normalize(-v_position);
    float diffuse = abs(dot(normalize(v_normal), to_eye));
    f_color = vec4(v_color * (0.3 + 0.7 * diffuse), 1.0);
}
"""

_IMAGE_VS = """
#version 330
in vec2 in_corner;
out vec2 v_uv;
void main() {
    v_uv = in_corner * 0.5 + 0.5;      // texture row 0 = image row 0 = NDC y -1
    gl_Position = vec4(in_corner, 1.0, 1.0);
}
"""

_COMPOSITE_FS = """
#version 330
uniform sampler2D image;
uniform sampler2D meshes;   // opaque meshes, alpha 1 where drawn, 0 elsewhere
uniform float alpha;
in vec2 v_uv;
out vec4 f_color;
void main() {
    vec4 mesh = texture(meshes, v_uv);
    f_color = vec4(mix(texture(image, v_uv).rgb, mesh.rgb, alpha * mesh.a), 1.0);
}
"""


class RendererUnavailable(RuntimeError):
    """No OpenGL context could be created (missing libraries or drivers)."""


def _create_context(backend):
    try:
        import moderngl
    except ImportError as exc:
        raise RendererUnavailable(
            'the overlay renderer needs moderngl (pip install moderngl==5.13.0)') from exc
    try:
        kwargs = {'backend': backend} if backend else {}
        return moderngl.create_context(standalone=True, require=330, **kwargs)
    except Exception as exc:
        raise RendererUnavailable(
            f'cannot create a headless OpenGL 3.3 context (backend {backend!r}): {exc}. '
            'Install EGL and Mesa (Debian/Ubuntu: apt-get install libegl1 libegl-mesa0 '
            'libgl1-mesa-dri) or an NVIDIA driver, or disable the overlay.') from exc


def vertex_normals(vertices, faces, incidence=None):
    """Area-weighted unit vertex normals (N, V, 3) of meshes (N, V, 3) sharing faces (F, 3).

    `incidence` is the (V, F) sparse vertex-face matrix from :func:`face_incidence`; pass it to
    skip rebuilding it every frame.
    """
    vertices = np.asarray(vertices, np.float32)
    n_people, n_verts = vertices.shape[:2]
    faces = np.asarray(faces)
    if incidence is None:
        incidence = face_incidence(faces, n_verts)
    # People side by side in the columns: one gather and one sparse product serve them all
    # (np.cross on (N, F, 3) arrays is ~15x slower than the explicit components).
    flat = vertices.transpose(1, 0, 2).reshape(n_verts, n_people * 3)
    corner = flat[faces[:, 0]]
    e1 = (flat[faces[:, 1]] - corner).reshape(len(faces), n_people, 3)
    e2 = (flat[faces[:, 2]] - corner).reshape(len(faces), n_people, 3)
    face_n = np.empty_like(e1)
    face_n[..., 0] = e1[..., 1] * e2[..., 2] - e1[..., 2] * e2[..., 1]
    face_n[..., 1] = e1[..., 2] * e2[..., 0] - e1[..., 0] * e2[..., 2]
    face_n[..., 2] = e1[..., 0] * e2[..., 1] - e1[..., 1] * e2[..., 0]
    normals = (incidence @ face_n.reshape(len(faces), n_people * 3)).reshape(
        n_verts, n_people, 3).transpose(1, 0, 2)
    normals /= np.linalg.norm(normals, axis=2, keepdims=True) + 1e-12
    return normals.astype(np.float32)


def face_incidence(faces, num_vertices):
    """(V, F) sparse matrix with a 1 where a vertex belongs to a face."""
    import scipy.sparse
    faces = np.asarray(faces, np.int64)
    rows = faces.reshape(-1)
    cols = np.repeat(np.arange(len(faces)), 3)
    return scipy.sparse.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)),
                                   shape=(num_vertices, len(faces)))


class OverlayRenderer:
    """Renders posed body meshes over camera images.

    Usage::

        renderer = OverlayRenderer(body.faces)
        out = renderer.render(image_rgb, vertices, camera, track_ids=[3, 7])

    Args:
        faces: (F, 3) triangles shared by every mesh (one body model).
        backend: glcontext backend (``'egl'`` for headless; None lets moderngl choose).
        near, far: clipping depths in metres.
    """

    def __init__(self, faces, backend='egl', near=0.05, far=100.0):
        self.faces = np.ascontiguousarray(faces, dtype=np.int32)
        if self.faces.ndim != 2 or self.faces.shape[1] != 3:
            raise ValueError(f'faces must be (F, 3), got {self.faces.shape}')
        self.num_vertices = int(self.faces.max()) + 1
        self.near, self.far = float(near), float(far)
        self.ctx = _create_context(backend)
        self._incidence = face_incidence(self.faces, self.num_vertices)
        self._mesh_prog = self.ctx.program(vertex_shader=_MESH_VS, fragment_shader=_MESH_FS)
        self._composite_prog = self.ctx.program(vertex_shader=_IMAGE_VS,
                                                fragment_shader=_COMPOSITE_FS)
        self._composite_prog['image'].value = 0
        self._composite_prog['meshes'].value = 1
        corners = np.array([-1, -1, 1, -1, -1, 1, 1, 1], np.float32)
        self._quad = self.ctx.vertex_array(
            self._composite_prog, [(self.ctx.buffer(corners.tobytes()), '2f', 'in_corner')])
        self._size = None
        self._targets = []
        self._capacity = 0
        log.info('overlay renderer on %s', self.ctx.info.get('GL_RENDERER', '?'))

    @property
    def gl_renderer(self):
        """The OpenGL renderer string (e.g. 'llvmpipe ...' on CPU)."""
        return self.ctx.info.get('GL_RENDERER', '')

    def _ensure_size(self, width, height):
        """Textures and framebuffers for one image size (rebuilt when it changes)."""
        if self._size == (width, height):
            return
        for obj in self._targets:
            obj.release()
        size = (width, height)
        self._image_tex = self.ctx.texture(size, 3)
        self._mesh_tex = self.ctx.texture(size, 4)
        for tex in (self._image_tex, self._mesh_tex):
            tex.filter = (self.ctx.NEAREST, self.ctx.NEAREST)
        depth = self.ctx.depth_renderbuffer(size)
        self._mesh_fbo = self.ctx.framebuffer(color_attachments=[self._mesh_tex],
                                              depth_attachment=depth)
        out_rb = self.ctx.renderbuffer(size, 3)
        self._out_fbo = self.ctx.framebuffer(color_attachments=[out_rb])
        self._targets = [self._image_tex, self._mesh_tex, depth, self._mesh_fbo, out_rb,
                         self._out_fbo]
        self._size = size

    def _ensure_capacity(self, people):
        """(Re)build vertex/index buffers for `people` meshes; grown, never shrunk."""
        if people <= self._capacity:
            return
        capacity = max(people, 2 * self._capacity, 4)
        nv = self.num_vertices
        self._vbo = self.ctx.buffer(reserve=capacity * nv * 9 * 4, dynamic=True)
        offsets = (np.arange(capacity, dtype=np.int32) * nv)[:, None, None]
        indices = (self.faces[None] + offsets).astype(np.int32)
        self._ibo = self.ctx.buffer(indices.tobytes())
        self._vao = self.ctx.vertex_array(
            self._mesh_prog, [(self._vbo, '3f 3f 3f', 'in_position', 'in_normal', 'in_color')],
            index_buffer=self._ibo, index_element_size=4)
        self._capacity = capacity

    def render(self, image, vertices, camera, track_ids=None, colors=None, alpha=0.85):
        """Meshes drawn over `image`.

        Args:
            image: (H, W, 3) uint8 RGB; must match camera.width/height.
            vertices: (N, V, 3) camera-frame vertices in metres (N may be 0).
            camera: CameraIntrinsics of the image.
            track_ids: (N,) ids choosing each mesh's colour (see colors.track_color).
            colors: (N, 3) RGB in [0, 1], overrides track_ids.
            alpha: mesh opacity.
        Returns:
            (H, W, 3) uint8 RGB image.
        """
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f'image must be (H, W, 3) uint8, got {image.shape} {image.dtype}')
        height, width = image.shape[:2]
        if (camera.width, camera.height) != (width, height):
            raise ValueError(f'camera is {camera.width}x{camera.height} but the image is '
                             f'{width}x{height}')
        vertices = np.asarray(vertices, np.float32).reshape(-1, self.num_vertices, 3)
        if vertices.shape[0] == 0:
            return image.copy()
        self._ensure_size(width, height)
        # Pass 1: opaque meshes with depth test into an RGBA texture (one layer per pixel, so
        # a translucent body never shows its own back). Pass 2: blend them over the image.
        self._draw_meshes(vertices, camera, track_ids, colors)
        self._image_tex.write(np.ascontiguousarray(image).tobytes())
        self._out_fbo.use()
        self.ctx.disable(self.ctx.DEPTH_TEST)
        self._image_tex.use(0)
        self._mesh_tex.use(1)
        self._composite_prog['alpha'].value = float(alpha)
        self._quad.render(mode=self.ctx.TRIANGLE_STRIP)
        data = self._out_fbo.read(components=3, alignment=1)
        return np.frombuffer(data, np.uint8).reshape(height, width, 3)

    def _draw_meshes(self, vertices, camera, track_ids, colors):
        people = vertices.shape[0]
        if colors is None:
            ids = np.full(people, -1) if track_ids is None else np.asarray(track_ids)
            colors = track_colors(ids)
        colors = np.asarray(colors, np.float32).reshape(people, 3)
        normals = vertex_normals(vertices, self.faces, self._incidence)
        packed = np.empty((people, self.num_vertices, 9), np.float32)
        packed[..., 0:3] = vertices
        packed[..., 3:6] = normals
        packed[..., 6:9] = colors[:, None, :]
        self._ensure_capacity(people)
        self._vbo.write(packed.tobytes())
        prog = self._mesh_prog
        prog['intrinsics'].value = (camera.fx, camera.fy, camera.cx, camera.cy)
        prog['image_size'].value = (float(camera.width), float(camera.height))
        prog['depth_range'].value = (self.near, self.far)
        self._mesh_fbo.use()
        self._mesh_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self.ctx.enable(self.ctx.DEPTH_TEST)
        self._vao.render(vertices=people * len(self.faces) * 3)

    def release(self):
        """Free the GL context and its buffers."""
        self.ctx.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()
