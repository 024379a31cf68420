"""Facesets: folders of aligned face images, each carrying its own metadata, plus an alignments store.

What training and the tools need from a face file:

    >>> face = load_face(path)
    >>> face.image      # BGR uint8, size x size, aligned onto the mean face (face.align)
    >>> face.mask       # uint8 0/255, the face region (landmark hull with forehead estimate)
    >>> face.landmarks  # (68, 2) float, pixels of face.image
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..face.align import rasterize_mask, transform_points
from .face_file import (
    FACE_FORMAT_VERSION,
    FACE_SUFFIXES,
    encode_face,
    list_faces,
    read_face,
    read_face_meta,
    write_face,
)


@dataclass
class Face:
    image: np.ndarray
    mask: np.ndarray
    landmarks: np.ndarray
    meta: dict[str, Any]


def face_landmarks(meta: dict[str, Any], size: int | None = None) -> np.ndarray:
    """68 landmarks in pixels of the aligned face (at `size`, default the stored size)."""
    points = transform_points(np.asarray(meta["landmarks"]), np.asarray(meta["matrix"]))
    return points * ((size or meta["size"]) / meta["size"])


def face_poses(metas: list[dict[str, Any]]) -> np.ndarray:
    """(N, 2) float32: each face's head yaw and pitch in degrees, as extract measured them in its frame."""
    return np.array([[float(m.get("yaw", 0.0)), float(m.get("pitch", 0.0))] for m in metas], np.float32).reshape(-1, 2)


def face_mask(meta: dict[str, Any], size: int | None = None) -> np.ndarray:
    """The stored face mask polygon (normalised crop units) rasterised at `size` pixels."""
    size = size or meta["size"]
    return rasterize_mask(np.asarray(meta["mask"]), size, scale=size)


def load_face(path: str | Path, size: int | None = None) -> Face:
    """A face file with its mask and aligned landmarks, optionally resized to `size`."""
    import cv2

    image, meta = read_face(path)
    if size and image.shape[0] != size:
        interp = cv2.INTER_AREA if size < image.shape[0] else cv2.INTER_CUBIC
        image = cv2.resize(image, (size, size), interpolation=interp)
    return Face(image, face_mask(meta, size or image.shape[0]), face_landmarks(meta, size or image.shape[0]), meta)


__all__ = [
    "FACE_FORMAT_VERSION", "FACE_SUFFIXES", "Face", "encode_face", "face_landmarks", "face_mask", "face_poses",
    "list_faces", "load_face", "read_face", "read_face_meta", "write_face",
]
