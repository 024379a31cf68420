"""Writing a video made from another one: H.264 beside the source's own audio, or an image sequence.

Video. Each output frame gets the presentation timestamp of the source frame it came from, in the
source's time base, so variable frame rates, the duration and the start offset (A/V sync) are kept.
Audio packets are copied unchanged (the same bytes, the same timestamps), interleaved by time. Frames
arrive upright (as `media.video` decodes them); they are turned back to the source's stored
orientation and the source's display matrix is copied, so players turn them exactly as before.
H.264 4:2:0 needs even sizes: an odd width or height is padded by one replicated column or row.
The BGR -> YUV conversion uses the source's colour matrix and range with accurate rounding, so
pixels that convert did not touch survive the round trip (~45 dB before compression).

The conversion to YUV runs in the caller's thread; x264 and muxing run in the writer's own thread
(FFmpeg releases the GIL).
Everything is written to a temporary path that the caller renames at the end (see `atomic.py`).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from ..errors import InputError, OutputError
from .container import first_frame, open_video
from .encoding import PRESETS

# media.video's own reading of the display matrix and stream: the writer must undo exactly what the
# reader did.
from .orientation import Orientation, display_matrix
from .threads import Worker

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
# Accurate rounding, chroma filtered from full-resolution input, 2x2 area averages: the round trip
# back to BGR keeps 48.1 dB on two_people_720p (45.5 at 480p), where the bilinear filter's kept 47.9
# (45.4) at half again the time (720p: 2.0 against 3.0 ms a frame on one core).
_TO_YUV = Interpolation.AREA | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INP
_QUEUE_DEPTH = 8


def container_format(path: Path) -> str:
    fmt = CONTAINERS.get(path.suffix.lower())
    if fmt is None:
        raise OutputError(f"cannot write video to {path.name}: use a .mp4, .mov or .mkv file, "
                          "or a folder for an image sequence")
    return fmt



def write_image_file(path: Path, image: np.ndarray, suffix: str) -> None:
    """Encode `image` by `suffix` (JPEG q95, PNG fast) and write it; one-line OutputError on failure."""
    suffix = suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if suffix in (".jpg", ".jpeg") else [cv2.IMWRITE_PNG_COMPRESSION, 1]
    ok, data = cv2.imencode(suffix, image, params)
    if not ok:
        raise OutputError(f"cannot encode a {suffix} image")
    try:
        path.write_bytes(data.tobytes())
    except OSError as e:
        raise OutputError(f"cannot write {path}: {e.strerror or e}") from None

@dataclass(frozen=True)
class StoredPlanes:
    """One frame as the file will hold it, handed to `VideoWriter.write`'s per-frame hook: writable
    (height, width) uint8 views of its Y, U and V planes (4:2:0: U and V at half size), turned to the
    source's stored orientation by `stored_from_upright` (2x3: upright frame pixels -> stored pixels)."""

    y: np.ndarray
    u: np.ndarray
    v: np.ndarray
    stored_from_upright: np.ndarray


# Called once per frame, after the conversion to YUV and before encoding (e.g. to add watermarks).
FrameHook = Callable[[StoredPlanes], None]


class _SourceTiming:
    """What the writer copies from the source video: clock, orientation, colour tags, rates."""

    def __init__(self, source: Path):
        with open_video(source) as (container, stream):
            first = first_frame(container, stream, source)
            self.stream_index = stream.index
            self.time_base: Fraction = stream.time_base or Fraction(1, 90000)
            self.ticks_per_second = self.time_base.denominator / self.time_base.numerator
            self.seconds_per_tick = self.time_base.numerator / self.time_base.denominator
            self.origin = stream.start_time if stream.start_time is not None else (first.pts or 0)
            self.rate = stream.average_rate or stream.guessed_rate or Fraction(30)
            self.orientation = Orientation.of(first)
            matrix = display_matrix(first)
            self.display_matrix = [int(v) for v in matrix] if matrix is not None else None
            self.rotation = first.rotation
            self.coded = (first.width, first.height)
            cc = stream.codec_context
            self.colour = {"colorspace": first.colorspace, "color_range": first.color_range,
                           "color_primaries": cc.color_primaries, "color_trc": cc.color_trc}
            self.audio = [s.index for s in container.streams.audio]

    def pts(self, time: float) -> int:
        """Source timestamp of the frame media.video reported at `time`: that was (pts - origin) x tb
        correctly rounded, so time / tb is within ~1e-16 relative of an integer, and rounding it gives
        the timestamp back exactly (in floats: Fraction arithmetic cost ~20 us a frame)."""
        return self.origin + round(time * self.ticks_per_second)


