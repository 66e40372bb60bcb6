"""The viewer's page without a browser: poses, trails, images, and in-place updates."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from hmr_ros.viewer_scene import (
    optical_pose, Person, side_by_side, Trails, ViewerScene, color_u8, fit_width)


def test_optical_pose_of_a_level_camera_looks_along_x_with_y_down():
    wxyz, position, rot = optical_pose([1.0, 2.0, 1.5, 0.0, 0.0, 0.0, 1.0])
    assert np.allclose(position, [1.0, 2.0, 1.5])
    assert np.allclose(rot @ [0, 0, 1], [1, 0, 0])     # optical z (forward) = reference x
    assert np.allclose(rot @ [1, 0, 0], [0, -1, 0])    # optical x (right) = reference -y
    assert np.allclose(rot @ [0, 1, 0], [0, 0, -1])    # optical y (down) = reference -z
    w, x, y, z = wxyz
    assert np.allclose(Rotation.from_quat([x, y, z, w]).as_matrix(), rot)
    # A camera turned 90 degrees to the left looks along +y.
    q = Rotation.from_euler('z', 90, degrees=True).as_quat()
    _, _, rot = optical_pose([0, 0, 1, *q])
    assert np.allclose(rot @ [0, 0, 1], [0, 1, 0])


def test_optical_pose_empty_and_invalid():
    assert optical_pose([]) is None and optical_pose(None) is None
    with pytest.raises(ValueError, match='x, y, z, qx, qy, qz, qw'):
        optical_pose([0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match='quaternion'):
        optical_pose([0, 0, 0, 0, 0, 0, 0])


def _person(track_id, x=0.0, mesh=True, n_vertices=10):
    joints = np.zeros((24, 3), np.float32)
    joints[:, 0] = x
    joints[:, 2] = 4.0
    vertices = np.random.default_rng(track_id).normal(size=(n_vertices, 3)).astype(np.float32)
    return Person(track_id, 0.87, joints, vertices if mesh else None)


def test_trails_keep_recent_positions_per_track():
    trails = Trails(seconds=1.0)
    trails.add(0.0, [_person(1, 0.0), _person(2, 5.0)])
    trails.add(0.5, [_person(1, 0.1)])
    segs, colors = trails.segments()
    assert segs.shape == (1, 2, 3) and np.allclose(segs[0, :, 0], [0.0, 0.1])
    assert tuple(colors[0, 0]) == color_u8(1)
    trails.add(1.2, [])          # the first points are older than a second: gone
    assert trails.segments()[0].shape == (0, 2, 3)
    assert set(trails.points) == {1}


def test_images_side_by_side_and_fit():
    a = np.zeros((100, 200, 3), np.uint8)
    b = np.zeros((50, 50, 3), np.uint8)
    assert side_by_side(a, b, 40).shape == (40, 80 + 40, 3)
    assert side_by_side(None, b, 40).shape == (40, 40, 3)
    assert side_by_side(None, None, 40) is None
    assert fit_width(np.zeros((720, 1280, 3), np.uint8), 300).shape == (169, 300, 3)
    assert fit_width(a, 300) is a


@pytest.fixture
def viser_server():
    import viser
    server = viser.ViserServer(host='127.0.0.1', port=0, verbose=False)
    yield server
    server.stop()


def test_scene_updates_vertices_in_place_and_hides_people_who_left(viser_server):
    faces = np.array([[0, 1, 2], [2, 3, 4]])
    scene = ViewerScene(viser_server, faces)
    scene.update_people([_person(1, -1.0), _person(2, 1.0, mesh=False)], now=0.0)
    assert len(scene.meshes) == 1          # only people with a mesh get one
    mesh = scene.meshes[0]
    first = np.array(mesh.vertices)
    scene.update_people([_person(7, 0.0), _person(1, 1.0)], now=0.1)
    assert scene.meshes[0] is mesh         # the same scene node, new vertices and colour
    assert not np.allclose(mesh.vertices, first)
    assert tuple(mesh.color) == color_u8(7)
    assert len(scene.meshes) == 2 and all(m.visible for m in scene.meshes)
    assert scene.labels[0].text.startswith('id 7') and '0.87' in scene.labels[0].text
    assert '4.0 m' in scene.labels[0].text
    assert scene.skeletons.points.shape == (2 * 23, 2, 3)
    scene.update_people([_person(7, 0.0)], now=0.2)
    assert scene.meshes[0].visible and not scene.meshes[1].visible
    assert not scene.labels[1].visible
    scene.show_meshes.value = False         # the checkbox hides every mesh at once
    assert not scene.meshes[0].visible
    scene.clear_people(now=10.0)
    assert not scene.skeletons.visible and not scene.trail_lines.visible


def test_scene_with_a_camera_pose_has_a_ground_grid_and_a_frustum(viser_server):
    scene = ViewerScene(viser_server, np.array([[0, 1, 2]]), [0, 0, 1.5, 0, 0, 0, 1])
    assert scene.grid is not None
    assert np.allclose(scene.root.position, [0, 0, 1.5])
    scene.update_camera(640, 480, 500.0, np.zeros((480, 640, 3), np.uint8))
    first = scene.frustum
    assert first.image.shape[1] == scene.frustum_width
    scene.update_camera(640, 480, 500.0, np.full((480, 640, 3), 9, np.uint8))
    assert scene.frustum is first and first.image[0, 0, 0] == 9
    scene.update_camera(1280, 720, 900.0, None)     # another camera: a new frustum
    assert scene.frustum is not first
    assert ViewerScene(viser_server, None).grid is None
