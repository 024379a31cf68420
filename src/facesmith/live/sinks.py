"""Where live frames go, several at once: a recorded file, a network stream, a virtual camera, the
browser preview (`preview.py`).

`--output` forms: `out.mp4` (.mp4/.mov/.mkv: H.264; from a file source through convert's writer, which
keeps the source's timestamps and copies its audio), `udp://HOST:PORT` or `tcp://HOST:PORT` (MPEG-TS),
`rtmp://...` (FLV), `vcam` or `vcam:/dev/videoN` (pyvirtualcam), `preview` or `preview:PORT` (MJPEG
over HTTP on 127.0.0.1, with the control endpoint).

Every frame arrives with its faces already swapped and watermarked. A recording is written under a
temporary name, closed, given the provenance tags and C2PA manifest, then renamed: a Ctrl-C leaves a
complete, playable file. A network output that fails (the receiver went away) is reported and
dropped; the other outputs go on.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from .. import progress
from ..atomic import make_temp, remove_stale_parts
from ..errors import InputError, OutputError
from .sources import LiveFrame, SourceSpec

FILE_SUFFIXES = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska"}
STREAM_FORMATS = {"udp": "mpegts", "tcp": "mpegts", "srt": "mpegts", "rtmp": "flv", "rtmps": "flv"}


@dataclass(frozen=True)
class OutputSpec:
    kind: str  # file | stream | vcam | preview
    target: str  # path, URL, device ("" for any) or port


def parse_output(text: str, overwrite: bool) -> OutputSpec:
    if text == "vcam" or text.startswith("vcam:"):
        return OutputSpec("vcam", text.partition(":")[2])
    if text == "preview" or text.startswith("preview:"):
        port = text.partition(":")[2] or "8080"
        if not port.isdigit() or not 0 <= int(port) < 65536:
            raise InputError(f"--output {text}: the preview port must be a number (preview:8080)")
        return OutputSpec("preview", port)
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in STREAM_FORMATS:
            raise InputError(f"--output {text}: streams go out as udp://, tcp://, srt:// (MPEG-TS) or rtmp:// (FLV)")
        return OutputSpec("stream", text)
    path = Path(os.path.abspath(os.path.expanduser(text)))
    if path.suffix.lower() not in FILE_SUFFIXES:
        raise InputError(f"--output {text}: record to a .mp4, .mov or .mkv file, or give vcam, preview[:PORT] "
                         "or a udp://, tcp://, rtmp:// URL")
    if not path.parent.is_dir():
        raise OutputError(f"the folder {path.parent} does not exist; create it first")
    if path.exists() and (path.is_dir() or not overwrite):
        raise OutputError(f"{path} already exists; pass --overwrite to replace it")
    return OutputSpec("file", str(path))


# --- encoding --------------------------------------------------------------------------------------


class Encoder:
    """H.264 into any FFmpeg output (file or URL) with timestamps from the frames' source times, on
    its own thread behind a short queue. `lossy=True` (streams): a full queue drops the frame (counted)
    instead of waiting."""

    def __init__(self, target: str, fmt: str, width: int, height: int, rate: float, *, lossy: bool,
                 crf: float = 23, preset: str = "veryfast", metadata: dict[str, str] | None = None,
                 container_options: dict[str, str] | None = None):
        import av

        self.target, self.lossy = target, lossy
        self.size = (width + width % 2, height + height % 2)
        try:
            self.out = av.open(target, "w", format=fmt, options=dict(container_options or {}), timeout=10)
        except (av.FFmpegError, OSError) as e:
            raise OutputError(f"cannot open the output {target}: {getattr(e, 'strerror', None) or e}") from None
        self.out.metadata.update(metadata or {})
        self.stream = self.out.add_stream("libx264", rate=Fraction(rate).limit_denominator(1001))
        self.stream.width, self.stream.height, self.stream.pix_fmt = *self.size, "yuv420p"
        self.stream.codec_context.time_base = Fraction(1, 90000)
        self.stream.codec_context.thread_count = 1
        gop = str(max(1, round(rate)))  # a keyframe a second: a receiver that joins late starts soon
        self.stream.options = {"crf": str(crf), "preset": preset, "tune": "zerolatency", "g": gop, "bf": "0"}
        try:  # connects (a stream) and writes the header now: a receiver that is not there fails here
            self.out.start_encoding()
        except (av.FFmpegError, OSError) as e:
            with contextlib.suppress(Exception):
                self.out.close()
            raise OutputError(f"cannot open the output {target}: {getattr(e, 'strerror', None) or e}") from None
        self.frames = self.dropped = 0
        self._last_pts = -1
        self._queue: queue.Queue[LiveFrame | None] = queue.Queue(2)
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="facesmith-live-encode")
        self._thread.start()

    def send(self, frame: LiveFrame) -> None:
        if self.error is not None:
            raise OutputError(f"writing {self.target} failed: {self.error}")
        if self.lossy:
            try:
                self._queue.put_nowait(frame)
            except queue.Full:
                self.dropped += 1
        else:
            self._queue.put(frame)

    def _run(self) -> None:
        import av
        import cv2

        try:
            while (item := self._queue.get()) is not None:
                image = item.image
                if image.shape[1] != self.size[0] or image.shape[0] != self.size[1]:
                    h, w = image.shape[:2]
                    image = cv2.copyMakeBorder(image, 0, self.size[1] - h, 0, self.size[0] - w, cv2.BORDER_REPLICATE)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
                frame = frame.reformat(format="yuv420p")
                pts = max(round(item.time * 90000), self._last_pts + 1)  # strictly increasing
                frame.pts, frame.time_base, self._last_pts = pts, Fraction(1, 90000), pts
                for packet in self.stream.encode(frame):
                    self.out.mux(packet)
                self.frames += 1
            for packet in self.stream.encode(None):
                self.out.mux(packet)
        except BaseException as e:  # the sender sees it on its next send or at close
            self.error = e
            with contextlib.suppress(queue.Empty):
                while True:
                    self._queue.get_nowait()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(15)
        try:
            self.out.close()
        except Exception as e:
            self.error = self.error or e
        if self.error is not None:
            raise OutputError(f"finishing {self.target} failed: {self.error}")


# --- the outputs -----------------------------------------------------------------------------------


class FileSink:
    """A recording: staged beside its final name, finalized (tags, C2PA) and renamed on close."""

    def __init__(self, spec: OutputSpec, source: SourceSpec, width: int, height: int, rate: float, *,
                 fingerprint: str, crf: float, preset: str, training_data: dict[str, Any] | None = None):
        from .. import provenance

        self.path = Path(spec.target)
        self.name = self.path.name
        self.fingerprint = fingerprint
        self.source = source
        self.training_data = training_data
        remove_stale_parts(self.path)  # a killed session's staging file
        self.staging = make_temp(self.path, ".part" + self.path.suffix)  # the mode open() would give
        self.dropped = 0
        self.rate = rate
        self.last_time: float | None = None
        metadata, options = provenance.container_metadata(fingerprint), provenance.container_options()
        try:
            if source.kind == "file":  # the source's own clock, orientation and audio (convert's writer)
                from ..media.writer import VideoWriter

                self.writer: Any = VideoWriter(self.staging, Path(source.target), crf=crf, preset=preset,
                                               metadata=metadata, container_options=options, threads=1)
            else:
                options = {**options, "movflags": "faststart+use_metadata_tags"}
                self.writer = Encoder(str(self.staging), FILE_SUFFIXES[self.path.suffix.lower()], width, height,
                                      rate, lossy=False, crf=crf, preset=preset, metadata=metadata,
                                      container_options=options)
        except BaseException:
            self.staging.unlink(missing_ok=True)
            raise

    @property
    def frames(self) -> int:
        return self.writer.frames

    def send(self, frame: LiveFrame) -> None:
        if isinstance(self.writer, Encoder):
            self.writer.send(frame)
        else:
            self.writer.write(frame.image, frame.time)
        self.last_time = frame.time

    def close(self, complete: bool = True) -> dict[str, Any]:
        """`complete=False`: the run stopped before the source's end; a file source's audio is copied
        only as far as the video goes."""
        from .. import provenance

        try:
            if isinstance(self.writer, Encoder) or complete or self.last_time is None:
                self.writer.close()
            else:
                self.writer.close(audio_until=self.last_time + 1 / self.rate)
            if not self.writer.frames:
                raise OutputError(f"no frame reached {self.path.name}; nothing was written")
            provenance.finalize_file(self.staging, self.fingerprint, title=self.path.name, record=self._record())
            os.replace(self.staging, self.path)
        finally:
            self.staging.unlink(missing_ok=True)
        return {"output": str(self.path), "frames": self.writer.frames,
                "audio_packets": getattr(self.writer, "audio_packets", 0)}

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            (self.writer.abort if hasattr(self.writer, "abort") else self.writer.close)()
        self.staging.unlink(missing_ok=True)

    def _record(self) -> dict[str, Any]:
        """The manifest's record: the model's training data and, for a file source, that file as the
        ingredient (a camera or a stream has no file to name)."""
        from .. import provenance
        from ..media.inputs import file_sha256

        source = Path(self.source.target)
        ingredients = [(source.name, file_sha256(source))] if self.source.kind == "file" else []
        return provenance.output_record({"training_data": self.training_data}, ingredients)


class StreamSink:
    def __init__(self, spec: OutputSpec, width: int, height: int, rate: float, *, fingerprint: str):
        from .. import provenance

        self.name = spec.target
        fmt = STREAM_FORMATS[spec.target.split("://", 1)[0].lower()]
        self.encoder = Encoder(spec.target, fmt, width, height, rate, lossy=True, crf=23, preset="ultrafast",
                               metadata=provenance.container_metadata(fingerprint))

    @property
    def dropped(self) -> int:
        return self.encoder.dropped

    def send(self, frame: LiveFrame) -> None:
        self.encoder.send(frame)

    def close(self) -> dict[str, Any]:
        self.encoder.close()
        return {"output": self.name, "frames": self.encoder.frames, "dropped": self.encoder.dropped}

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.encoder.close()


class VirtualCameraSink:
    """pyvirtualcam: v4l2loopback on Linux, the OBS virtual camera on macOS and Windows. `backend`
    picks one of pyvirtualcam's registered backends (None: the first that works)."""

    def __init__(self, spec: OutputSpec, width: int, height: int, rate: float, backend: str | None = None):
        import pyvirtualcam

        try:
            self.camera = pyvirtualcam.Camera(width, height, rate, fmt=pyvirtualcam.PixelFormat.BGR,
                                              device=spec.target or None, backend=backend)
        except (RuntimeError, KeyError, ValueError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise OutputError(f"no virtual camera: {first} (Linux: `modprobe v4l2loopback`; macOS/Windows: "
                              "install OBS and start its virtual camera once)") from None
        self.name = f"vcam {self.camera.device}"
        self.dropped = 0

    @property
    def frames(self) -> int:
        return self.camera.frames_sent

    def send(self, frame: LiveFrame) -> None:
        self.camera.send(frame.image)

    def close(self) -> dict[str, Any]:
        frames, backend = self.camera.frames_sent, self.camera.backend
        self.camera.close()
        return {"output": self.name, "frames": frames, "backend": backend}

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self.camera.close()


def report_failure(sink: Any, error: BaseException) -> None:
    progress.warn(f"output {sink.name} failed ({error}); the other outputs go on")
