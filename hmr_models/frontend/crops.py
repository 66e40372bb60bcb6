"""Square person crops for DPMesh (256 x 256 by default) and the affines between image and crop.

The crop box follows 3DCrowdNet/DPMesh: the person box is made square around its centre
(aspect-corrected to the 1:1 input) and enlarged 1.25x; pixels outside the image are black.
Keypoints go into the crop with `Crops.to_crop` and back with `Crops.to_image`;
`Crops.normalise` gives crop coordinates divided by the crop size (0..1 inside the crop).
"""
from dataclasses import dataclass

import cv2
import numpy as np

from hmr_models.frontend.boxes import square_boxes
from hmr_models.geometry.affine import apply_affine, box_to_crop_affine, invert_affine

CROP_SCALE = 1.25   # 3DCrowdNet / DPMesh `process_bbox`


@dataclass
class Crops:
    """N square crops of one image.

    images (N, S, S, 3) uint8 RGB; image_to_crop / crop_to_image (N, 2, 3) float32 affines
    (OpenCV convention); boxes_square (N, 4) xyxy image pixels of the square each crop shows.
    """

    images: np.ndarray
    image_to_crop: np.ndarray
    crop_to_image: np.ndarray
    boxes_square: np.ndarray

    @property
    def size(self):
        return int(self.images.shape[1])

    def __len__(self):
        return int(self.images.shape[0])

    def to_crop(self, points):
        """Image pixel points (N, K, 2) -> crop pixels (N, K, 2); NaN stays NaN."""
        return apply_affine(self.image_to_crop, points)

    def to_image(self, points):
        """Crop pixel points (N, K, 2) -> image pixels (N, K, 2)."""
        return apply_affine(self.crop_to_image, points)

    def normalise(self, points):
        """Image pixel points (N, K, 2) -> crop coordinates / crop size (0..1 inside the crop)."""
        return self.to_crop(points) / np.float32(self.size)


def make_crops(image_rgb, boxes, size=256, scale=CROP_SCALE):
    """Crops of `image_rgb` (H, W, 3) uint8 around boxes (N, 4) xyxy pixels.

    Returns a `Crops` with images (N, size, size, 3); N may be 0.
    """
    crops = crop_geometry(boxes, size, scale)
    for i in range(len(crops)):   # one warp per person; the warp itself is OpenCV-vectorised
        crops.images[i] = cv2.warpAffine(image_rgb, crops.image_to_crop[i], (size, size),
                                         flags=cv2.INTER_LINEAR,
                                         borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))
    return crops


def crop_geometry(boxes, size=256, scale=CROP_SCALE):
    """The `Crops` of boxes (N, 4) without cutting any image: black crop images.

    For models that only need the geometry (the keypoint lifter's box and camera inputs).
    """
    if size < 1:
        raise ValueError(f'crop size must be >= 1, got {size}')
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    squares = square_boxes(boxes, scale)
    to_crop = box_to_crop_affine(squares, size)
    images = np.zeros((len(boxes), size, size, 3), np.uint8)
    return Crops(images=images, image_to_crop=to_crop, crop_to_image=invert_affine(to_crop),
                 boxes_square=squares)
