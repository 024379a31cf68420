"""What upload platforms and editors do to a video, as reproducible transformations: the channel the
watermark must survive (tests/test_provenance_attacks.py, benchmarks/watermark_attacks.py).

Each `Attack` turns decoded frames (BGR) into a new file made by independent code paths (OpenCV
resampling, PyAV/FFmpeg encoders, OpenCV's JPEG), never by facesmith's writer: re-encode (H.264 /
H.265 at a CRF), rescale, crop each edge, brightness/contrast, JPEG on every frame, a frame-rate change
(frames dropped by timestamp, as FFmpeg's fps filter does), mirroring, and chains of these (one of them
scaled by FFmpeg's own scaler). Geometric and photometric attacks are followed by an H.264 re-encode at
CRF 23 (a platform always re-encodes).

These are the transformations of the published robustness benchmarks for video watermarks (Video
Seal's: H.264/H.265 at CRF 28-40, crop, resize, brightness, contrast, JPEG, flips); they measure how
well the mark holds, they do not target it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

BASE_CRF = 23  # the re-encode after a geometric or photometric attack


@dataclass(frozen=True)
class Attack:
    name: str
    codec: str = "libx264"
    crf: int = BASE_CRF
    scale: float = 1.0  # of each side
    scaler: str = "area"  # OpenCV's area filter, or an FFmpeg (swscale) filter on the 4:2:0 planes: "bicubic"
    crop: float = 0.0  # fraction cut from each edge
    brightness: float = 0.0  # added, as a fraction of full scale
    contrast: float = 1.0  # about mid-grey
    jpeg: int | None = None  # JPEG quality of each frame (written as images instead of a video)
    rate: float = 1.0  # new frame rate / old (30 -> 25 fps: 5/6)
    mirror: bool = False

    def frame(self, image: np.ndarray) -> np.ndarray:
        """One frame transformed (before encoding)."""
        out = image
        if self.crop:
            h, w = out.shape[:2]
            dy, dx = round(h * self.crop), round(w * self.crop)
            out = out[dy:h - dy, dx:w - dx]
        if self.scale != 1.0:
            h, w = out.shape[:2]
            size = (max(2, round(w * self.scale)), max(2, round(h * self.scale)))
            out = cv2.resize(out, size, interpolation=cv2.INTER_AREA) if self.scaler == "area" else \
                _swscaled(out, size, self.scaler)
        if self.brightness or self.contrast != 1.0:
            # saturated at 0 and 255 as an editor's levels are (addWeighted rounds and saturates);
            # convertScaleAbs, used before, takes |value| and so reflected every value pushed below 0
            # (56% of two_people's pixels at -10%, destroying their chroma as no platform does)
            out = cv2.addWeighted(out, self.contrast, out, 0.0,
                                  128.0 * (1.0 - self.contrast) + 255.0 * self.brightness)
        if self.mirror:
            out = cv2.flip(out, 1)
        return np.ascontiguousarray(out)

    def apply(self, frames: list[np.ndarray], fps: float, folder: Path) -> Path:
        """The attacked media, written under `folder`: an MP4, or for a JPEG attack a folder of
        JPEG frames (a "video" whose every frame was saved as a still)."""
        frames = [self.frame(f) for f in _retimed(frames, self.rate)]
        stem = "".join(c if c.isalnum() else "_" for c in self.name)
        if self.jpeg is not None:
            out = folder / stem
            out.mkdir(parents=True, exist_ok=True)
            for n, f in enumerate(frames):
                cv2.imwrite(str(out / f"{n:05d}.jpg"), f, [cv2.IMWRITE_JPEG_QUALITY, self.jpeg])
            return out
        return encode(frames, folder / f"{stem}.mp4", fps * self.rate, self.crf, self.codec)


def _swscaled(image: np.ndarray, size: tuple[int, int], interpolation: str) -> np.ndarray:
    """`image` resized as FFmpeg's scale filter resizes a decoded video: its 4:2:0 planes, by swscale."""
    import av

    planes = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24").reformat(format="yuv420p")
    return planes.reformat(width=size[0], height=size[1], interpolation=interpolation.upper()).to_ndarray(
        format="bgr24")


def _retimed(frames: list[np.ndarray], rate: float) -> list[np.ndarray]:
    """The frames a player shows at `rate` times the frame rate: for each new frame time, the source
    frame on screen then."""
    if rate == 1.0:
        return frames
    return [frames[min(len(frames) - 1, int(n / rate + 1e-9))] for n in range(int(len(frames) * rate))]


def encode(frames: list[np.ndarray], path: Path, fps: float, crf: int, codec: str = "libx264") -> Path:
    """Frames (BGR) encoded as yuv420p at `crf` with `codec` (libx264, libx265), preset veryfast."""
    import av

    h, w = (d // 2 * 2 for d in frames[0].shape[:2])
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        if codec == "libx265":
            stream.options["x265-params"] = "log-level=error"
        for f in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f[:h, :w]), format="bgr24")))
        out.mux(stream.encode())
    return path


ATTACKS: tuple[Attack, ...] = (
    Attack("none (CRF 18)", crf=18),
    Attack("H.264 CRF 23", crf=23),
    Attack("H.264 CRF 28", crf=28),
    Attack("H.264 CRF 35", crf=35),
    Attack("H.265 CRF 28", codec="libx265", crf=28),
    Attack("half size", scale=0.5),
    Attack("quarter size", scale=0.25),
    Attack("crop 10%/edge", crop=0.1),
    Attack("brightness +10%", brightness=0.1),
    Attack("brightness -10%", brightness=-0.1),
    Attack("contrast +10%", contrast=1.1),
    Attack("contrast -10%", contrast=0.9),
    Attack("JPEG q50 frames", jpeg=50),
    Attack("30->25 fps", rate=25 / 30),
    Attack("mirrored", mirror=True),
    Attack("CRF28+half+crop10", crf=28, scale=0.5, crop=0.1),
    # the same chain with FFmpeg's default scaler (bicubic, on the 4:2:0 planes), as a platform's
    # transcoder runs it, instead of OpenCV's kinder area filter on BGR
    Attack("CRF28+half+crop10 FFmpeg", crf=28, scale=0.5, crop=0.1, scaler="bicubic"),
)


def by_name(name: str) -> Attack:
    return next(a for a in ATTACKS if a.name == name)
