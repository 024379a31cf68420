"""Test inputs made on the fly from the real shared media: every image mode, rotated videos, bad files.

Everything is written under the caller's temporary folder (never into the repository) and built with
independent tools (Pillow, OpenCV, PyAV encoders), so the readers under test are checked against
files they did not write. The whole set takes a couple of seconds.
"""

from __future__ import annotations

import functools
import io
import struct
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image, ImageChops

from .conftest import IMAGES, VIDEOS

# A large, frontal, well-lit face (about 40% of the picture's width).
SOURCE_PHOTO = IMAGES / "identities" / "img1.jpg"
SOURCE_VIDEO = VIDEOS / "identity_a.mp4"
# The variants are made from the photo scaled to this long side: big enough for any face detector,
# small enough that writing a dozen files stays fast.
WORKING_LONG_SIDE = 960
# (x0, y0, x1, y1) in the working photo: an odd-sized crop around the face.
ODD_CROP = (200, 0, 533, 517)
# Rotated test clips: the first frames of SOURCE_VIDEO cropped to a portrait (non-square) shape,
# so a reader that forgets the rotation gets the wrong frame size as well as the wrong picture.
ROTATED_FRAMES = 30
ROTATED_CROP = (64, 16, 416, 464)  # x0, y0, x1, y1: 352 x 448, both even for yuv420p
_ORIENTATION_TAG = 0x0112
# PIL transposes that undo each EXIF orientation (all self-inverse except 6 <-> 8).
_PIL_STORE_FOR_ORIENTATION: dict[int, Image.Transpose | None] = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,  # stored turned 90° counter-clockwise; orientation 6 turns it back
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@functools.lru_cache(maxsize=1)
def reference_rgb() -> np.ndarray:
    """The upright working photo (RGB uint8) that every image variant is made from, decoded by Pillow."""
    with Image.open(SOURCE_PHOTO) as image:
        image = image.convert("RGB")
        image.thumbnail((WORKING_LONG_SIDE, WORKING_LONG_SIDE), Image.Resampling.LANCZOS)
        rgb = np.asarray(image).copy()
    rgb.flags.writeable = False
    return rgb


def make_image_variants(tmp_dir: Path) -> dict[str, Path]:
    """One file per image mode a reader must handle, each showing the reference face upright."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    rgb = reference_rgb()
    image = Image.fromarray(rgb)
    out: dict[str, Path] = {}

    def save(name: str, picture: Image.Image, suffix: str, **params: object) -> None:
        out[name] = tmp_dir / f"{name}{suffix}"
        picture.save(out[name], **params)

    save("grayscale", image.convert("L"), ".png", compress_level=1)
    save("palette", image.quantize(256), ".png", compress_level=1)
    alpha = Image.linear_gradient("L").resize(image.size)  # varies across the picture, never composited
    save("rgba", Image.merge("RGBA", (*image.split(), alpha)), ".png", compress_level=1)
    save("la", Image.merge("LA", (image.convert("L"), alpha)), ".png", compress_level=1)
    out["png16"] = _write_png16(tmp_dir / "png16.png", rgb[:, :, ::-1])
    out["gray16"] = _write_png16(tmp_dir / "gray16.png", np.asarray(image.convert("L")))
    save("cmyk_jpeg", image.convert("CMYK"), ".jpg", quality=95)  # Adobe-marked, inverted, as Photoshop
    out["cmyk_jpeg_plain"] = _write_plain_cmyk_jpeg(tmp_dir / "cmyk_jpeg_plain.jpg", image)
    out["exif_rotated"] = _write_oriented_jpeg(tmp_dir / "exif_rotated.jpg", image, 6)
    x0, y0, x1, y1 = ODD_CROP
    save("odd_size", image.crop((x0, y0, x1, y1)), ".jpg", quality=95)
    scale = 8000 / max(rgb.shape[:2])
    large = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    save("very_large", Image.fromarray(large), ".jpg", quality=85)
    save("webp", image, ".webp", quality=90)
    save("bmp", image, ".bmp")
    save("tiff", image, ".tif", compression="tiff_lzw")
    unicode_dir = tmp_dir / "folder with spaces ünïcödé"
    unicode_dir.mkdir(exist_ok=True)
    out["unicode_path"] = unicode_dir / "phötö 01 ✓.jpg"
    image.save(out["unicode_path"], quality=95)
    return out


def make_exif_orientation_variants(tmp_dir: Path) -> dict[str, Path]:
    """JPEGs for all 8 EXIF orientations ("jpeg_1".."jpeg_8") plus orientation 6 in PNG, WebP and TIFF
    ("png_6", "webp_6", "tiff_6"): the stored pixels are transformed so that each shows the reference
    photo (at a quarter of the working size) upright once the tag is honoured."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    upright = Image.fromarray(exif_reference_rgb())
    out: dict[str, Path] = {}
    for orientation in range(1, 9):
        out[f"jpeg_{orientation}"] = _write_oriented_jpeg(tmp_dir / f"o{orientation}.jpg", upright, orientation)
    for fmt, suffix in (("PNG", ".png"), ("WEBP", ".webp"), ("TIFF", ".tif")):
        path = tmp_dir / f"o6{suffix}"
        _stored(upright, 6).save(path, fmt, exif=_exif_bytes(6), **({"lossless": True} if fmt == "WEBP" else {}))
        out[f"{fmt.lower()}_6"] = path
    return out


