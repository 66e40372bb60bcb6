"""The overlay renderer draws where the pinhole projection says (pixel tests)."""
import numpy as np
import pytest

from hmr_models.body import load_body_model
from fixtures.bodies import make_test_body_file
from hmr_models.render import OverlayRenderer, track_color, track_colors, vertex_normals
from hmr_models.types import CameraIntrinsics

# Deliberately off-centre, non-square pixels: a wrong convention shows up as a shift.
CAMERA = CameraIntrinsics(fx=520.0, fy=470.0, cx=290.0, cy=260.0, width=640, height=480)
BACKGROUND = 40


def project(points, cam=CAMERA):
    return np.stack([cam.fx * points[..., 0] / points[..., 2] + cam.cx,
                     cam.fy * points[..., 1] / points[..., 2] + cam.cy], axis=-1)


@pytest.fixture(scope='module')
def square_renderer():
    r = OverlayRenderer(np.array([[0, 1, 2], [0, 2, 3]]))
    yield r
    r.release()


def background():
    return np.full((CAMERA.height, CAMERA.width, 3), BACKGROUND, np.uint8)


def square(x0, y0, x1, y1, z):
    return np.array([[[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]]], np.float32)


def test_square_lands_on_its_projection(square_renderer):
    quad = square(-0.3, -0.2, 0.5, 0.4, 2.5)
    out = square_renderer.render(background(), quad, CAMERA, colors=[(1.0, 0.0, 0.0)],
                                 alpha=1.0)
    (u0, v0), (u1, v1) = project(quad[0, 0]), project(quad[0, 2])
    drawn = np.any(out != BACKGROUND, axis=2)
    rows, cols = np.nonzero(drawn)
    # Pixel centres at integer coordinates: covered pixels are those with u0 <= u < u1.
    assert abs(cols.min() - np.ceil(u0)) <= 1 and abs(cols.max() - np.floor(u1)) <= 1
    assert abs(rows.min() - np.ceil(v0)) <= 1 and abs(rows.max() - np.floor(v1)) <= 1
    inside = drawn[int(v0) + 2:int(v1) - 1, int(u0) + 2:int(u1) - 1]
    assert inside.all()
    assert drawn.sum() == pytest.approx((u1 - u0) * (v1 - v0), rel=0.02)
    # Facing the camera under a head light: pure, fully lit red.
    centre = out[int((v0 + v1) / 2), int((u0 + u1) / 2)]
    assert centre[0] > 240 and centre[1] == 0 and centre[2] == 0


def test_image_kept_outside_and_blended_inside(square_renderer):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (CAMERA.height, CAMERA.width, 3), dtype=np.uint8)
    quad = square(-0.1, -0.1, 0.1, 0.1, 1.0)
    out = square_renderer.render(image, quad, CAMERA, colors=[(0.0, 0.0, 1.0)], alpha=0.5)
    (u0, v0), (u1, v1) = project(quad[0, 0]), project(quad[0, 2])
    mask = np.zeros(out.shape[:2], bool)
    mask[int(v0) - 1:int(v1) + 2, int(u0) - 1:int(u1) + 2] = True
    np.testing.assert_array_equal(out[~mask], image[~mask])
    r, c = int((v0 + v1) / 2), int((u0 + u1) / 2)
    np.testing.assert_allclose(out[r, c].astype(float),
                               0.5 * image[r, c] + 0.5 * np.array([0, 0, 255]), atol=2)


def test_no_people_returns_the_image(square_renderer):
    image = np.random.default_rng(1).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    out = square_renderer.render(image, np.zeros((0, 4, 3)), CAMERA)
    np.testing.assert_array_equal(out, image)


