"""Where live frames come from: a camera, a video file (at its own real-time pace or as fast as
possible) or a network stream PyAV can open; read on a capture thread into a `LatestSlot`.

Timing. Every frame carries `time` (seconds on the source's own clock: a file's timestamps, a stream's
or camera's counted from its first frame, kept increasing across reconnects) and `captured` (the
monotonic clock when the frame became available; for a paced file, when it fell due). Latency is
measured from `captured`.

Faults. Opening and reading go through PyAV's timeouts (`timeout=(open, read)`), so a camera that
vanishes or a stream that stalls raises instead of blocking for ever. With `reconnect=N` the source is
opened again up to N times in a row, waiting 0.5 s, 1 s, 2 s ... (at most 8 s) in between.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import progress
from ..errors import InputError
from .mailbox import LatestSlot

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "udp", "tcp", "http", "https", "srt", "rtp")
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 8.0


class SourceLost(InputError):
    """The source delivered frames, then failed, stalled or vanished (and reconnecting did not help)."""

    exit_code = 4


@dataclass
class LiveFrame:
    index: int  # position in capture order, from 0 (dropped frames counted too)
    time: float  # seconds on the source's clock (see the module docstring)
    captured: float  # time.monotonic() when the frame was available
    image: np.ndarray  # upright BGR uint8


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # camera | file | stream
    target: str  # device path, camera index, file path or URL
    realtime: bool = True  # files: play at the file's own pace
    size: tuple[int, int] | None = None  # cameras: requested capture size
    fps: float | None = None  # cameras: requested frame rate
    open_timeout: float = 10.0
    stall_timeout: float = 5.0  # seconds without a frame that count as a stall

    @property
    def label(self) -> str:
        return Path(self.target).name if self.kind == "file" else self.target


def parse_source(text: str, *, realtime: bool | None, size: tuple[int, int] | None, fps: float | None,
                 open_timeout: float, stall_timeout: float) -> SourceSpec:
    """Camera (`/dev/videoN` or an index), URL (a stream) or file; refuses what cannot work, up front."""
    if text.isdigit() or text.startswith("/dev/video"):
        kind = "camera"
    elif "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in STREAM_SCHEMES:
            raise InputError(f"--input {text}: unknown stream type {scheme}:// (use one of "
                             f"{', '.join(STREAM_SCHEMES)})")
        kind = "stream"
    else:
        kind = "file"
        from ..media.video import probe_video

        probe_video(text)  # missing, empty, damaged, not a video: one clear line now
    if kind != "camera" and (size or fps):
        raise InputError("--size and --fps are requests to a camera; a file or stream keeps its own")
    if realtime is False and kind != "file":
        raise InputError("--no-realtime plays a file as fast as possible; a camera or stream runs at its own pace")
    if open_timeout <= 0 or stall_timeout <= 0:
        raise InputError("--open-timeout and --stall-timeout must be more than 0 seconds")
    return SourceSpec(kind, text, realtime is not False, size, fps, open_timeout, stall_timeout)


def _camera_open_args(spec: SourceSpec) -> tuple[str, str, dict[str, str]]:
    """(what, format, options) for av.open: V4L2 on Linux, AVFoundation on macOS, DirectShow on Windows."""
    options = {}
    if spec.size:
        options["video_size"] = f"{spec.size[0]}x{spec.size[1]}"
    if spec.fps:
        options["framerate"] = f"{spec.fps:g}"
    if sys.platform == "darwin":
        return spec.target.removeprefix("/dev/video"), "avfoundation", options
    if sys.platform == "win32":
        return f"video={spec.target}", "dshow", options
    device = f"/dev/video{spec.target}" if spec.target.isdigit() else spec.target
    return device, "v4l2", options


def open_container(spec: SourceSpec) -> Any:
    """The opened PyAV input for a camera or stream; InputError with one line on failure."""
    import av

    if spec.kind == "camera":
        what, fmt, options = _camera_open_args(spec)
        if fmt == "v4l2" and not Path(what).exists():
            raise InputError(f"no camera at {what} (is it plugged in? `ls /dev/video*` lists the cameras)")
    else:
        # one second of probing, not five: the stream is shown soon after it starts. (Not
        # fflags=nobuffer: it throws the probed packets away, the first keyframe with them.)
        what, fmt, options = spec.target, None, {"analyzeduration": "1000000"}
    try:
        return av.open(what, format=fmt, options=options, timeout=(spec.open_timeout, spec.stall_timeout))
    except (av.FFmpegError, OSError) as e:
        raise InputError(f"cannot open {spec.label}: {_reason(e, spec.open_timeout)}") from None


def _reason(error: BaseException, waited: float) -> str:
    """In words; PyAV's timeouts surface as FFmpeg's 'Immediate exit requested'."""
    text = getattr(error, "strerror", None) or str(error)
    if "Immediate exit" in text or isinstance(error, TimeoutError):
        return f"nothing came for {waited:g} s (timed out)"
    return text


def _container_frames(spec: SourceSpec, container: Any) -> Iterator[tuple[float, np.ndarray]]:
    """(seconds from this connection's first frame, upright BGR) as the camera or stream delivers them."""
    import av

    from ..media.orientation import Orientation

    if not container.streams.video:
        raise InputError(f"{spec.label} has no video stream")
    stream = container.streams.video[0]
    stream.thread_type = "SLICE"  # frame threads would hold frames back, a few frames of latency
    orientation = None
    first = None
    started = time.monotonic()
    try:
        for frame in container.decode(stream):
            orientation = orientation or Orientation.of(frame)
            if frame.pts is not None and frame.time_base is not None:
                t = float(frame.pts * frame.time_base)
                first = t if first is None else first
                seconds = t - first
            else:
                seconds = time.monotonic() - started
            yield seconds, orientation.to_bgr(frame)
    except (av.FFmpegError, OSError) as e:
        raise SourceLost(f"{spec.label} stopped: {_reason(e, spec.stall_timeout)}") from None


def _file_frames(spec: SourceSpec) -> Iterator[tuple[float, np.ndarray]]:
    from ..media.video import iter_frames

    for frame in iter_frames(spec.target, threads=1):
        yield frame.time, frame.image


class Capture:
    """Reads `spec` on its own thread into `slot` until the source ends, fails or `stop` is set.

    After the thread ends, `error` holds the failure (None: the source ended or was stopped) and
    `ended` says why it stopped, in words. A file is paced at its own timestamps when `realtime`;
    unpaced, the thread waits for the slot to be taken (no frame is dropped).
    """

    def __init__(self, spec: SourceSpec, slot: LatestSlot, stop: threading.Event, reconnect: int = 0):
        self.spec, self.slot, self.stop, self.reconnect = spec, slot, stop, reconnect
        self.error: BaseException | None = None
        self.ended = ""
        self.frames = 0
        self.reconnects = 0
        self.reconnecting = False  # waiting to open the source again (no frame is expected meanwhile)
        self.rate = float(spec.fps or 30.0)  # frames a second, as the source says once it is open
        self.last_frame_at = time.monotonic()
        self._base = 0.0  # added to this connection's times (keeps time increasing across reconnects)
        self._last_time = -1.0
        self.thread = threading.Thread(target=self._run, daemon=True, name="facesmith-capture")

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        failures = 0
        try:
            while not self.stop.is_set():
                before = self.frames
                try:
                    self._read_once()
                    if self.spec.kind == "file" or self.stop.is_set() or not self.reconnect:
                        self.ended = "stopped" if self.stop.is_set() else "source ended"
                        return
                    fault: InputError = SourceLost(f"{self.spec.label} ended")
                except InputError as e:
                    fault = e
                failures = 1 if self.frames > before else failures + 1
                if self.spec.kind == "file" or failures > self.reconnect:
                    self.error = fault if self.frames == 0 or isinstance(fault, SourceLost) else SourceLost(str(fault))
                    self.ended = "source lost"
                    return
                wait = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** max(0, failures - 1))
                progress.warn(f"{fault}; reconnecting in {wait:g} s (attempt {failures} of {self.reconnect})")
                self.reconnects += 1
                self.reconnecting = True
                if self.stop.wait(wait):
                    self.ended = "stopped"
                    return
        except BaseException as e:  # anything unexpected reaches the session, which reports it
            self.error = e
            self.ended = "capture failed"
        finally:
            self.slot.close()

    def _read_once(self) -> None:
        if self.spec.kind == "file":
            from ..media.video import probe_video

            self.rate = probe_video(self.spec.target).fps
            self.reconnecting = False
            self._publish_all(_file_frames(self.spec), paced=self.spec.realtime)
            return
        try:
            container = open_container(self.spec)
        finally:
            self.reconnecting = False
        stream = container.streams.video[0] if container.streams.video else None
        rate = (stream.average_rate or stream.guessed_rate) if stream is not None else None
        self.rate = float(rate) if rate else self.rate
        try:
            self._publish_all(_container_frames(self.spec, container), paced=False)
        finally:
            with contextlib.suppress(Exception):
                container.close()

    def _publish_all(self, frames: Iterator[tuple[float, np.ndarray]], paced: bool) -> None:
        start_wall = first = None
        base = self._base if self.frames == 0 else self._last_time + max(0.0, time.monotonic() - self.last_frame_at)
        with contextlib.closing(frames):
            for seconds, image in frames:
                if self.stop.is_set():
                    return
                if paced:
                    start_wall = time.monotonic() if start_wall is None else start_wall
                    first = seconds if first is None else first
                    if self.stop.wait(max(0.0, start_wall + (seconds - first) - time.monotonic())):
                        return
                t = seconds if self.spec.kind == "file" else base + seconds
                t = max(t, self._last_time + 1e-6) if self.spec.kind != "file" else t
                now = time.monotonic()
                frame = LiveFrame(self.frames, t, now, image)
                self.frames += 1
                self._last_time, self.last_frame_at = t, now
                if not self.slot.put(frame, block=not paced and self.spec.kind == "file", stop=self.stop):
                    return
