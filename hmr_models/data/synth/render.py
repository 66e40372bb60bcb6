"""Images of synthetic scenes.

Bodies in random colours over procedural backgrounds, with the scene's boxes and pillars,
through the mesh renderer of :mod:`hmr_models.render`.

The background is a textured floor seen in the scene camera's perspective (tiles of random
size and colours) below a wall or sky of random gradient and panels. Bodies and objects are
composited far to near (bodies in one depth-tested pass per layer between objects), so
objects hide the people behind them and not the ones in front.

The renderer is a hook: anything with ``render(image, vertices (N, V, 3), camera, colors=,
alpha=) -> image`` works (default: :class:`hmr_models.render.OverlayRenderer`, OpenGL via EGL).
"""
import numpy as np
import torch

_BOX_FACES = np.array([[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4],
                       [1, 5, 7, 3]])


def make_renderer(faces, backend='egl'):
    """The default renderer (raises hmr_models.render.RendererUnavailable without OpenGL)."""
    from hmr_models.render import OverlayRenderer
    return OverlayRenderer(faces, backend=backend)


def random_background(camera, rng):
    """(H, W, 3) uint8: a tiled floor in perspective under a wall/sky with panels."""
    k = camera.intrinsics
    w, h = k.width, k.height
    u, v = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    rays_c = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], -1)
    rays_w = rays_c @ camera.rotation                     # camera -> world directions
    # Floor y = 0: centre + s * ray, s > 0.
    s = -camera.centre[1] / np.where(rays_w[..., 1] < -1e-6, rays_w[..., 1], -1e-6)
    floor = (rays_w[..., 1] < -1e-3) & (s < 80.0)
    x = camera.centre[0] + s * rays_w[..., 0]
    z = camera.centre[2] + s * rays_w[..., 2]
    tile = rng.uniform(0.3, 1.5)
    ca, cb = rng.uniform(40, 220, 3), rng.uniform(40, 220, 3)
    checker = ((np.floor(x / tile) + np.floor(z / tile)) % 2)[..., None]
    if rng.random() < 0.4:  # plain floor, some texture from noise only
        checker = checker * 0.15
    floor_rgb = ca * (1 - checker) + cb * checker
    fog = np.clip(s / 60.0, 0, 1)[..., None]
    top, bottom = rng.uniform(60, 240, 3), rng.uniform(30, 200, 3)
    grad = (v / max(h - 1, 1))[..., None]
    wall = top * (1 - grad) + bottom * grad
    for _ in range(rng.integers(0, 6)):  # panels: windows, doors, posters
        x0, y0 = rng.integers(0, w), rng.integers(0, h)
        pw, ph = rng.integers(w // 20, w // 4 + 1), rng.integers(h // 20, h // 3 + 1)
        wall[y0:y0 + ph, x0:x0 + pw] = rng.uniform(20, 235, 3)
    horizon = wall.mean((0, 1))
    img = np.where(floor[..., None], floor_rgb * (1 - fog) + horizon * fog, wall)
    img += rng.normal(0, rng.uniform(2, 10), img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def _box_corners(occ):
    sx, sy, sz = occ.half_size
    local = np.array([[x, y, z] for x in (-sx, sx) for y in (-sy, sy) for z in (-sz, sz)])
    return occ.centre + local @ occ.axes


def _draw_box(image, camera, occ, colour):
    import cv2
    corners = camera.to_camera(_box_corners(occ))
    if (corners[:, 2] < 0.1).any():
        return image  # partly behind the camera: not drawn (rare at the sampled placements)
    pix, _ = camera.project(corners)
    faces = []
    for f in _BOX_FACES:
        c = corners[f]
        normal = np.cross(c[1] - c[0], c[3] - c[0])
        centre = c.mean(0)
        if np.dot(normal, centre) >= 0:
            normal = -normal  # orientation-agnostic: shade by |cos|
        shade = 0.35 + 0.65 * abs(np.dot(normal / np.linalg.norm(normal),
                                         centre / np.linalg.norm(centre)))
        faces.append((np.linalg.norm(centre), f, shade))
    for _, f, shade in sorted(faces, key=lambda x: -x[0]):
        pts = np.round(pix[f]).astype(np.int32)
        cv2.fillConvexPoly(image, pts, tuple(float(c) for c in colour * shade),
                           lineType=cv2.LINE_AA)
    return image


class SceneRenderer:
    """Renders the frames of a Scene.

    Args:
        body: the BodyModel of the scene (vertices are recomputed when the scene kept none).
        renderer: the mesh renderer hook (default :func:`make_renderer`).
    """

    def __init__(self, body, renderer=None):
        self.body = body
        self.renderer = renderer if renderer is not None else make_renderer(body.faces)

    def scene_style(self, scene, rng):
        """Background and colours of a scene, fixed over its frames."""
        return {
            'background': random_background(scene.camera, rng),
            'colors': rng.uniform(0.15, 0.95, (len(scene.people), 3)),
            'object_colors': rng.uniform(40, 230, (len(scene.occluders), 3)),
        }

    def _vertices(self, scene, frame):
        if all(p.vertices is not None for p in scene.people):
            return np.stack([p.vertices[frame] for p in scene.people])
        with torch.no_grad():
            out = self.body(np.stack([p.pose[frame] for p in scene.people]),
                            np.stack([p.betas for p in scene.people]),
                            np.stack([p.transl[frame] for p in scene.people]))
        return out.vertices.numpy()

    def render(self, scene, frame, style):
        """(H, W, 3) uint8 RGB image of one frame."""
        image = style['background'].copy()
        if not scene.people:
            return image
        verts = self._vertices(scene, frame)
        cam = scene.camera
        person_depth = np.array([p.joints[frame, 0, 2] for p in scene.people])
        obj_depth = np.array([np.linalg.norm(cam.to_camera(o.centre))
                              for o in scene.occluders])
        # Far to near: people between consecutive objects go in one depth-tested pass.
        order = sorted([(d, 'person', i) for i, d in enumerate(person_depth)] +
                       [(d, 'object', i) for i, d in enumerate(obj_depth)], key=lambda x: -x[0])
        batch = []
        for _, kind, i in order + [(0.0, 'end', -1)]:
            if kind == 'person':
                batch.append(i)
                continue
            if batch:
                image = np.array(self.renderer.render(
                    image, verts[batch], cam.intrinsics, colors=style['colors'][batch],
                    alpha=1.0))
                batch = []
            if kind == 'object':
                image = _draw_box(image, cam, scene.occluders[i], style['object_colors'][i])
        return image
