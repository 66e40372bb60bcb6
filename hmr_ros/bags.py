"""rosbag2 access without a ROS distribution, on `rosbags` (MCAP and sqlite3).

Our own message types are registered from the .msg files, so bags with hmr_ros/msg/* topics
read and write like standard ones. Errors opening or reading a bag raise BagError with the
path and the reason (corrupt, truncated, not a bag).
"""
from dataclasses import dataclass
import os
from pathlib import Path
import sys

from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.rosbag2.enums import CompressionFormat, CompressionMode
from rosbags.typesys import Stores, get_typestore, get_types_from_msg

from hmr_ros.node_main import share_file

STORAGES = {'mcap': StoragePlugin.MCAP, 'sqlite3': StoragePlugin.SQLITE3}
OUR_MESSAGES = ('SMPLPerson', 'SMPLPersonArray', 'NearestPerson', 'ZoneEvent',
                'BodyTrackingState')
HRI_MESSAGES = ('IdsList', 'NormalizedPointOfInterest2D', 'NormalizedRegionOfInterest2D',
                'Skeleton2D')


class BagError(RuntimeError):
    """A bag cannot be opened, read or written (message names it and says why)."""


def installed_definition(package, name):
    """share/<package>/msg/<name>.msg of an installed interface package, or None."""
    prefixes = [p for p in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep) if p]
    for prefix in prefixes + [sys.prefix]:
        path = Path(prefix) / 'share' / package / 'msg' / f'{name}.msg'
        if path.is_file():
            return path
    return None


def typestore():
    """ROS 2 Kilted standard types plus hmr_ros/msg/* (registered from the .msg text).

    The REP-155 messages the humans node publishes (hri_msgs, not in the Kilted store) are
    registered from their installed definitions when present.
    """
    store = get_typestore(Stores.ROS2_KILTED)
    folder = share_file('msg')
    types = {}
    for name in OUR_MESSAGES:
        path = folder / f'{name}.msg'
        if not path.is_file():
            raise BagError(f'message definition {path} not found (installation incomplete)')
        types.update(get_types_from_msg(path.read_text(), f'hmr_ros/msg/{name}'))
    for name in HRI_MESSAGES:
        path = installed_definition('hri_msgs', name)
        if path is not None:
            types.update(get_types_from_msg(path.read_text(), f'hri_msgs/msg/{name}'))
    store.register(types)
    return store


def open_reader(path):
    """An open rosbags Reader for a bag folder or a single .mcap/.db3 file; raises BagError."""
    path = Path(path).expanduser()
    if not path.exists():
        raise BagError(f'bag not found: {path}')
    try:
        reader = Reader(path)
        reader.open()
    except Exception as exc:  # rosbags raises several types for damaged files
        raise BagError(f'cannot open bag {path}: {exc} (not a rosbag2, corrupt or '
                       'truncated?)') from None
    return reader


@dataclass
class TopicInfo:
    topic: str
    msgtype: str
    count: int


@dataclass
class BagInfo:
    path: Path
    storage: str
    duration_s: float
    start_ns: int
    end_ns: int
    message_count: int
    topics: list


def bag_info(path):
    reader = open_reader(path)
    try:
        topics = [TopicInfo(c.topic, c.msgtype, c.msgcount) for c in reader.connections]
        path = Path(path)
        files = list(path.iterdir()) if path.is_dir() else [path]
        storage = 'mcap' if any(f.suffix == '.mcap' for f in files) else 'sqlite3'
        return BagInfo(Path(path), storage, reader.duration * 1e-9 if reader.message_count else 0,
                       reader.start_time if reader.message_count else 0,
                       reader.end_time if reader.message_count else 0,
                       reader.message_count, topics)
    finally:
        reader.close()


def iter_messages(reader, topics=None):
    """(connection, timestamp_ns, raw CDR bytes) in time order; raises BagError when damaged."""
    conns = [c for c in reader.connections if topics is None or c.topic in topics]
    try:
        yield from reader.messages(connections=conns)
    except BagError:
        raise
    except Exception as exc:
        raise BagError(f'bag {reader.path} is damaged: {exc} (corrupt or truncated)') from None


def open_writer(path, storage='mcap', zstd=False):
    """A rosbags Writer for a new bag folder; raises BagError if it exists or storage is wrong.

    zstd: compress the storage (MCAP chunks; for sqlite3 each message), readable by rosbag2.
    """
    if storage not in STORAGES:
        raise BagError(f"storage must be one of {sorted(STORAGES)}, got '{storage}'")
    path = Path(path).expanduser()
    if path.exists():
        raise BagError(f'output {path} already exists (rosbag2 writes a new folder)')
    writer = Writer(path, version=9, storage_plugin=STORAGES[storage])
    if zstd:
        mode = CompressionMode.STORAGE if storage == 'mcap' else CompressionMode.MESSAGE
        writer.set_compression(mode, CompressionFormat.ZSTD)
    writer.open()
    return writer
