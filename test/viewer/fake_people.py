"""A stand-in for hmr_node in viewer tests: publishes people, camera images and camera_info.

Run as a process (`python fake_people.py [track_id]`): two standing people, the given track id
and the next, 4 m in front of the camera, on both person topics at 10 Hz, with a grey camera
image of the same stamp. Exits 0 on Ctrl-C.
"""
import sys

import numpy as np
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Header

from hmr_models.body import load_body_model
from hmr_models.types import BodyEstimate, People
from hmr_ros.image_conversion import rgb_to_image
from hmr_ros.msg import SMPLPersonArray
from hmr_ros.node_main import run_node
from hmr_ros.person_msgs import to_person_array

WIDTH, HEIGHT = 640, 480


def people_and_bodies(first_id, body):
    """Two people (ids first_id, first_id + 1) standing 4 m away, 1 m apart."""
    n = 2
    pose = np.zeros((n, 72), np.float32)
    pose[:, 0] = np.pi        # SMPL's y up -> the optical frame's y down
    betas = np.zeros((n, 10), np.float32)
    transl = np.array([[-0.6, 0.2, 4.0], [0.6, 0.2, 4.0]], np.float32)
    out = body(pose, betas, transl)
    people = People(boxes=np.array([[200, 100, 300, 400], [340, 100, 440, 400]], np.float32),
                    scores=np.array([0.9, 0.8], np.float32),
                    keypoints=np.full((n, 17, 2), np.nan, np.float32),
                    keypoint_scores=np.zeros((n, 17), np.float32),
                    track_ids=np.array([first_id, first_id + 1], np.int64))
    joints = out.joints.detach().numpy()
    bodies = BodyEstimate(pose=pose, betas=betas, translation=transl, joints=joints,
                          joint_confidence=np.ones((n, 24), np.float32),
                          vertices=None, body_model=body.name, model_profile='compact')
    return people, bodies


def make_node():
    first_id = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    node = rclpy.create_node('fake_people')
    reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
    pubs = [node.create_publisher(SMPLPersonArray, t, reliable)
            for t in ('/hmr_node/persons', '/hmr_node/persons_smoothed')]
    image_pub = node.create_publisher(Image, '/camera/image_raw', qos_profile_sensor_data)
    info_pub = node.create_publisher(CameraInfo, '/camera/camera_info', qos_profile_sensor_data)
    body = load_body_model()
    people, bodies = people_and_bodies(first_id, body)
    image = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)

    def tick():
        header = Header()
        header.stamp = node.get_clock().now().to_msg()
        header.frame_id = 'camera_optical_frame'
        image_pub.publish(rgb_to_image(image, header))
        info = CameraInfo(header=header, width=WIDTH, height=HEIGHT)
        info.k = [500.0, 0.0, WIDTH / 2, 0.0, 500.0, HEIGHT / 2, 0.0, 0.0, 1.0]
        info_pub.publish(info)
        for pub in pubs:
            pub.publish(to_person_array(header, people, bodies, 'compact'))
    node.create_timer(0.1, tick)
    return node


if __name__ == '__main__':
    sys.exit(run_node(make_node))
