"""One aligned face = one image file that carries its own metadata.

JPEG faces keep the metadata as JSON in an APP15 segment (as DeepFaceLab does); PNG faces keep it in
an iTXt chunk (as Faceswap does). Either way it is plain JSON: reading a face never executes code.
Deleting a face file in a file browser removes it from training, because training lists the files.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from .. import atomic, schema
from ..errors import InputError
from .face_schema import FACE_META_DEPTH, check_face_meta, check_face_pixels

FACE_FORMAT_VERSION = 1
_KEY = b"facesmith"  # PNG iTXt keyword / JPEG APP15 segment prefix
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
FACE_SUFFIXES = (".jpg", ".png")


def encode_face(image_bgr: np.ndarray, meta: dict[str, Any], suffix: str = ".jpg", quality: int = 95) -> bytes:
    """Encode an aligned face and embed `meta` (JSON-serialisable) in the file."""
    payload = json.dumps({"format": FACE_FORMAT_VERSION, **meta}, separators=(",", ":")).encode()
    if suffix == ".jpg":
        _, buf = cv2.imencode(".jpg", image_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
        data = buf.tobytes()
        body = _KEY + b"\0" + payload
        if len(body) + 2 > 0xFFFF:
            raise ValueError("face metadata too large for a JPEG segment")
        segment = b"\xff\xef" + struct.pack(">H", len(body) + 2) + body
        return data[:2] + segment + data[2:]  # right after SOI
    if suffix == ".png":
        _, buf = cv2.imencode(".png", image_bgr, [cv2.IMWRITE_PNG_COMPRESSION, 1])
        data = buf.tobytes()
        chunk_data = _KEY + b"\0\0\0\0\0" + payload  # keyword, null, no compression, no lang/translated
        chunk = struct.pack(">I", len(chunk_data)) + b"iTXt" + chunk_data
        chunk += struct.pack(">I", zlib.crc32(b"iTXt" + chunk_data) & 0xFFFFFFFF)
        ihdr_end = 8 + 8 + 13 + 4
        return data[:ihdr_end] + chunk + data[ihdr_end:]
    raise ValueError(f"unsupported face format {suffix}")


def _jpeg_meta(data: bytes) -> bytes | None:
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker == 0xEF and data[pos + 4 : pos + 4 + len(_KEY) + 1] == _KEY + b"\0":
            return data[pos + 5 + len(_KEY) : pos + 2 + length]
        if marker == 0xDA:  # start of scan: no more header segments
            return None
        pos += 2 + length
    return None


def _png_meta(data: bytes) -> bytes | None:
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype = data[pos + 4 : pos + 8]
        if ctype == b"iTXt":
            body = data[pos + 8 : pos + 8 + length]
            if body.startswith(_KEY + b"\0"):
                return body[len(_KEY) + 5 :]
        if ctype in (b"IDAT", b"IEND"):
            return None
        pos += 12 + length
    return None


def read_meta_bytes(data: bytes) -> dict[str, Any] | None:
    """The embedded metadata of an encoded face, or None when the file carries none (or not JSON).
    Metadata nested deeper than any face record raises SchemaError (its shape is checked by the
    file readers below, check_face_meta)."""
    raw = _jpeg_meta(data) if data[:2] == b"\xff\xd8" else _png_meta(data) if data[:8] == _PNG_SIG else None
    if raw is None:
        return None
    try:
        meta = schema.loads(raw, "face metadata", max_depth=FACE_META_DEPTH)
    except schema.SchemaError as e:
        if "nested" in str(e):
            raise
        return None
    return meta if isinstance(meta, dict) else None


def read_face_meta(path: str | Path) -> dict[str, Any]:
    """Only the metadata (cheap: reads the file header, never decodes pixels)."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(128 * 1024)
    meta = _meta_of(head, path)
    if meta is None:
        raise InputError(f"{path} is not a facesmith face (no embedded metadata); extract it with `facesmith extract`")
    return check_face_meta(meta, str(path))


def _meta_of(data: bytes, path: Path) -> dict[str, Any] | None:
    try:
        return read_meta_bytes(data)
    except schema.SchemaError as e:
        raise InputError(f"{path}: {e}") from None


def read_face(path: str | Path) -> tuple[np.ndarray, dict[str, Any]]:
    """Pixels (BGR uint8) and metadata of a face file."""
    path = Path(path)
    data = path.read_bytes()
    meta = _meta_of(data, path)
    if meta is None:
        raise InputError(f"{path} is not a facesmith face (no embedded metadata); extract it with `facesmith extract`")
    check_face_meta(meta, str(path))
    check_face_pixels(data, meta, str(path))  # from the header: no decoding of a forged huge image
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.shape[:2] != (meta["size"], meta["size"]):
        raise InputError(f"{path}: face image is corrupt")
    return image, meta


def write_face(path: str | Path, image_bgr: np.ndarray, meta: dict[str, Any], quality: int = 95,
               durable: bool = True) -> None:
    """Write atomically: a face file is either absent or complete (`durable`: see atomic.py)."""
    path = Path(path)
    atomic.write_bytes(path, encode_face(image_bgr, meta, path.suffix.lower(), quality), durable=durable)


def list_faces(folder: str | Path) -> list[Path]:
    """The face files of a faceset, sorted by name (hidden and temporary files skipped)."""
    folder = Path(folder)
    return sorted(
        p for p in folder.iterdir()
        if p.suffix.lower() in FACE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )
