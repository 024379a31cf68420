"""Opening a video file (one-line errors for every way it can fail, the first real video stream) and
the scan of its packet timeline (presentation timestamps without decoding), for `video.py`'s probing
and decoding and for the writer."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer
from av.stream import Disposition
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from ..errors import InputError
from .limits import check_pixels

# --- opening -----------------------------------------------------------------------------------


@contextlib.contextmanager
def open_video(path: Path) -> Iterator[tuple[InputContainer, VideoStream]]:
    """The container and its first real video stream (not cover art); one-line InputError otherwise."""
    _check_file(path)
    try:
        container = av.open(str(path), metadata_errors="replace")
    except (av.FFmpegError, UnicodeDecodeError):
        raise InputError(
            f"{path} cannot be read as a video: it is damaged, incomplete (a partial download?) or not "
            "a video file; re-encode or re-download it"
        ) from None
    with container:
        stream = video_stream(container, path)
        # the stream header's size, before any frame is decoded (a small file can claim a huge picture)
        check_pixels((stream.codec_context.width or 0, stream.codec_context.height or 0), path)
        yield container, stream


def _check_file(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    if path.is_dir():
        raise InputError(f"{path} is a folder, not a video file")
    if size == 0:
        raise InputError(f"{path} is an empty file (0 bytes); copy or download it again")


def video_stream(container: InputContainer, path: Path) -> VideoStream:
    for stream in container.streams.video:
        if not stream.disposition & Disposition.attached_pic:  # cover art in music files is no video
            return stream
    raise InputError(f"{path} has no video stream (audio only?); pass a video file")


def first_frame(container: InputContainer, stream: VideoStream, path: Path) -> VideoFrame:
    with contextlib.suppress(av.FFmpegError):
        for frame in container.decode(stream):
            return frame
    raise InputError(f"{path} has no decodable video frames; the file is damaged, re-encode or re-download it")


# --- the packet timeline -----------------------------------------------------------------------


@dataclass(frozen=True)
class Timeline:
    pts: np.ndarray  # sorted presentation timestamps of the frames, int64
    complete: bool  # False when the scan stopped at damaged data

    @functools.cached_property
    def _positions(self) -> dict[int, int]:
        return {p: i for i, p in enumerate(self.pts.tolist())}

    def index_of(self, pts: int | None) -> int:
        i = self._positions.get(pts) if pts is not None else None
        if i is None:
            raise TimelineMismatch
        return i


def timeline_of(path: Path) -> Timeline | None:
    """The cached scan; None also for unreadable files, which the caller's open_video then reports
    under the name the user gave (the cache is keyed by the resolved path)."""
    try:
        stat = path.stat()
        return _scan_timeline(os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    except (OSError, InputError):
        return None


@functools.lru_cache(maxsize=4)
def _scan_timeline(real_path: str, size: int, mtime_ns: int) -> Timeline | None:
    """Presentation timestamps of every frame, from the packets alone. None if packets lack unique
    timestamps (raw streams, some AVIs); size and mtime are part of the cache key."""
    stamps: list[int] = []
    complete = True
    with open_video(Path(real_path)) as (container, stream):
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.is_discard:  # flush packets; edit-list pre-roll
                    continue
                if packet.pts is None:
                    return None
                stamps.append(packet.pts)
        except av.FFmpegError:
            complete = False
    pts = np.sort(np.asarray(stamps, dtype=np.int64))
    if np.any(np.diff(pts) == 0):
        return None
    return Timeline(pts, complete)


class TimelineMismatch(Exception):
    """A decoded frame's timestamp is not one of the packets' timestamps."""