def test_nearer_mesh_occludes(square_renderer):
    near = square(-0.2, -0.2, 0.2, 0.2, 2.0)
    far = square(-0.6, -0.6, 0.6, 0.6, 4.0)
    for order in ([0, 1], [1, 0]):
        quads = np.concatenate([near, far])[order]
        colors = np.array([(0.0, 1.0, 0.0), (1.0, 0.0, 1.0)])[order]
        out = square_renderer.render(background(), quads, CAMERA, colors=colors, alpha=1.0)
        centre = out[int(CAMERA.cy), int(CAMERA.cx)]
        assert centre[1] > 200 and centre[0] == 0, f'far mesh drawn over near one ({order})'


def test_behind_the_camera_is_not_drawn(square_renderer):
    out = square_renderer.render(background(), square(-1, -1, 1, 1, -2.0), CAMERA)
    assert (out == BACKGROUND).all()


def test_body_silhouette_matches_projected_vertices(tmp_path):
    body = load_body_model(make_test_body_file(tmp_path / 'b.npz', rings=6, segments=12))
    pose = np.zeros((2, 72), np.float32)
    pose[:, 0] = np.pi                                     # SMPL y-up -> optical y-down
    verts, joints = body(pose, transl=np.array([[-0.5, 0.0, 3.0], [0.6, 0.1, 3.5]])).numpy()
    with OverlayRenderer(body.faces) as r:
        out = r.render(background(), verts, CAMERA, track_ids=[3, 8], alpha=1.0)
    drawn = np.any(out != BACKGROUND, axis=2)
    uv = np.rint(project(verts.reshape(-1, 3))).astype(int)
    ok = (uv[:, 0] >= 0) & (uv[:, 0] < 640) & (uv[:, 1] >= 0) & (uv[:, 1] < 480)
    # Every vertex falls on (or within a pixel of) a drawn pixel ...
    grown = drawn.copy()
    grown[1:] |= drawn[:-1]
    grown[:-1] |= drawn[1:]
    grown[:, 1:] |= grown[:, :-1]
    grown[:, :-1] |= grown[:, 1:]
    assert grown[uv[ok, 1], uv[ok, 0]].mean() > 0.99
    # ... and the drawn region spans the projected vertices, not more.
    rows, cols = np.nonzero(drawn)
    assert abs(cols.min() - uv[ok, 0].min()) <= 2 and abs(cols.max() - uv[ok, 0].max()) <= 2
    assert abs(rows.min() - uv[ok, 1].min()) <= 2 and abs(rows.max() - uv[ok, 1].max()) <= 2
    # Each person has its track colour (hue) where its spine projects.
    for person, tid in ((0, 3), (1, 8)):
        u, v = np.rint(project(joints[person, 3]))
        pixel = out[int(v), int(u)].astype(float)
        expected = np.array(track_color(tid)) * 255
        cosine = pixel @ expected / (np.linalg.norm(pixel) * np.linalg.norm(expected))
        assert cosine > 0.99


def test_input_checks(square_renderer):
    with pytest.raises(ValueError, match='camera'):
        square_renderer.render(np.zeros((100, 100, 3), np.uint8), square(0, 0, 1, 1, 2), CAMERA)
    with pytest.raises(ValueError, match='uint8'):
        square_renderer.render(np.zeros((480, 640, 3), np.float32), square(0, 0, 1, 1, 2),
                               CAMERA)


def test_vertex_normals_face_outward_on_a_cube_corner():
    verts = np.array([[[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]], np.float32)
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2]])
    n = vertex_normals(verts, faces)
    np.testing.assert_allclose(np.linalg.norm(n, axis=2), 1.0, atol=1e-6)
    np.testing.assert_allclose(n[0, 0], -np.ones(3) / np.sqrt(3), atol=1e-6)


def test_track_colors_are_stable_and_distinct():
    c = track_colors([0, 1, 2, 0, -1])
    np.testing.assert_array_equal(c[0], c[3])
    assert np.linalg.norm(c[0] - c[1]) > 0.3 and np.linalg.norm(c[1] - c[2]) > 0.3
    np.testing.assert_allclose(c[4], track_color(-1))
