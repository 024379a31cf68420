"""Read still images as upright BGR uint8 arrays, whatever their format, bit depth or colour model.

OpenCV decodes most files (it is the fastest and the only one that reads 16-bit RGB PNGs exactly);
Pillow reads the header (size, EXIF orientation) and decodes what OpenCV gets wrong or cannot read:
CMYK JPEGs, TIFF and AVIF. EXIF orientation is always applied here, from the header Pillow parsed,
so the size `image_size` reports and the array `read_image` returns agree for every format.
"""

from __future__ import annotations

import contextlib
import io
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageChops, UnidentifiedImageError

from ..errors import InputError
from .limits import MAX_PIXELS as MAX_PIXELS
from .limits import check_pixels

# The pixel budget of one picture: media/limits.py (shared with videos).


_ORIENTATION_TAG = 0x0112

# Formats Pillow decodes better than OpenCV: TIFF (Pillow applies the orientation tag itself; OpenCV
# does for some TIFF layouts and not others) and AVIF (Pillow turns the irot/imir boxes into an EXIF
# orientation, OpenCV's libavif may apply them as well).
_PIL_FORMATS = frozenset({"TIFF", "AVIF"})

# Pillow refuses to open images above ~179 MP (DecompressionBombError). That limit is process-global,
# so it is lifted only while a header is parsed, under a lock; our own MAX_PIXELS check replaces it.
_PIL_LIMIT_LOCK = threading.Lock()


def read_image(path: str | Path) -> np.ndarray:
    """Decode an image file to an upright, C-contiguous HxWx3 BGR uint8 array.

    Grey, palette, alpha (dropped), 16-bit, CMYK and EXIF-rotated images are all converted; a file
    that is not an image, is truncated or is larger than MAX_PIXELS raises InputError.
    """
    path = Path(path)
    data = _read_bytes(path)
    header = _open_header(data)
    if header is None:  # Pillow does not know the format; OpenCV may (EXR, HDR, PFM, ...)
        return _finish(_decode_cv2(data, path), path, orientation=1)
    with header:
        check_pixels(header.size, path)
        orientation = _exif_orientation(header)
        if header.format in _PIL_FORMATS or header.mode == "CMYK":
            pixels = _decode_pil(header, path)
            orientation = 1 if header.format == "TIFF" else orientation
        else:
            pixels = _decode_cv2(data, path, fallback=header)
    return _finish(pixels, path, orientation)


def image_size(path: str | Path) -> tuple[int, int]:
    """(width, height) of the upright image, from the header only (no pixel decoding)."""
    path = Path(path)
    try:
        with _pil_limit_lifted():
            header = Image.open(path)
    except (UnidentifiedImageError, ValueError, SyntaxError):
        # Pillow cannot parse the header: decode fully with OpenCV (rare formats only).
        height, width = read_image(path).shape[:2]
        return width, height
    except OSError as e:
        raise _unreadable(path, e) from None
    with header:
        width, height = header.size
        # Pillow reports TIFF sizes already rotated; for other formats the tag is applied by us.
        if header.format != "TIFF" and _exif_orientation(header) in (5, 6, 7, 8):
            width, height = height, width
    return width, height


# --- reading -----------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    # Reading the bytes ourselves (instead of cv2.imread) works with any path: cv2.imread fails on
    # non-ASCII names on some platforms.
    try:
        data = path.read_bytes()
    except OSError as e:
        raise _unreadable(path, e) from None
    if not data:
        raise InputError(f"{path} is an empty file (0 bytes); re-export or re-download the image")
    return data


def _unreadable(path: Path, error: OSError) -> InputError:
    if isinstance(error, FileNotFoundError):
        return InputError(f"no such file: {path}")
    if isinstance(error, IsADirectoryError):
        return InputError(f"{path} is a folder, not an image file")
    return InputError(f"cannot read {path}: {error.strerror or error}; check the file's permissions")


@contextlib.contextmanager
def _pil_limit_lifted() -> Iterator[None]:
    with _PIL_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _open_header(data: bytes) -> Image.Image | None:
    """Pillow's lazily-loaded image (header parsed, pixels not decoded), or None if it is no format
    Pillow knows."""
    try:
        with _pil_limit_lifted():
            return Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def _exif_orientation(header: Image.Image) -> int:
    """EXIF orientation 1..8 (1 when absent or unreadable: bad metadata must not reject a photo)."""
    try:
        if header.format == "PNG":
            # PngImageFile.getexif() decodes the whole image to look for an eXIf chunk after the
            # pixels; one before them (where writers put it) is already in `info`.
            raw = header.info.get("exif")
            exif = Image.Exif()
            if raw:
                exif.load(raw)
        else:
            exif = header.getexif()
        value = int(exif.get(_ORIENTATION_TAG, 1))
    except Exception:  # malformed EXIF comes in every shape (struct, value, type, key errors)
        return 1
    return value if 1 <= value <= 8 else 1


# --- decoding ----------------------------------------------------------------------------------


def _decode_cv2(data: bytes, path: Path, fallback: Image.Image | None = None) -> np.ndarray:
    # IMREAD_UNCHANGED keeps 16-bit samples and does not apply EXIF orientation (done in _finish).
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is not None:
        return pixels
    if fallback is not None:  # Pillow knows the format; it reads more variants and explains failures
        return _decode_pil(fallback, path)
    raise _not_an_image(path)


def _not_an_image(path: Path) -> InputError:
    return InputError(
        f"{path} is not a readable image (corrupt, truncated or an unsupported format such as HEIC); "
        "re-export it as JPEG or PNG"
    )


def _decode_pil(image: Image.Image, path: Path) -> np.ndarray:
    """Decode with Pillow to BGR (uint8) or grey (uint16 for 16-bit sources)."""
    try:
        with _pil_limit_lifted():  # Pillow checks its limit again when it loads some formats (TIFF)
            image.load()
        if image.mode == "CMYK":
            return _cmyk_to_bgr(image)
        if image.mode.startswith("I;16") or image.mode == "I":
            # 16-bit grey. convert("L") would clip at 255 instead of scaling, so keep the samples.
            return np.clip(np.asarray(image), 0, 65535).astype(np.uint16)
        rgb = np.asarray(image.convert("RGB"))
    except (OSError, ValueError, SyntaxError, EOFError):
        raise _not_an_image(path) from None
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def _cmyk_to_bgr(image: Image.Image) -> np.ndarray:
    # Pillow assumes every CMYK JPEG stores inverted values, as Photoshop does (it marks such files
    # with an Adobe APP14 segment). Without that marker the values are plain CMYK: invert back.
    if image.format in ("JPEG", "MPO") and "adobe" not in image.info:
        image = ImageChops.invert(image)
    return cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2BGR)


def _finish(pixels: np.ndarray, path: Path, orientation: int) -> np.ndarray:
    check_pixels((pixels.shape[1], pixels.shape[0]), path)
    bgr = _to_bgr8(_to_three_channels(pixels, path))
    return np.ascontiguousarray(_apply_orientation(bgr, orientation))


def _to_three_channels(pixels: np.ndarray, path: Path) -> np.ndarray:
    if pixels.ndim == 2:
        return cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    channels = pixels.shape[2]
    if channels in (1, 2):  # grey, grey + alpha: alpha is dropped
        return cv2.cvtColor(np.ascontiguousarray(pixels[:, :, 0]), cv2.COLOR_GRAY2BGR)
    if channels == 3:
        return pixels
    if channels == 4:  # BGRA: alpha is dropped, not composited
        return pixels[:, :, :3]
    raise InputError(f"{path} has {channels} colour channels; re-export it as an RGB JPEG or PNG")


def _to_bgr8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype == np.uint16:
        # round(x * 255 / 65535) == round(x / 257); no x makes that a tie, so rounding is exact.
        return cv2.convertScaleAbs(pixels, alpha=1 / 257)
    # float images (EXR, HDR, float TIFF) are taken as linear-ish 0..1 with no tone mapping
    return (np.clip(pixels.astype(np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright for an EXIF orientation (1 = as stored ... 8 = rotate 90° CCW)."""
    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.transpose(image)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.flip(cv2.transpose(image), -1)
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image
