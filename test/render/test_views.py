"""Framed previews: the virtual camera puts the whole body inside the tile."""
import numpy as np

from hmr_models.body import load_body_model
from fixtures.bodies import make_test_body_file
from hmr_models.render import OverlayRenderer
from hmr_models.render.views import grid, look_at_camera_frame, render_views


def test_camera_frames_the_body():
    pts = np.random.default_rng(0).uniform(-1, 1, (500, 3)) * [0.3, 0.9, 0.2]
    for az in (0.0, 1.0, np.pi):
        cam_pts, cam = look_at_camera_frame(pts, azimuth=az, size=(200, 300))
        assert (cam_pts[:, 2] > 0).all()
        u = cam.fx * cam_pts[:, 0] / cam_pts[:, 2] + cam.cx
        v = cam.fy * cam_pts[:, 1] / cam_pts[:, 2] + cam.cy
        assert u.min() >= 0 and u.max() <= 199 and v.min() >= 0 and v.max() <= 299
        assert v.max() - v.min() > 0.7 * 300 or u.max() - u.min() > 0.7 * 200


def test_upright_body_renders_head_up(tmp_path):
    body = load_body_model(make_test_body_file(tmp_path / 'b.npz'))
    verts = body(np.zeros((2, 72))).vertices.numpy()
    with OverlayRenderer(body.faces) as r:
        img = render_views(r, verts, azimuths=(0.0, np.pi / 2), size=(120, 160))
    assert img.shape == (2 * 160, 2 * 120, 3)
    drawn = np.any(img[:160, :120] != 235, axis=2)
    rows = np.flatnonzero(drawn.any(axis=1))
    cols = np.flatnonzero(drawn[rows[0] + 2])
    # Head (narrow) at the top, arms (wide) lower down: an upright T-pose.
    assert cols.max() - cols.min() < 0.3 * 120
    assert drawn.any(axis=0).sum() > 0.7 * 120
    assert grid([img, img, img], 2).shape == (2 * 320, 2 * 240, 3)
