"""Probe videos and decode their frames as upright BGR arrays, with stable frame numbers.

Frame numbers. `Frame.index` is the frame's position in presentation order counted from the first
frame of the file. It is computed from a cheap scan of the container's packet timestamps (no
decoding: ~4 ms per MB), so a frame keeps its number however decoding started (from the top, after a
seek for `start`, or on resume with `first_index`), and `every` picks the same frames every time. For
files whose packets carry no usable timestamps, frames are numbered by counting from the first one
and never by seeking.

Rotation. Phones store portrait video sideways plus a display matrix saying how to turn it. FFmpeg's
matrix maps stored pixel (x, y) to displayed (a*x + c*y, b*x + d*y) with [a b . c d . ...] = the
matrix; PyAV reports its rotation part counter-clockwise (`VideoFrame.rotation`, -90 for a typical
portrait phone clip). `VideoInfo.rotation` is the clockwise angle that turns stored pixels upright
(90 for that clip), and frames are returned already turned (and mirrored, if the matrix says so).

Damaged files. `iter_frames` yields every frame it can decode, then raises VideoDamagedError (an
InputError) naming the last good frame; the frames already yielded are sound, and the caller decides
whether to keep them.
"""

from __future__ import annotations

import bisect
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.container import InputContainer
from av.video.frame import VideoFrame
from av.video.stream import VideoStream

from ..errors import InputError
from .container import Timeline, TimelineMismatch, first_frame, open_video, timeline_of
from .orientation import Orientation

# Above this size probe_video trusts the container's own frame count instead of scanning packets.
_COUNT_SCAN_MAX_BYTES = 256 << 20
# Seek retries, each starting further back (1 s, 2 s, 4 s, ...) before decoding from the start.
_SEEK_ATTEMPTS = 6


@dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int  # display size, after rotation
    height: int
    coded_width: int  # size of the stored (decoded) pictures, before rotation
    coded_height: int
    rotation: int  # degrees clockwise that turn stored pictures upright: 0, 90, 180 or 270
    fps: float  # average frame rate
    time_base: Fraction
    frame_count: int
    frame_count_exact: bool  # False: estimated from duration x fps, or the file is truncated
    duration: float  # seconds
    has_audio: bool
    codec: str
    start_time: float = 0.0  # seconds on the container clock where the video starts (for A/V sync)


@dataclass
class Frame:
    index: int  # position in presentation order from the first frame of the file
    time: float  # seconds from the start of the video stream
    image: np.ndarray  # upright BGR uint8, C-contiguous


class VideoDamagedError(InputError):
    """Decoding stopped at damaged or missing data; `last_index` is the last frame decoded (-1: none)."""

    def __init__(self, path: Path, last_index: int):
        self.path = path
        self.last_index = last_index
        if last_index >= 0:
            message = (f"{path} is truncated or corrupt after frame {last_index}; frames up to there are "
                       "usable, re-encode or re-download it to read the rest")
        else:
            message = f"{path} is corrupt: no frame could be decoded; re-encode or re-download it"
        super().__init__(message)


def probe_video(path: str | Path) -> VideoInfo:
    """Read a video's geometry, timing and frame count; decodes one frame to prove it can."""
    path = Path(path)
    with open_video(path) as (container, stream):
        first = first_frame(container, stream, path)
        orientation = Orientation.of(first)
        coded_w, coded_h = first.width, first.height
        width, height = (coded_h, coded_w) if orientation.transpose else (coded_w, coded_h)
        time_base = stream.time_base or Fraction(1, 1)
        fps = _fps(stream, path)
        duration = _duration(container, stream)
        count, exact = _frame_count(path, stream, duration, fps)
        return VideoInfo(
            path=path,
            width=width,
            height=height,
            coded_width=coded_w,
            coded_height=coded_h,
            rotation=(-round(first.rotation / 90) * 90) % 360,
            fps=fps,
            time_base=time_base,
            frame_count=count,
            frame_count_exact=exact,
            duration=duration if duration is not None else count / fps,
            has_audio=bool(container.streams.audio),
            codec=stream.codec_context.name,
            start_time=float(stream.start_time * time_base) if stream.start_time is not None else 0.0,
        )


