"""Turn the paths a user passes (videos, photos, folders of either) into a checked list of media files.

The kind of a file is decided from its content (magic bytes, then by trying to open it), never from
the extension alone: photos saved with the wrong extension are common (a WebP named .jpg), and a
text file named .mp4 must be reported here, not deep inside a decoder.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InputError

Kind = Literal["video", "image"]

IMAGE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".dib", ".tif", ".tiff", ".gif",
    ".avif", ".jp2", ".ppm", ".pgm", ".pbm", ".pnm",
})
VIDEO_SUFFIXES = frozenset({
    ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".mpg", ".mpeg", ".ts",
    ".mts", ".m2ts", ".3gp", ".ogv", ".mxf",
})

_HASH_BLOCK = 1 << 20
_SNIFF_BYTES = 512  # enough for an MPEG-TS sync byte at 188 and 376 (and 196/388 for M2TS)

# ISO-BMFF brands of still images (HEIF/AVIF); every other `ftyp` file (mp4, mov, 3gp, m4a) is video.
_IMAGE_BRANDS = frozenset({b"avif", b"avis", b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1"})
# Top-level QuickTime atoms a .mov written without an `ftyp` atom can start with.
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})
_BMP_HEADER_SIZES = frozenset({12, 40, 52, 56, 64, 108, 124})


@dataclass(frozen=True)
class MediaSource:
    path: Path
    kind: Kind


def expand_inputs(paths: Sequence[str | Path]) -> list[MediaSource]:
    """Check and expand input paths, in the given order, each file once.

    A folder contributes the images and videos directly inside it (not in subfolders), sorted by
    name; hidden files and files that are not media are skipped. Raises InputError for a missing
    path, a file that is not an image or video, or a folder without any.
    """
    if not paths:
        raise InputError("no input given: pass video files, image files or folders of them")
    sources: list[MediaSource] = []
    seen: set[str] = set()
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            raise InputError(f"no such file or folder: {path}")
        found = _expand_folder(path) if path.is_dir() else [_explicit_file(path)]
        for source in found:
            key = os.path.realpath(source.path)  # the same file reached by two spellings or a link
            if key not in seen:
                seen.add(key)
                sources.append(source)
    return sources


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's content, read in 1 MiB blocks (videos can be many GB)."""
    digest = hashlib.sha256()
    buffer = bytearray(_HASH_BLOCK)
    view = memoryview(buffer)
    try:
        with open(path, "rb") as f:
            while n := f.readinto(buffer):
                digest.update(view[:n])
    except FileNotFoundError:
        raise InputError(f"no such file: {path}") from None
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}; check the file's permissions") from None
    return digest.hexdigest()


def _explicit_file(path: Path) -> MediaSource:
    if path.stat().st_size == 0:
        raise InputError(f"{path} is an empty file (0 bytes); copy or download it again")
    kind = _sniff_kind(path, try_open=True)
    if kind is None:
        raise InputError(f"{path} is not a video or image file; pass a video, a photo or a folder of them")
    return MediaSource(Path(os.path.abspath(path)), kind)


def _expand_folder(folder: Path) -> list[MediaSource]:
    try:
        entries = sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as e:
        raise InputError(f"cannot list folder {folder}: {e.strerror or e}") from None
    sources = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_file():
            continue
        has_media_suffix = entry.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
        # Other files (notes, CSVs, sidecars) are skipped without trying decoders on them; a file that
        # claims to be media by its name but is not is reported, as it would be if passed directly.
        kind = _sniff_kind(entry, try_open=has_media_suffix)
        if kind is not None:
            sources.append(MediaSource(Path(os.path.abspath(entry)), kind))
        elif has_media_suffix:
            raise InputError(f"{entry} is not a video or image file; remove it from the folder {folder}")
    if not sources:
        raise InputError(f"folder {folder} has no images or videos directly inside (subfolders are not searched)")
    return sources


def _sniff_kind(path: Path, try_open: bool) -> Kind | None:
    try:
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}; check the file's permissions") from None
    if not head:
        return None
    kind = _kind_from_magic(head)
    if kind is None and try_open:
        kind = _kind_by_opening(path)
    return kind


def _kind_from_magic(head: bytes) -> Kind | None:
    if head.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"II*\x00", b"MM\x00*",
                        b"II+\x00", b"\x00\x00\x00\x0cjP  \r\n\x87\n", b"\xff\x4f\xff\x51")):
        return "image"
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"AVI "):
        return "image" if head[8:12] == b"WEBP" else "video"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "image"
    if head[4:8] == b"ftyp":
        return "image" if head[8:12] in _IMAGE_BRANDS else "video"
    if head[4:8] in _QUICKTIME_ATOMS:
        return "video"
    if head.startswith((b"\x1a\x45\xdf\xa3", b"FLV\x01", b"\x00\x00\x01\xba", b"\x00\x00\x01\xb3",
                        b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", b"OggS")):
        return "video"  # Matroska/WebM, FLV, MPEG-PS/ES, ASF/WMV, Ogg
    if _is_mpeg_ts(head):
        return "video"
    return None


def _is_mpeg_ts(head: bytes) -> bool:
    # Sync byte 0x47 every 188 bytes; M2TS/MTS (camcorders) put a 4-byte timestamp before each packet.
    for offset in (0, 4):
        positions = range(offset, len(head), 188 if offset == 0 else 192)
        if len(positions) >= 3 and all(head[i] == 0x47 for i in positions):
            return True
    return False


def _kind_by_opening(path: Path) -> Kind | None:
    """Slow path for formats without a magic number we know: ask Pillow, then FFmpeg."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path):
            return "image"
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        pass
    except Image.DecompressionBombError:  # a (huge) image all the same; read_image reports the size
        return "image"
    import av

    try:
        with av.open(str(path)) as container:
            # FFmpeg "opens" a lot: its image-sequence reader accepts any file named .jpg, for one.
            # A decodable frame is the proof. Audio-only files count as "video" so that probe_video
            # can say what is wrong with them.
            streams = container.streams.video[:1] or container.streams.audio[:1]
            if streams and next(container.decode(streams[0]), None) is not None:
                return "video"
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError):
        pass
    return None
