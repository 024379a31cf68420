"""Per-frame measures comparing a swapped video with its target: landmarks, pose, flicker, background.

All landmark distances are in inter-ocular distances (outer eye corners, points 36 and 45) of the
target face, so that they compare across resolutions and face sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ..face.align import mask_polygon
from ..face.pose import head_pose

PSNR_IDENTICAL = 100.0  # dB reported when the compared pixels are identical (the true value is infinite)
MATCH_IOU = 0.3  # boxes of a target face and a swapped face overlapping this much are the same face
MASK_MARGIN = 0.15  # the face masks grow by this share of the face's width before PSNR "outside the faces"


def iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[36] - points[45])) or 1.0


def _box(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.min(0), points.max(0)])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def match_faces(target: list[np.ndarray], swapped: list[np.ndarray]) -> list[tuple[int, int]]:
    """Greedy pairs (target face, swapped face) by box overlap, largest target face first."""
    order = sorted(range(len(target)), key=lambda i: -np.prod(np.ptp(target[i], axis=0)))
    used: set[int] = set()
    pairs = []
    for i in order:
        scores = [(_iou(_box(target[i]), _box(s)), j) for j, s in enumerate(swapped) if j not in used]
        if scores:
            best, j = max(scores)
            if best >= MATCH_IOU:
                pairs.append((i, j))
                used.add(j)
    return pairs


def landmark_error(target: np.ndarray, swapped: np.ndarray) -> float:
    """Mean distance of the 68 landmarks, in the target face's inter-ocular distances."""
    return float(np.linalg.norm(target - swapped, axis=1).mean() / iod(target))


def pose_difference(target: np.ndarray, swapped: np.ndarray, size: tuple[int, int]) -> list[float]:
    """[|yaw|, |pitch|, |roll|] differences in degrees between the two faces' head poses."""
    a, b = head_pose(target, size), head_pose(swapped, size)
    return [float(abs((x - y + 180) % 360 - 180)) for x, y in zip(a, b, strict=True)]


def faces_mask(faces: list[np.ndarray], shape: tuple[int, int], margin: float = MASK_MARGIN) -> np.ndarray:
    """bool mask of the face regions (landmark hull with forehead), each grown by `margin` of its width."""
    mask = np.zeros(shape, np.uint8)
    for points in faces:
        poly = mask_polygon(points)
        face = np.zeros(shape, np.uint8)
        cv2.fillConvexPoly(face, np.round(poly).astype(np.int32), 1)
        k = int(margin * float(np.ptp(poly[:, 0]))) * 2 + 1
        mask |= cv2.dilate(face, np.ones((k, k), np.uint8)) if k > 1 else face
    return mask > 0


def psnr(mse: float) -> float:
    return PSNR_IDENTICAL if mse <= 0 else float(min(PSNR_IDENTICAL, 10 * np.log10(255.0**2 / mse)))


def masked_mse(a: np.ndarray, b: np.ndarray, keep: np.ndarray) -> tuple[float, int]:
    """(sum of squared differences, number of values) over the pixels where `keep` is true."""
    if not keep.any():
        return 0.0, 0
    d = a[keep].astype(np.float64) - b[keep].astype(np.float64)
    return float((d * d).sum()), int(d.size)


@dataclass
class TemporalTrack:
    """Landmarks of one face over consecutive frames, and the mean luminance of its region."""

    target: list[np.ndarray] = field(default_factory=list)
    swapped: list[np.ndarray] = field(default_factory=list)
    luma_target: list[float] = field(default_factory=list)
    luma_swapped: list[float] = field(default_factory=list)
    last_index: int = -10


def region_luma(gray: np.ndarray, points: np.ndarray) -> float:
    mask = faces_mask([points], gray.shape[:2], margin=0.0)
    return float(gray[mask].mean()) if mask.any() else 0.0


def jitter_series(points: np.ndarray) -> np.ndarray:
    """Per-frame landmark jitter (second difference, inter-ocular units) of a (T, 68, 2) run; NaN at ends."""
    out = np.full(len(points), np.nan)
    if len(points) >= 3:
        scale = np.linalg.norm(points[:, 36] - points[:, 45], axis=1)[1:-1]
        acc = np.linalg.norm(points[2:] - 2 * points[1:-1] + points[:-2], axis=2).mean(1)
        out[1:-1] = acc / np.maximum(scale, 1e-6)
    return out


def flicker(luma: list[float]) -> float:
    """Mean |second difference| of a face region's mean luminance (grey levels per frame): brightness
    that pumps from frame to frame, while steady changes (lighting, motion) score ~0."""
    v = np.asarray(luma, np.float64)
    return float(np.abs(v[2:] - 2 * v[1:-1] + v[:-2]).mean()) if len(v) >= 3 else float("nan")


def summarize(values: list[float]) -> dict[str, Any]:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], np.float64)
    if not len(v):
        return {"mean": None, "median": None, "max": None, "n": 0}
    return {"mean": round(float(v.mean()), 4), "median": round(float(np.median(v)), 4),
            "max": round(float(v.max()), 4), "n": len(v)}