def exif_reference_rgb() -> np.ndarray:
    """The upright picture the orientation variants show (non-square, so a missed turn changes the shape)."""
    rgb = reference_rgb()
    return cv2.resize(rgb, (rgb.shape[1] // 4, rgb.shape[0] // 4), interpolation=cv2.INTER_AREA)


def make_rotated_video(tmp_dir: Path, rotation_degrees: int, hflip: bool = False) -> Path:
    """A short H.264 clip whose pictures are stored turned, with a display matrix that turns them back.

    `rotation_degrees` is the clockwise turn a player must apply (VideoInfo.rotation); with `hflip`
    the player must also mirror left-right after turning. Decoded upright, frame i equals
    `rotated_video_reference(i)` up to compression noise.
    """
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / f"rotated_{rotation_degrees}{'_hflip' if hflip else ''}.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        first = _stored_video_frame(rotated_video_reference(0), rotation_degrees, hflip)
        stream.height, stream.width = first.shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "16"}
        # PyAV's angle is counter-clockwise (the sign of VideoFrame.rotation); ours is clockwise.
        stream.set_display_rotation(-rotation_degrees, hflip=hflip)
        for i in range(ROTATED_FRAMES):
            stored = _stored_video_frame(rotated_video_reference(i), rotation_degrees, hflip)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(stored, format="bgr24")))
        container.mux(stream.encode())
    return path


def rotated_video_reference(index: int) -> np.ndarray:
    """Upright BGR frame `index` of the rotated clips, decoded by PyAV directly (not by facesmith)."""
    return _rotated_video_references()[index]


@functools.lru_cache(maxsize=1)
def _rotated_video_references() -> tuple[np.ndarray, ...]:
    x0, y0, x1, y1 = ROTATED_CROP
    frames = []
    with av.open(str(SOURCE_VIDEO)) as container:
        for frame in container.decode(video=0):
            frames.append(np.ascontiguousarray(frame.to_ndarray(format="bgr24")[y0:y1, x0:x1]))
            if len(frames) == ROTATED_FRAMES:
                break
    return tuple(frames)


def remux_video(source: Path, target: Path, container_format: str) -> Path:
    """Copy the video stream of `source` unchanged into another container ("mpegts", "matroska"):
    same pictures, but timestamps, index and seeking behave the way that container does."""
    _copy_stream(source, target, "video", container_format)
    return target


