"""The synthetic-media tag in PNG and JPEG files, added at the byte level (pixels are never re-encoded)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_KEYWORD = b"facesmith"


def image_format(data: bytes) -> str | None:
    if data.startswith(PNG_SIGNATURE):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    return None


def add_tag(data: bytes, text: str) -> bytes:
    """`data` with `text` as a PNG iTXt chunk (keyword "facesmith") or a JPEG COM segment; unchanged
    for other formats."""
    fmt = image_format(data)
    raw = text.encode()
    if fmt == "png":
        # iTXt: keyword, NUL, compression flag 0, method 0, empty language tag NUL, empty
        # translated keyword NUL, UTF-8 text. Placed right after IHDR (IHDR is always 25 bytes).
        body = PNG_KEYWORD + b"\x00\x00\x00\x00\x00" + raw
        chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
        at = len(PNG_SIGNATURE) + 25
        return data[:at] + chunk + data[at:]
    if fmt == "jpeg":
        # COM segment right after SOI (a JFIF APP0 may follow it; decoders accept COM anywhere
        # before SOS). Length includes its own 2 bytes, max 65535.
        raw = raw[:65533]
        return data[:2] + b"\xff\xfe" + struct.pack(">H", len(raw) + 2) + raw + data[2:]
    return data


def read_tags(path: Path) -> dict[str, str]:
    """Text tags of a PNG (tEXt/iTXt/zTXt) or JPEG (COM) as {key: text}; {} for other files."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            tags = {str(k): str(v) for k, v in getattr(im, "text", {}).items()}
            comment = im.info.get("comment")
            if comment:
                tags["comment"] = comment.decode(errors="replace") if isinstance(comment, bytes) else str(comment)
            return tags
    except (UnidentifiedImageError, OSError, ValueError):
        return {}