def iter_frames(
    path: str | Path,
    start: float | None = None,
    end: float | None = None,
    every: int = 1,
    first_index: int = 0,
    threads: int = 0,
) -> Iterator[Frame]:
    """Yield upright frames with index >= first_index, start <= time < end and index % every == 0.

    Frames outside that selection are decoded but not converted to arrays. `start` and
    `first_index` seek to a keyframe before the first wanted frame instead of decoding from the top.
    Raises VideoDamagedError after the last good frame of a truncated or corrupt file, and
    ValueError (at once, not on first use) for an impossible selection. `threads`: decoder threads,
    0 for FFmpeg's choice; 1 costs the least CPU per frame, for callers that keep the cores busy.
    """
    return _iter_frames(Path(path), _Window.make(start, end, every, first_index), threads)


def _iter_frames(path: Path, window: _Window, threads: int = 0) -> Iterator[Frame]:
    timeline = timeline_of(path)
    progress = _Progress()
    use_seek = timeline is not None
    while True:  # at most three passes: each fallback gives up one shortcut for good
        try:
            yield from _frames(path, timeline, window, progress, use_seek, threads)
            return
        except _SeekFailed:
            use_seek = False  # the keyframe index is unusable: decode from the first frame
        except TimelineMismatch:
            timeline, use_seek = None, False  # the decoder disagrees with the packets: count frames


def read_frame_at(path: str | Path, index: int) -> np.ndarray:
    """The upright BGR image of frame `index` (as numbered by iter_frames)."""
    if index < 0:
        raise ValueError(f"frame index must be >= 0, got {index}")
    with contextlib.closing(iter_frames(path, first_index=index)) as frames:
        frame = next(frames, None)
    if frame is None or frame.index != index:
        raise InputError(f"{path} has no frame {index}; check the index against its frame count")
    return frame.image


# --- probing -----------------------------------------------------------------------------------


def _fps(stream: VideoStream, path: Path) -> float:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate:
            return float(rate)
    raise InputError(f"{path} has no frame rate; remux it first (ffmpeg -i IN -c copy OUT.mp4)")


def _duration(container: InputContainer, stream: VideoStream) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / av.time_base
    return None


def _frame_count(path: Path, stream: VideoStream, duration: float | None, fps: float) -> tuple[int, bool]:
    if path.stat().st_size <= _COUNT_SCAN_MAX_BYTES:
        timeline = timeline_of(path)  # cached: iter_frames needs the same scan
        if timeline is not None:
            return len(timeline.pts), timeline.complete
    if stream.frames > 0:
        return stream.frames, not _index_beyond_eof(path, stream)
    return round((duration or 0.0) * fps), False


def _index_beyond_eof(path: Path, stream: VideoStream) -> bool:
    """True when the container's index points past the end of the file (an interrupted copy)."""
    entries = stream.index_entries
    if not len(entries):
        return False
    last = entries[len(entries) - 1]
    return last.pos >= 0 and last.pos + last.size > path.stat().st_size


# --- decoding ----------------------------------------------------------------------------------


class _SeekFailed(Exception):
    """No keyframe at or before the wanted frame could be reached by seeking."""


class _Damaged(Exception):
    """FFmpeg failed to demux or decode; frames before it were delivered."""


@dataclass
class _Progress:
    last_yielded: int = -1  # survives a restart, so no frame is yielded twice


@dataclass(frozen=True)
class _Window:
    start: float | None
    end: float | None
    every: int
    first_index: int

    @classmethod
    def make(cls, start: float | None, end: float | None, every: int, first_index: int) -> _Window:
        if every < 1 or first_index < 0:
            raise ValueError(f"need every >= 1 and first_index >= 0, got every={every}, first_index={first_index}")
        if start is not None and end is not None and end <= start:
            raise ValueError(f"end ({end}) must be after start ({start})")
        return cls(start, end, every, first_index)

    def before_start(self, time: float) -> bool:
        return self.start is not None and time < self.start

    def past_end(self, time: float) -> bool:
        return self.end is not None and time >= self.end


@dataclass(frozen=True)
class _Clock:
    """Stream timestamps to seconds from the stream start.

    Times are the exact rational pts x time_base rounded once to float, and the window is compared
    with those same floats, so `start=frame.time` always includes that frame.
    """

    origin: int
    time_base: Fraction
    fps: float

    @classmethod
    def make(cls, stream: VideoStream, timeline: Timeline | None) -> _Clock:
        if stream.start_time is not None:
            origin = stream.start_time
        else:
            origin = int(timeline.pts[0]) if timeline is not None and len(timeline.pts) else 0
        fps = float(stream.average_rate or stream.guessed_rate or 30)
        return cls(origin, stream.time_base or Fraction(1, 1), fps)

    def seconds(self, pts: int | None, index: int) -> float:
        if pts is None:  # only in counting mode, where timestamps may be missing
            return index / self.fps
        # int / int is correctly rounded in Python: the same float as float(Fraction), 10x cheaper
        return (int(pts) - self.origin) * self.time_base.numerator / self.time_base.denominator


