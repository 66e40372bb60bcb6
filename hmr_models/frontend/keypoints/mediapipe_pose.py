"""MediaPipe BlazePose landmarks (33 points) on the person detector's boxes, mapped to COCO-17.

MediaPipe's own pipeline finds people with a face-anchored detector that misses small, distant
or back-facing people (0-1 of 3-7 pedestrians on vtest.avi). This backend skips that detector:
it runs MediaPipe's `PoseLandmarkByRoiCpu` subgraph (the full landmark model shipped in the
mediapipe==0.10.21 wheel, Apache-2.0) with a region of interest built from each NanoDet box,
exactly where MediaPipe would put the ROI found by its own detector (a square around the person).
The graph emits nothing for an ROI where the model sees no pose: that person gets no keypoints.

With `world_landmarks` on, the same graph also gives BlazePose's 3D "world" landmarks (metres,
origin between the hips, axes of the camera; GHUM-fitted real images are what the model learnt
them from): `benchmarks/eval_real.py --baseline-mediapipe` scores them as an off-the-shelf
monocular 3D baseline beside the meshes.
"""
import logging
import os

import numpy as np

from hmr_models.frontend.boxes import square_boxes
from hmr_models.frontend.keypoints.base import KeypointBackend, empty_keypoints
from hmr_models.frontend.onnx_model import ModelLoadError

log = logging.getLogger(__name__)

# BlazePose landmark index of each COCO-17 keypoint (nose, eyes, ears, shoulders, elbows,
# wrists, hips, knees, ankles); BlazePose's eyes 2/5 are the pupil centres.
BLAZEPOSE_TO_COCO17 = np.array([0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28])

_GRAPH = '''
input_stream: "IMAGE:image"
input_stream: "ROI:roi"
output_stream: "LANDMARKS:landmarks"{world_out}
node {{
  calculator: "PoseLandmarkByRoiCpu"
  input_side_packet: "MODEL_COMPLEXITY:model_complexity"
  input_stream: "IMAGE:image"
  input_stream: "ROI:roi"
  output_stream: "LANDMARKS:landmarks"{world_out}
}}
'''
_WORLD_OUT = '\noutput_stream: "WORLD_LANDMARKS:world_landmarks"'
_INSTALL = ("keypoint_backend 'mediapipe' needs mediapipe==0.10.21 (the last release whose wheel "
            "ships the pose models): pip install mediapipe==0.10.21 'numpy<2' 'protobuf<5'; or "
            "choose keypoint_backend 'movenet_lightning'")


class MediaPipePoseBackend(KeypointBackend):
    """COCO-17 keypoints per box from BlazePose's full landmark model (model_complexity 1)."""

    name = 'mediapipe'
    needs_boxes = True

    def __init__(self, crop_scale=1.25, world_landmarks=False):
        try:
            import mediapipe as mp
            from google.protobuf import text_format
            from mediapipe.framework import calculator_pb2
            from mediapipe.framework.formats import rect_pb2
            from mediapipe.python import packet_creator, packet_getter
            from mediapipe.python._framework_bindings import resource_util
        except ImportError as exc:
            raise ModelLoadError(f'{_INSTALL} ({exc})') from exc
        self._mp, self._rect_pb2 = mp, rect_pb2
        self._create, self._get = packet_creator, packet_getter
        root = os.path.dirname(os.path.dirname(mp.__file__))
        model = os.path.join(root, 'mediapipe', 'modules', 'pose_landmark',
                             'pose_landmark_full.tflite')
        if not os.path.isfile(model):
            raise ModelLoadError(f'{model} is missing from the installed mediapipe '
                                 f'({getattr(mp, "__version__", "?")}). {_INSTALL}')
        resource_util.set_resource_dir(root)   # graph resources resolve relative to site-packages
        self.crop_scale = float(crop_scale)
        self.world_landmarks = bool(world_landmarks)
        # (N, 17, 3) world landmarks of the last estimate() (NaN where none); world_landmarks only
        self.last_world_landmarks = np.zeros((0, 17, 3), np.float32)
        self._results, self._world = {}, {}
        self._timestamp = 0
        try:
            graph = _GRAPH.format(world_out=_WORLD_OUT if self.world_landmarks else '')
            config = text_format.Parse(graph, calculator_pb2.CalculatorGraphConfig())
            self._graph = mp.CalculatorGraph(graph_config=config)
            self._graph.observe_output_stream('landmarks', self._collect)
            if self.world_landmarks:
                self._graph.observe_output_stream('world_landmarks', self._collect_world)
            self._graph.start_run(
                input_side_packets={'model_complexity': packet_creator.create_int(1)})
        except Exception as exc:
            raise ModelLoadError(f'could not start the MediaPipe pose landmark graph: {exc}. '
                                 f'{_INSTALL}') from exc

    def _collect(self, stream_name, packet):
        self._results[packet.timestamp.value] = self._get.get_proto(packet)

    def _collect_world(self, stream_name, packet):
        self._world[packet.timestamp.value] = self._get.get_proto(packet)

    def estimate(self, image_rgb, boxes):
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        keypoints, scores = empty_keypoints(len(boxes))
        self.last_world_landmarks = np.full((len(boxes), 17, 3), np.nan, np.float32)
        if len(boxes) == 0:
            return keypoints, scores
        h, w = image_rgb.shape[:2]
        squares = square_boxes(boxes, self.crop_scale)
        image = self._create.create_image_frame(image_format=self._mp.ImageFormat.SRGB,
                                                data=np.ascontiguousarray(image_rgb))
        stamps = []
        self._results.clear()
        self._world.clear()
        for sq in squares:
            self._timestamp += 1       # MediaPipe needs strictly increasing timestamps
            side = float(sq[2] - sq[0])
            roi = self._rect_pb2.NormalizedRect(
                x_center=float(sq[0] + sq[2]) / (2 * w), y_center=float(sq[1] + sq[3]) / (2 * h),
                width=side / w, height=side / h, rotation=0.0)
            self._graph.add_packet_to_input_stream('image', image.at(self._timestamp))
            self._graph.add_packet_to_input_stream(
                'roi', self._create.create_proto(roi).at(self._timestamp))
            stamps.append(self._timestamp)
        self._graph.wait_until_idle()
        for i, ts in enumerate(stamps):
            landmarks = self._results.get(ts)
            if landmarks is None:
                continue
            lm = np.array([[p.x, p.y, p.visibility] for p in landmarks.landmark], np.float32)
            if lm.shape[0] < 29:
                log.warning('MediaPipe returned %d landmarks instead of 33; person skipped',
                            lm.shape[0])
                continue
            picked = lm[BLAZEPOSE_TO_COCO17]
            keypoints[i] = picked[:, :2] * np.array([w, h], np.float32)
            scores[i] = picked[:, 2]
            world = self._world.get(ts)
            if world is not None and len(world.landmark) == lm.shape[0]:
                points = np.array([[p.x, p.y, p.z] for p in world.landmark], np.float32)
                self.last_world_landmarks[i] = points[BLAZEPOSE_TO_COCO17]
        return keypoints, scores

    def close(self):
        graph, self._graph = getattr(self, '_graph', None), None
        if graph is not None:
            try:
                graph.close()
            except Exception as exc:   # closing must never raise during shutdown
                log.debug('closing the MediaPipe graph: %s', exc)
