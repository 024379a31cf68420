"""Turning a tracked face into a face file plus its alignments record."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from ..face.align import alignment_matrix, mask_polygon, rasterize_mask, transform_points, warp_face
from ..face.pose import blur_score, head_pose
from ..faceset import write_face


def face_prefix(source: Path, sha256: str) -> str:
    """File-name prefix of a source's faces: readable stem plus a hash so same-named files differ."""
    stem = re.sub(r"[^\w.-]+", "_", source.stem, flags=re.UNICODE).strip("_") or "source"
    return f"{stem[:60]}-{sha256[:8]}"


def face_name(prefix: str, frame: int, index: int, suffix: str) -> str:
    return f"{prefix}_{frame:06d}_{index}{suffix}"


def parse_face_frame(name: str, prefix: str) -> int | None:
    m = re.fullmatch(re.escape(prefix) + r"_(\d{6,})_\d+\.\w+", name)
    return int(m.group(1)) if m else None


def face_metadata(points: np.ndarray, size: int, frame_shape: tuple[int, ...], source: dict[str, Any],
                  frame: int, time: float, extra: dict[str, Any]) -> dict[str, Any]:
    """Everything a face file and the alignments store record about one face (JSON-ready)."""
    matrix = alignment_matrix(points, size)
    aligned = transform_points(points, matrix) / size
    yaw, pitch, roll = head_pose(points, (frame_shape[1], frame_shape[0]))
    return {
        "source": source,
        "frame": frame,
        "time": round(time, 6),
        "size": size,
        "box": [round(float(v), 2) for v in np.concatenate([points.min(0), points.max(0)])],
        "landmarks": np.round(points, 3).tolist(),
        "matrix": matrix.tolist(),
        "mask": np.round(mask_polygon(aligned), 5).tolist(),
        "yaw": round(yaw, 2),
        "pitch": round(pitch, 2),
        "roll": round(roll, 2),
        **extra,
    }


def render_face(frame_image: np.ndarray, meta: dict[str, Any], path: Path, quality: int = 95,
                durable: bool = True) -> dict[str, Any]:
    """Cut, score and write one face (runs in a worker thread; OpenCV releases the GIL)."""
    size = meta["size"]
    crop = warp_face(frame_image, np.asarray(meta["matrix"]), size)
    mask = rasterize_mask(np.asarray(meta["mask"]), size, scale=size)
    meta = {**meta, "blur": round(blur_score(crop, mask), 2)}
    write_face(path, crop, meta, quality=quality, durable=durable)
    return meta


def make_face(frame_image: np.ndarray, points: np.ndarray, size: int, source: dict[str, Any], frame: int,
              time: float, extra: dict[str, Any], path: Path, quality: int = 95,
              durable: bool = True) -> dict[str, Any]:
    """Metadata, crop and file of one face; meant for a worker thread, off the tracking thread."""
    meta = face_metadata(points, size, frame_image.shape, source, frame, time, extra)
    return render_face(frame_image, meta, path, quality, durable)