def _frames(
    path: Path, timeline: Timeline | None, window: _Window, progress: _Progress, use_seek: bool,
    threads: int = 0,
) -> Iterator[Frame]:
    if timeline is not None and timeline.complete and window.first_index >= len(timeline.pts):
        return  # nothing at or after first_index
    with open_video(path) as (container, stream):
        stream.thread_type = "AUTO"
        stream.thread_count = threads
        clock = _Clock.make(stream, timeline)
        target = _seek_target(timeline, clock, window) if use_seek else None
        frames = _seek_and_decode(container, stream, target) if target is not None else _decode(container, stream)
        orientation: Orientation | None = None
        count = 0
        last = -1
        try:
            for vframe in frames:
                index = timeline.index_of(vframe.pts) if timeline is not None else count
                count, last = count + 1, index
                if index <= progress.last_yielded:
                    continue
                time = clock.seconds(vframe.pts, index)
                if window.past_end(time):
                    return
                if index < window.first_index or index % window.every or window.before_start(time):
                    continue
                orientation = orientation or Orientation.of(vframe)
                yield Frame(index, time, orientation.to_bgr(vframe))
                progress.last_yielded = index
        except _Damaged:
            raise VideoDamagedError(path, max(last, progress.last_yielded)) from None
        if _index_beyond_eof(path, stream):  # cut exactly between two packets: no decoder error
            raise VideoDamagedError(path, max(last, progress.last_yielded))


def _seek_target(timeline: Timeline | None, clock: _Clock, window: _Window) -> int | None:
    """Timestamp of the first frame wanted, or None when decoding from the top costs the same."""
    if timeline is None or not len(timeline.pts):
        return None
    first = min(window.first_index, len(timeline.pts) - 1)
    if window.start is not None:
        at_start = bisect.bisect_left(timeline.pts, window.start, key=lambda pts: clock.seconds(pts, 0))
        first = max(first, min(at_start, len(timeline.pts) - 1))
    return int(timeline.pts[first]) if first > 0 else None


def _decode(container: InputContainer, stream: VideoStream) -> Iterator[VideoFrame]:
    """Frames in presentation order; on an FFmpeg error, the frames the decoder already holds
    are drained, then _Damaged is raised."""
    try:
        for packet in container.demux(stream):
            yield from stream.decode(packet)
        return
    except av.FFmpegError:
        pass
    with contextlib.suppress(av.FFmpegError):
        yield from stream.decode(None)
    raise _Damaged


def _seek_and_decode(container: InputContainer, stream: VideoStream, target: int) -> Iterator[VideoFrame]:
    """Frames from a keyframe at or before `target`.

    Seeking lands on a keyframe whose *decode* timestamp is before the target; with B-frames its
    presentation time can still be after it (seen with MPEG-TS), so that is checked and the seek
    retried further back. Pictures output before that keyframe (open-GOP leading pictures, or
    whatever a container that seeks to non-keyframes delivers) can reference frames that were never
    decoded, so they are dropped; they all come before the keyframe, hence before the target.
    """
    step = max(1, round(1 / (stream.time_base or Fraction(1, 1))))  # one second in stream ticks
    seek_to = target
    for _ in range(_SEEK_ATTEMPTS):
        try:
            container.seek(seek_to, backward=True, any_frame=False, stream=stream)
        except av.FFmpegError:
            break
        frames = _decode(container, stream)
        first = _first_keyframe_or_past(frames, target)
        if first is not None and first.key_frame and first.pts <= target:
            yield first
            yield from frames
            return
        frames.close()
        if first is None or not first.key_frame:
            break  # no keyframe before the target: this container does not seek to keyframes
        seek_to -= step  # a keyframe, but shown after the target: start further back
        step *= 2
    raise _SeekFailed


def _first_keyframe_or_past(frames: Iterator[VideoFrame], target: int) -> VideoFrame | None:
    """The first keyframe, or the first frame shown after `target` if that comes sooner (frames
    arrive in presentation order: no later keyframe can be at or before the target). None at the
    end of the stream or when frames have no timestamps."""
    for frame in frames:
        if frame.pts is None:
            return None
        if frame.key_frame or frame.pts > target:
            return frame
    return None
