"""Framed pictures of bodies in their own world frame (previews, notes, debugging).

The overlay renderer draws camera-frame meshes over a camera image; these helpers place a
virtual camera around a body given in SMPL's world frame (y up) so that it fills a tile, and
lay tiles out in a grid.
"""
import numpy as np

from hmr_models.types import CameraIntrinsics


def look_at_camera_frame(vertices, azimuth=0.0, elevation=0.15, fov_deg=30.0, size=(320, 400),
                         margin=1.15):
    """World-frame vertices (V, 3) (y up) -> camera optical frame, and the camera.

    The camera looks at the body's bounding-box centre from `azimuth` radians about the
    vertical (0 = in front of a body facing +z) and `elevation` radians above, at the distance
    where the whole body fits the tile with `margin`.
    """
    width, height = size
    centre = 0.5 * (vertices.min(0) + vertices.max(0))
    # Camera axes in the world: z_cam toward the body, y_cam down, x_cam right.
    forward = -np.array([np.sin(azimuth) * np.cos(elevation), np.sin(elevation),
                         np.cos(azimuth) * np.cos(elevation)])
    right = np.cross(forward, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    rot = np.stack([right, down, forward])                      # world -> camera
    local = (vertices - centre) @ rot.T
    f = 0.5 * height / np.tan(np.deg2rad(fov_deg) / 2.0)
    half = np.maximum(np.abs(local[:, 0]).max() * f / (0.5 * width),
                      np.abs(local[:, 1]).max() * f / (0.5 * height))
    distance = margin * half + local[:, 2].max()
    cam = CameraIntrinsics(f, f, (width - 1) / 2.0, (height - 1) / 2.0, width, height)
    return local + np.array([0.0, 0.0, distance]), cam


def render_views(renderer, vertices, azimuths=(0.0,), track_ids=None, size=(320, 400),
                 background=(235, 235, 235), elevation=0.15):
    """Tiles (len(vertices) rows x len(azimuths) columns) of world-frame bodies, one image.

    Args:
        renderer: an :class:`hmr_models.render.OverlayRenderer` for the body's faces.
        vertices: (N, V, 3) world-frame vertices (y up).
        azimuths: view directions in radians.
        track_ids: (N,) colours (default 0..N-1).
    Returns:
        (N * H, len(azimuths) * W, 3) uint8 RGB.
    """
    width, height = size
    ids = np.arange(len(vertices)) if track_ids is None else np.asarray(track_ids)
    rows = []
    for i, verts in enumerate(np.asarray(vertices, np.float64)):
        tiles = []
        for az in azimuths:
            cam_verts, cam = look_at_camera_frame(verts, az, elevation, size=size)
            tile = np.empty((height, width, 3), np.uint8)
            tile[:] = background
            tiles.append(renderer.render(tile, cam_verts[None], cam, track_ids=[ids[i]],
                                         alpha=1.0))
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


def grid(images, columns):
    """Lay images of equal size out row-major, `columns` wide (missing cells white)."""
    images = list(images)
    h, w = images[0].shape[:2]
    rows = -(-len(images) // columns)
    out = np.full((rows * h, columns * w, 3), 255, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, columns)
        out[r * h:(r + 1) * h, c * w:(c + 1) * w] = img
    return out
