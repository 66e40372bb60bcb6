"""hmr-bag video: an image topic of a bag (hmr_node's overlay by default) to an MP4 file.

    hmr-bag video result_bag out.mp4 [--topic /hmr_node/overlay] [--fps 0]

Frames are written in bag order at one frame rate: `--fps`, or by default the median rate of
the recorded stamps (hmr_node publishes at its processing rate, a few FPS on a CPU), so the
video lasts about as long as the recording. Encoded with OpenCV's MPEG-4 Part 2 ('mp4v'), which
every OpenCV build writes without extra codecs.
"""
from dataclasses import dataclass

import cv2
import numpy as np
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import CompressedImage, Image

from hmr_ros.bags import BagError, iter_messages, open_reader
from hmr_ros.image_conversion import compressed_to_rgb, ImageError, image_to_rgb

DEFAULT_TOPIC = '/hmr_node/overlay'
IMAGE_TYPES = {'sensor_msgs/msg/Image': (Image, image_to_rgb),
               'sensor_msgs/msg/CompressedImage': (CompressedImage, compressed_to_rgb)}


@dataclass
class VideoSummary:
    frames: int
    fps: float
    width: int
    height: int
    skipped: int      # messages that were not decodable images


def _rate(stamps_ns):
    """Median frame rate of increasing stamps; 10 FPS when there are too few."""
    gaps = np.diff(np.asarray(stamps_ns, np.float64)) * 1e-9
    gaps = gaps[gaps > 0]
    return float(np.clip(1.0 / np.median(gaps), 0.1, 120.0)) if len(gaps) else 10.0


def export_video(bag, output, topic=DEFAULT_TOPIC, fps=0.0):
    """Write `topic` of `bag` to the video file `output`; returns a VideoSummary.

    Raises BagError when the bag cannot be read, the topic is absent or not an image
    topic, it holds no decodable image, or the file cannot be written.
    """
    reader = open_reader(bag)
    try:
        images = {c.topic: c.msgtype for c in reader.connections if c.msgtype in IMAGE_TYPES}
        if topic not in images:
            kinds = {c.topic: c.msgtype for c in reader.connections}
            why = f'is a {kinds[topic]} topic' if topic in kinds else 'is not in the bag'
            raise BagError(f"topic '{topic}' {why}; image topics in {bag}: "
                           f"{', '.join(sorted(images)) or 'none'}")
        cls, to_rgb = IMAGE_TYPES[images[topic]]
        if fps <= 0:
            conns = [c for c in reader.connections if c.topic == topic]
            fps = _rate([t for _, t, _ in reader.messages(connections=conns)])
        writer, size, frames, skipped = None, None, 0, 0
        try:
            for _, _, raw in iter_messages(reader, [topic]):
                try:
                    rgb = to_rgb(deserialize_message(bytes(raw), cls))
                except ImageError:
                    skipped += 1
                    continue
                if writer is None:
                    size = (rgb.shape[1], rgb.shape[0])
                    writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*'mp4v'),
                                             fps, size)
                    if not writer.isOpened():
                        raise BagError(f'cannot write the video {output} (folder missing or '
                                       'not writable?)')
                if (rgb.shape[1], rgb.shape[0]) != size:   # a size change mid-recording
                    rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
                writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
                frames += 1
        finally:
            if writer is not None:
                writer.release()
        if frames == 0:
            raise BagError(f"topic '{topic}' of {bag} has no decodable image")
        return VideoSummary(frames, fps, size[0], size[1], skipped)
    finally:
        reader.close()


def add_parser(subparsers):
    p = subparsers.add_parser('video', help="export an image topic (the overlay) to MP4")
    p.add_argument('bag')
    p.add_argument('output', help='video file to write (.mp4)')
    p.add_argument('--topic', default=DEFAULT_TOPIC, help=f'image topic (default {DEFAULT_TOPIC})')
    p.add_argument('--fps', type=float, default=0.0,
                   help='frame rate of the video (0: the median rate of the recording)')


def run(ns):
    s = export_video(ns.bag, ns.output, ns.topic, ns.fps)
    more = f', {s.skipped} undecodable messages skipped' if s.skipped else ''
    print(f'wrote {ns.output}: {s.frames} frames of {s.width}x{s.height} at {s.fps:.2f} FPS '
          f'from {ns.topic}{more}')
    return 0