class VideoWriter:
    """write(image_bgr_upright, time) for each frame in order, then close(); abort() on failure."""

    def __init__(self, path: Path, source: Path, *, crf: float = 18, preset: str = "veryfast",
                 metadata: dict[str, str] | None = None, container_options: dict[str, str] | None = None,
                 threads: int = 0, start: float | None = None, end: float | None = None):
        """`start` / `end` (seconds, as media.video times frames): the part of the source written.
        The file's clock then starts at the first frame written, and only the audio from that frame
        to `end` is copied, moved by as much (whole packets, their own bytes)."""
        if preset not in PRESETS:
            raise InputError(f"--preset must be one of {', '.join(PRESETS)}")
        if not 0 <= crf <= 51:
            raise InputError("--crf must be between 0 (lossless) and 51")
        self.src = _SourceTiming(source)
        self.padded = self.src.coded[0] % 2 == 1 or self.src.coded[1] % 2 == 1
        self.out = _open_output(path, metadata, container_options)
        self.video = self._add_video(crf, preset, threads)
        self._input = av.open(str(source))
        self._audio_map = {index: self.out.add_stream_from_template(self._input.streams[index])
                           for index in self.src.audio}
        self._start_encoding(path)
        self._audio_tick = {i: float(self._input.streams[i].time_base or 0) for i in self._audio_map}
        self._trim = start is not None or end is not None
        self._shift = 0  # video ticks taken off every timestamp (the first frame's, when trimming)
        self._audio_from, self._audio_to = -math.inf, math.inf  # source seconds of the audio kept
        if end is not None:
            self._audio_to = self.src.origin * self.src.seconds_per_tick + end
        self._audio = self._audio_packets() if self._audio_map else iter(())
        self._pending_audio: av.Packet | None = None
        self.frames = 0
        self.frames_queued = 0
        self.audio_packets = 0
        self._to_yuv = VideoReformatter()
        self._encoder = Worker(self._encode, "encode", depth=_QUEUE_DEPTH)

    def _add_video(self, crf: float, preset: str, threads: int) -> Any:
        """The H.264 stream: the source's clock, colour tags and display matrix, even-sized."""
        width, height = (v + v % 2 for v in self.src.coded)
        video = self.out.add_stream("libx264", rate=self.src.rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = self.src.time_base
        cc = video.codec_context
        cc.time_base = self.src.time_base
        cc.thread_count = threads
        for key, value in self.src.colour.items():
            with contextlib.suppress(AttributeError, ValueError, TypeError):
                setattr(cc, key, value)
        video.options = {"crf": str(crf), "preset": preset}
        if self.src.display_matrix is not None:
            video.set_display_matrix(self.src.display_matrix)
        elif self.src.rotation:
            video.set_display_rotation(self.src.rotation)
        return video

    def _start_encoding(self, path: Path) -> None:
        """Write the header now: a stream the container cannot hold fails here, not mid-way."""
        codecs = [s.codec_context.name for s in self._audio_map.values()]
        self._audio_hint = f"the audio ({', '.join(codecs)}) may not fit a {path.suffix} file: write a .mkv or .mov"
        try:
            if container_format(path) == "mp4" and any(c.startswith("pcm_") for c in codecs):
                raise ValueError("MP4 does not hold PCM audio")
            self.out.start_encoding()
        except (av.FFmpegError, ValueError) as e:
            self.out.close()
            self._input.close()
            raise OutputError(f"cannot write {path.name}: {e}; {self._audio_hint}") from None

    # --- producer side ---------------------------------------------------------------------
    def write(self, image: np.ndarray, time: float, hook: FrameHook | None = None) -> None:
        """Convert one upright BGR frame to the file's YUV here, in the caller's thread, and queue it
        for the encoder. (The encoding thread is the pipeline's critical path: the conversion, 0.6 ms
        at 480p, is better done by whichever thread has the time.) `hook`, when given, may change the
        converted frame's planes right after the conversion (convert adds the faces' watermarks to U
        and V there: a quarter of the pixels a BGR add-back touches). Call from one thread at a time."""
        if self._trim and self.frames_queued == 0:
            self._shift = self.src.pts(time) - self.src.origin
            self._audio_from = self.src.pts(time) * self.src.seconds_per_tick
        frame = self._to_yuv_frame(self._to_stored(image))
        if hook is not None:
            y, u, v = planes_of(frame)
            hook(StoredPlanes(y, u, v, self.src.orientation.stored_from_upright(image.shape[1], image.shape[0])))
        frame.pts = self.src.pts(time) - self._shift
        frame.time_base = self.src.time_base
        with _encoding_errors():
            self._encoder.put(frame)
        self.frames_queued += 1

    def close(self, audio_until: float | None = None) -> None:
        """Finish the file. `audio_until`: copy the source's audio only up to this time (the times
        `write` takes; a recording stopped early), else all of it (up to --end when trimming)."""
        end = None if audio_until is None else self.src.pts(audio_until) * self.src.seconds_per_tick
        with _encoding_errors():
            self._encoder.close()
            for packet in self.video.encode(None):
                self.out.mux(packet)
            self._mux_audio_until(end)
        try:
            self.out.close()
        except av.FFmpegError as e:
            raise OutputError(f"finishing the video failed: {e}" + (f"; {self._audio_hint}" if self._audio_map
                                                                     else "")) from None
        finally:
            self._input.close()

    def abort(self) -> None:
        self._encoder.abort()
        with contextlib.suppress(Exception):
            self.out.close()
        with contextlib.suppress(Exception):
            self._input.close()

    # --- encoder thread (x264 and muxing; flushing runs in `close`, after it) -------------------
    def _to_yuv_frame(self, stored: np.ndarray, reformatter: VideoReformatter | None = None) -> av.VideoFrame:
        # a view of the array, not a copy (0.12 ms at 480p, with the GIL held): reformat reads it once.
        # One reformatter for the whole video: `frame.reformat` builds a new SwsContext every frame,
        # which took half of the conversion's 1.3 ms at 480p. One thread, the caller's: swscale's
        # slice threads only add hand-offs (Orientation.to_bgr).
        frame = av.VideoFrame.from_numpy_buffer(stored, format="bgr24")
        return (reformatter or self._to_yuv).reformat(frame, format="yuv420p", interpolation=_TO_YUV,
                                                      dst_colorspace=self.src.colour["colorspace"] or None,
                                                      dst_color_range=self.src.colour["color_range"] or None,
                                                      threads=1)

    def yuv_conversion(self) -> Callable[[np.ndarray], av.VideoFrame]:
        """This writer's BGR -> YUV conversion (same matrix, range and filter) on a reformatter of its
        own, to probe what the conversion does to pixels (the video's own reformatter keeps its size)."""
        probe = VideoReformatter()
        return lambda bgr: self._to_yuv_frame(bgr, probe)

    def _encode(self, frame: av.VideoFrame) -> None:
        self._mux_audio_until((frame.pts + self._shift) * self.src.seconds_per_tick)
        for packet in self.video.encode(frame):
            self.out.mux(packet)
        self.frames += 1

    def _to_stored(self, image: np.ndarray) -> np.ndarray:
        """Undo media.video's turn and pad to even."""
        image = self.src.orientation.to_stored(image)
        if self.padded:
            h, w = image.shape[:2]
            image = cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(image)

    def _audio_packets(self) -> Iterator[av.Packet]:
        for packet in self._input.demux([self._input.streams[i] for i in self._audio_map]):
            if packet.size == 0 or packet.dts is None:  # flush packets carry no data
                continue
            yield packet

    def _mux_audio_until(self, limit: float | None) -> None:
        """Copy audio packets up to the video time `limit` in seconds (None: all that is left). Times
        are compared as floats: this only decides the interleaving, never a timestamp."""
        while True:
            packet = self._pending_audio or next(self._audio, None)
            self._pending_audio = None
            if packet is None:
                return
            tick = self._audio_tick[packet.stream_index]
            when = (packet.pts if packet.pts is not None else packet.dts) * tick
            if limit is not None and when > limit:
                self._pending_audio = packet
                return
            if not self._audio_from <= when < self._audio_to:
                continue  # outside --start / --end
            if self._shift:
                moved = round(self._shift * self.src.seconds_per_tick / tick)
                packet.dts -= moved
                if packet.pts is not None:
                    packet.pts -= moved
            packet.stream = self._audio_map[packet.stream_index]
            self.out.mux(packet)
            self.audio_packets += 1


def _open_output(path: Path, metadata: dict[str, str] | None, container_options: dict[str, str] | None) -> Any:
    options = dict(container_options or {})
    if container_format(path) in ("mp4", "mov"):  # index first: players start before the download ends
        flags = [f for f in options.get("movflags", "").replace("+", " ").split() if f]
        options["movflags"] = "+".join(["faststart", *(f for f in flags if f != "faststart")])
    try:
        out = av.open(str(path), "w", format=container_format(path), options=options)
    except (av.FFmpegError, OSError) as e:
        raise OutputError(f"cannot write {path}: {e}") from None
    out.metadata.update(metadata or {})
    return out


@contextlib.contextmanager
def _encoding_errors() -> Iterator[None]:
    """FFmpeg's errors from the encoder (raised again in the caller's thread) as one line."""
    try:
        yield
    except av.FFmpegError as e:
        raise OutputError(f"encoding failed: {e}") from None


def planes_of(frame: av.VideoFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Writable (height, width) uint8 views of a yuv420p frame's Y, U and V planes."""
    views = []
    for plane in frame.planes:
        rows = np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)
        views.append(rows[:plane.height, :plane.width])
    y, u, v = views
    return y, u, v


class ImageSequenceWriter:
    """Frames as numbered PNG (or JPEG) files in a folder, named after the source."""

    def __init__(self, folder: Path, stem: str, suffix: str = ".png"):
        self.folder, self.stem, self.suffix = folder, stem, suffix
        self.frames = 0
        self.padded = False

    def write_named(self, image: np.ndarray, name: str) -> None:
        path = self.folder / name
        write_image_file(path, image, path.suffix)
        self.frames += 1

    def write(self, image: np.ndarray, time: float, index: int) -> None:
        self.write_named(image, f"{self.stem}_{index:06d}{self.suffix}")

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


def writer_summary(writer: Any) -> dict[str, Any]:
    return {"frames_written": writer.frames, "audio_packets_copied": getattr(writer, "audio_packets", 0),
            "padded_to_even_size": writer.padded}
