"""Perception front-end: people, COCO-17 keypoints, track ids, crops and heatmaps for DPMesh.

No ROS here; `hmr_node` wires it in.

    from hmr_models.frontend import FrontEndConfig, PersonFrontEnd
    front = PersonFrontEnd(FrontEndConfig(keypoint_backend='movenet_lightning'))
    people = front.process(image_rgb, stamp)          # boxes, keypoints, track_ids
    crops = make_crops(image_rgb, people.boxes)       # 256 x 256 crops + affines
    maps = gaussian_heatmaps(crops.to_crop(people.keypoints), people.keypoint_scores > 0)
"""
from hmr_models.frontend.config import FrontEndConfig, KEYPOINT_BACKENDS
from hmr_models.frontend.crops import Crops, make_crops
from hmr_models.frontend.draw import draw_people, track_colour
from hmr_models.frontend.frontend import FrontEndStats, PersonFrontEnd, check_image
from hmr_models.frontend.heatmaps import gaussian_heatmaps
from hmr_models.frontend.onnx_model import ModelLoadError
from hmr_models.frontend.tracker import Tracker

__all__ = [
    'Crops', 'FrontEndConfig', 'FrontEndStats', 'KEYPOINT_BACKENDS', 'ModelLoadError',
    'PersonFrontEnd', 'Tracker', 'check_image', 'draw_people', 'gaussian_heatmaps', 'make_crops',
    'track_colour',
]
