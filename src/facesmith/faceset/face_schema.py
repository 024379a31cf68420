"""What a face's metadata must look like, checked wherever it is read back (face files, the alignments
store, `faces import`), and the pixel budget of a face image, checked from its header before decoding.

A face file is small and self-describing, so it is also the easiest thing to forge: a 100 KB PNG can
claim 30000x30000 pixels (5 GB decoded). Its pixels must match the size its metadata records, and that
size is at most MAX_FACE_SIZE, the largest `extract --size`.
"""

from __future__ import annotations

import struct
from typing import Any

from .. import schema as s
from ..errors import InputError

MAX_FACE_SIZE = 1024  # extract --size upper bound
MAX_MASK_POINTS = 512
_COORD = 1e7  # landmark / box coordinates in source pixels (a 100k-px-wide frame would be absurd already)

_SOURCE = s.obj({}, {"path": s.string(), "sha256": s.string(128), "kind": s.string(16)})
FACE_META = s.obj(
    {
        "size": s.integer(1, MAX_FACE_SIZE),
        "landmarks": s.points(68, 68, lo=-_COORD, hi=_COORD),
        "matrix": s.list_of(s.list_of(s.number(-_COORD, _COORD), 3, 3), 2, 2),
        "mask": s.points(3, MAX_MASK_POINTS, lo=-100.0, hi=100.0),
        "box": s.list_of(s.number(-_COORD, _COORD), 4, 4),
    },
    {
        "format": s.integer(0, 1000), "source": _SOURCE, "frame": s.integer(0, 1 << 40),
        "time": s.number(-1e9, 1e12),
        "blur": s.number(), "yaw": s.number(), "pitch": s.number(), "roll": s.number(),
        "face_index": s.integer(0, 1 << 16), "track": s.integer(), "score": s.number(),
        "detector_score": s.number(), "detector": s.string(64), "landmarker": s.string(64),
        "identity_distance": s.nullable(s.number()),
    },
    max_items=256,
)
FACE_META_DEPTH = 8


def check_face_meta(meta: Any, where: str) -> dict[str, Any]:
    """`meta` if it is a usable face record, else one InputError naming `where`. (The spec bounds the
    nesting itself: known fields by their shape, other keys to 16 levels.)"""
    return s.validate(meta, FACE_META, f"{where}: face metadata")


def header_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's SOF or a PNG's IHDR, without decoding; None if not found."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return width, height
    if data[:2] == b"\xff\xd8":
        return _jpeg_size(data)
    return None


_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # start-of-frame markers (not DHT, JPG, DAC)


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _SOF and pos + 9 <= len(data):
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        if marker == 0xDA or length < 2:
            return None
        pos += 2 + length
    return None


def check_face_pixels(data: bytes, meta: dict[str, Any], where: str) -> None:
    """Refuse, before decoding, a face image whose header disagrees with its metadata's size."""
    size = header_size(data)
    if size is None:
        raise InputError(f"{where}: face image is corrupt (no readable JPEG/PNG header)")
    if size != (meta["size"], meta["size"]):
        raise InputError(f"{where}: face image is {size[0]}x{size[1]} pixels but its metadata says "
                         f"{meta['size']}x{meta['size']}; the file was altered - re-extract it")
