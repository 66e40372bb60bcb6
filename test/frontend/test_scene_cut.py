"""Hard cuts in edited video: seen between shots, never within one (pans, zooms, flashes)."""
import cv2
import numpy as np
import pytest

from frontend.conftest import read_frames, SAMPLE
from hmr_models.frontend import FrontEndConfig, PersonFrontEnd
from hmr_models.frontend.scene_cut import SceneCutDetector


@pytest.fixture(scope='module')
def shot():
    """Every third image of four seconds of the bundled clip (a node dropping images)."""
    frames = read_frames(SAMPLE, set(range(66, 186, 3)))
    return [frames[i] for i in sorted(frames)]


@pytest.fixture(scope='module')
def other_place(test_body):
    """A rendered synthetic scene (1280x720): another place, another light."""
    from fixtures.scenes import small_scene
    from hmr_models.data.synth.render import SceneRenderer
    scene = small_scene(test_body, frames=1, size=(1280, 720))
    try:
        renderer = SceneRenderer(test_body)
    except Exception as exc:    # noqa: BLE001 - no OpenGL: no second shot to cut to
        pytest.skip(f'renderer unavailable: {exc}')
    return renderer.render(scene, 0, renderer.scene_style(scene, np.random.default_rng(3)))


def cuts(images):
    detector = SceneCutDetector()
    return [i for i, image in enumerate(images) if detector.is_cut(image)]


def test_one_shot_has_no_cut_whatever_the_camera_does(shot):
    assert cuts(shot) == []
    frame = shot[10]
    h, w = frame.shape[:2]
    # a fast pan: a half-size window moving 10 % of its width per image, shown full size
    pan = [cv2.resize(frame[h // 4:h // 4 + h // 2, x:x + w // 2], (w, h))
           for x in range(0, w // 2, w // 20)]
    assert cuts(pan) == []
    flash = [np.clip(frame * g, 0, 255).astype(np.uint8) for g in (1.0, 1.8, 1.0, 0.5)]
    assert cuts(flash) == []


def test_a_cut_to_another_place_is_seen_and_one_between_cameras_of_a_scene_is_not(
        shot, other_place):
    assert cuts([shot[0], other_place, shot[1]]) == [1, 2]
    # The same colours seen from elsewhere (mirrored): left to the detector fallback.
    assert cuts([shot[0], np.ascontiguousarray(shot[0][:, ::-1])]) == []


def test_after_a_cut_nobody_keeps_an_id_of_the_shot_before(runtime, shot, other_place):
    """Without the cut, the people of the next shot would take the lost tracks' ids."""
    for scene_cut in (True, False):
        front = PersonFrontEnd(FrontEndConfig(track_min_hits=1, scene_cut=scene_cut), runtime)
        before = set()
        for k, image in enumerate(shot[:4]):
            before |= set(front.process(image, 0.1 * k).track_ids.tolist())
        assert len(before - {-1}) >= 1
        front.process(other_place, 0.4)                     # one image of another shot
        again = front.process(shot[4], 0.5)                 # and back: a cut again
        ids = set(again.track_ids.tolist()) - {-1}
        assert len(ids) >= 1
        if scene_cut:
            assert front.totals.scene_cuts == 2 and not ids & before, (ids, before)
        else:
            assert front.totals.scene_cuts == 0 and ids & before


def test_turned_on_while_running_it_does_not_compare_with_an_image_long_gone(
        runtime, shot, other_place):
    """frontend.scene_cut is a live parameter: switched on, its first image is no cut."""
    front = PersonFrontEnd(FrontEndConfig(scene_cut=True), runtime)
    front.process(other_place, 0.0)
    front.update_config(scene_cut=False)
    for k, image in enumerate(shot[:3]):
        front.process(image, 0.1 * (k + 1))
    front.update_config(scene_cut=True)
    front.process(shot[3], 0.4)
    assert front.totals.scene_cuts == 0