def make_bad_inputs(tmp_dir: Path) -> dict[str, Path]:
    """Inputs every reader must refuse with a one-line InputError (paths; "missing" does not exist)."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    out = {name: tmp_dir / filename for name, filename in (
        ("missing", "missing.mp4"),
        ("empty_video", "empty.mp4"),
        ("text_as_video", "notes.mp4"),
        ("text_as_image", "notes.jpg"),
        ("truncated_video", "truncated.mp4"),
        ("truncated_faststart_video", "truncated_faststart.mp4"),
        ("corrupt_video", "corrupt.mp4"),
        ("audio_only", "audio_only.m4a"),
        ("no_frames_video", "no_frames.mp4"),
        ("corrupt_image", "truncated.jpg"),
    )}
    out["empty_video"].write_bytes(b"")
    out["text_as_video"].write_text("this is not a video\n" * 20)
    out["text_as_image"].write_text("this is not a photo\n" * 20)
    # identity_b keeps its index (moov) at the end: the first 30% has no index at all.
    data = (VIDEOS / "identity_b.mp4").read_bytes()
    out["truncated_video"].write_bytes(data[: len(data) * 3 // 10])
    # two_people_720p has its index first: the first 30% opens and decodes, then runs out.
    data = (VIDEOS / "two_people_720p.mp4").read_bytes()
    out["truncated_faststart_video"].write_bytes(data[: len(data) * 3 // 10])
    out["corrupt_video"].write_bytes(_with_garbage_in_the_middle((VIDEOS / "identity_a.mp4").read_bytes()))
    _remux_audio_only(VIDEOS / "identity_b.mp4", out["audio_only"])
    _write_video_without_frames(out["no_frames_video"])
    data = SOURCE_PHOTO.read_bytes()
    out["corrupt_image"].write_bytes(data[: len(data) // 2])
    return out


# --- helpers -----------------------------------------------------------------------------------


def _write_png16(path: Path, pixels8: np.ndarray) -> Path:
    """16-bit PNG whose samples round (x / 257) back to `pixels8`, but not by truncation (x >> 8):
    +-120 of noise around x * 257 catches readers that drop the low byte or clip instead of scaling."""
    noise = np.random.default_rng(0).integers(-120, 121, size=pixels8.shape)
    pixels16 = np.clip(pixels8.astype(np.int64) * 257 + noise, 0, 65535).astype(np.uint16)
    if not cv2.imwrite(str(path), pixels16):
        raise OSError(f"could not write {path}")
    return path


def _write_plain_cmyk_jpeg(path: Path, image: Image.Image) -> Path:
    """A CMYK JPEG storing plain (non-inverted) ink values, i.e. without Photoshop's Adobe marker.

    Pillow always writes inverted values with the marker; writing the inverted image and dropping the
    APP14 segment leaves plain values."""
    buffer = io.BytesIO()
    ImageChops.invert(image.convert("CMYK")).save(buffer, "JPEG", quality=95)
    path.write_bytes(_drop_jpeg_segment(buffer.getvalue(), marker=0xEE))
    return path


def _drop_jpeg_segment(data: bytes, marker: int) -> bytes:
    kept = [data[:2]]
    i = 2
    while data[i + 1] != 0xDA:  # copy segments up to the start of scan
        (length,) = struct.unpack(">H", data[i + 2 : i + 4])
        if data[i + 1] != marker:
            kept.append(data[i : i + 2 + length])
        i += 2 + length
    kept.append(data[i:])
    return b"".join(kept)


def _exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[_ORIENTATION_TAG] = orientation
    return exif.tobytes()


def _stored(upright: Image.Image, orientation: int) -> Image.Image:
    transpose = _PIL_STORE_FOR_ORIENTATION[orientation]
    return upright.copy() if transpose is None else upright.transpose(transpose)


def _write_oriented_jpeg(path: Path, upright: Image.Image, orientation: int) -> Path:
    _stored(upright, orientation).save(path, "JPEG", quality=95, exif=_exif_bytes(orientation))
    return path


def _stored_video_frame(upright: np.ndarray, rotation_degrees: int, hflip: bool) -> np.ndarray:
    # The player turns clockwise, then mirrors; store the inverse: mirror, then turn counter-clockwise.
    stored = upright[:, ::-1] if hflip else upright
    return np.ascontiguousarray(np.rot90(stored, k=rotation_degrees // 90))


def _with_garbage_in_the_middle(data: bytes) -> bytes:
    middle = len(data) // 2
    garbage = np.random.default_rng(0).integers(0, 256, size=20_000, dtype=np.uint8).tobytes()
    return data[:middle] + garbage + data[middle + len(garbage) :]


def _remux_audio_only(source: Path, target: Path) -> None:
    _copy_stream(source, target, "audio", "ipod")


def _copy_stream(source: Path, target: Path, kind: str, container_format: str) -> None:
    """Copy the first `kind` ("video" or "audio") stream of `source`, packets unchanged, into `target`."""
    with av.open(str(source)) as src, av.open(str(target), "w", format=container_format) as dst:
        stream_in = getattr(src.streams, kind)[0]
        stream_out = dst.add_stream_from_template(stream_in)
        for packet in src.demux(stream_in):
            if packet.dts is None:  # flush packet
                continue
            packet.stream = stream_out
            dst.mux(packet)


def _write_video_without_frames(path: Path) -> None:
    """A well-formed MP4 whose video samples are all zero bytes: it opens, lists a video stream and
    a frame count, and not one frame decodes."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for _ in range(5):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.zeros((64, 64, 3), np.uint8), format="bgr24")))
        container.mux(stream.encode())
    data = bytearray(path.read_bytes())
    start = data.index(b"mdat") + 4  # PyAV writes the index (moov) after the samples
    end = data.index(b"moov") - 4
    data[start:end] = bytes(end - start)
    path.write_bytes(bytes(data))
