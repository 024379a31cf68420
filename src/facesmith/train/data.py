"""Training data: facesets decoded once (in worker threads), cropped to the model's coverage and size,
cached in memory when they fit, and split into train / held-out faces.

Each face becomes three planes at the model size: the BGR image, the face mask and a "region" map of
the eyes and mouth (from the stored landmarks) that the loss weights higher.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError
from ..face.align import LEFT_EYE, MOUTH, RIGHT_EYE, crop_box
from ..face.expression import eye_opening, mouth_opening
from ..face.occlusion import OcclusionNet, covered_crops
from ..faceset import face_landmarks, face_mask, face_poses, list_faces, read_face, read_face_meta

# Faces are cached in memory when they take less than this (bytes); beyond it they are decoded per batch.
CACHE_LIMIT = int(os.environ.get("FACESMITH_CACHE_MB", "4096")) * 2**20


@dataclass
class FaceSet:
    """One identity's faces at the model size. Cached arrays are (N, S, S[, 3]) uint8."""

    paths: list[Path]
    size: int
    coverage: float
    frames: np.ndarray
    images: np.ndarray | None = None
    masks: np.ndarray | None = None
    regions: np.ndarray | None = None
    lab_stats: np.ndarray = field(default_factory=lambda: np.zeros((0, 2, 3), np.float32))
    openness: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))  # (eye, mouth), 68 points
    sample_weights: np.ndarray | None = None  # expression- or pose-balanced sampling (sampling.py); None: epochs
    expression: np.ndarray | None = None  # (N, 4) mesh readings for the expression loss (expression.py)
    occlusion: OcclusionNet | None = None  # masks leave out what it finds covering each face (prepare_face)
    poses: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), np.float32))  # (yaw, pitch) as extracted

    def __len__(self) -> int:
        return len(self.paths)

    def get(self, idx: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """images (B,S,S,3), masks (B,S,S), regions (B,S,S) for the given indices."""
        idx = np.asarray(idx)
        if self.images is not None:
            return self.images[idx], self.masks[idx], self.regions[idx]  # type: ignore[index]
        faces = [prepare_face(self.paths[i], self.size, self.coverage, self.occlusion) for i in idx]
        return tuple(np.stack([f[k] for f in faces]) for k in range(3))  # type: ignore[return-value]

    def subset(self, idx: Sequence[int]) -> FaceSet:
        idx = np.asarray(idx, dtype=np.int64)

        def pick(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else a[idx]

        return FaceSet([self.paths[i] for i in idx], self.size, self.coverage, self.frames[idx],
                       pick(self.images), pick(self.masks), pick(self.regions), self.lab_stats[idx],
                       self.openness[idx], pick(self.sample_weights), pick(self.expression), self.occlusion,
                       self.poses[idx])


def region_map(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Eyes and mouth as filled hulls (eyes grown 1.6x so the lids and creases count too)."""
    out = np.zeros((size, size), np.uint8)
    for part, grow in ((RIGHT_EYE, 1.6), (LEFT_EYE, 1.6), (MOUTH, 1.2)):
        pts = landmarks[part]
        c = pts.mean(0)
        hull = cv2.convexHull(((pts - c) * grow + c).astype(np.float32))[:, 0]
        cv2.fillConvexPoly(out, np.round(hull * 16).astype(np.int32), 255, cv2.LINE_AA, shift=4)
    return out


def prepare_face(path: Path, size: int, coverage: float,
                 occlusion: OcclusionNet | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode a face file and cut the model's view: central coverage, resized to `size`. `occlusion`:
    the mask leaves out what this network finds covering the face (a hand: face/occlusion.py), so the
    loss weighs it as background and the model does not learn it as part of the face."""
    image, meta = read_face(path)
    full = image.shape[0]
    mask = face_mask(meta, full)
    landmarks = face_landmarks(meta, full)
    off, side = crop_box(full, coverage)
    interp = cv2.INTER_AREA if size < side else cv2.INTER_CUBIC
    image = cv2.resize(image[off:off + side, off:off + side], (size, size), interpolation=interp)
    mask = cv2.resize(mask[off:off + side, off:off + side], (size, size), interpolation=cv2.INTER_AREA)
    landmarks = (landmarks - off) * (size / side)
    if occlusion is not None:
        mask = cv2.min(mask, np.where(covered_crops([image], occlusion)[0] > 0.5, 0, 255).astype(np.uint8))
    return image, mask, region_map(landmarks, size)


def balanced_weights(readings: np.ndarray, power: float, bins: int = 5) -> np.ndarray:
    """Sampling weights (summing to 1): the inverse frequency, to `power`, of each face's bin of its
    (N, k) readings (eye openness and mouth opening, or head yaw and pitch). Bins are equal-width
    between the 2nd and 98th percentile of each reading (beyond them, the end bins), so a rare state -
    B's closed eyes - fills a bin of its own."""
    key = np.zeros(len(readings), np.int64)
    for col in np.asarray(readings, np.float64).T:
        lo, hi = np.percentile(col, [2, 98])
        key = key * bins + np.digitize(col, np.linspace(lo, hi, bins + 1)[1:-1])
    weights = np.bincount(key)[key].astype(np.float64) ** -power
    return weights / weights.sum()


def lab_stats(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean and std of the face's colours in Lab (for colour-statistics matching between A and B)."""
    lab = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_BGR2LAB).reshape(-1, 3)
    sel = lab[mask.reshape(-1) > 127]
    sel = sel if len(sel) > 16 else lab
    return np.stack([sel.mean(0), sel.std(0) + 1e-3]).astype(np.float32)


def _check_faceset(folder: Path, label: str) -> tuple[list[Path], list[dict]]:
    if not folder.exists():
        raise InputError(f"faceset {label} not found: {folder}")
    if not folder.is_dir():
        raise InputError(f"faceset {label} is not a folder: {folder}")
    paths = list_faces(folder)
    if not paths:
        raise InputError(f"faceset {label} ({folder}) holds no faces; make one with `facesmith extract VIDEO -o {folder}`")
    metas = [read_face_meta(p) for p in paths]
    sizes: dict[int, Path] = {}
    for p, m in zip(paths, metas, strict=True):
        sizes.setdefault(int(m.get("size", 0)), p)
    if len(sizes) > 1:
        detail = ", ".join(f"{s} px (e.g. {p.name})" for s, p in sorted(sizes.items()))
        raise InputError(f"faceset {label} ({folder}) mixes face sizes: {detail}; re-extract it at one --size")
    return paths, metas


def holdout_split(metas: list[dict], fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held-out): the last `fraction` of each source video's frames are held out."""
    n = len(metas)
    if fraction <= 0:
        return np.arange(n), np.arange(0)
    groups: dict[str, list[int]] = {}
    for i, m in enumerate(metas):
        src = m.get("source") or {}
        groups.setdefault(str(src.get("sha256") or src.get("path") or "?"), []).append(i)
    held: list[int] = []
    for members in groups.values():
        frames = np.array([metas[i].get("frame", i) for i in members], np.float64)
        cut = frames.min() + (1 - fraction) * (frames.max() - frames.min())
        held += [i for i, f in zip(members, frames, strict=True) if f > cut]
    mask = np.zeros(n, bool)
    mask[held] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def load_faceset(folder: str | Path, label: str, size: int, coverage: float, holdout: float = 0.0,
                 workers: int = 2, progress_bar: object | None = None,
                 occlusion: OcclusionNet | None = None) -> tuple[FaceSet, FaceSet]:
    """(train, held-out) faces of one identity. Decodes in `workers` threads (cv2 releases the GIL).
    `occlusion`: masks leave out what covers each face (prepare_face)."""
    folder = Path(folder)
    paths, metas = _check_faceset(folder, label)
    frames = np.array([m.get("frame", i) for i, m in enumerate(metas)], np.int64)
    openness = np.array([[eye_opening(p), mouth_opening(p)] for p in (face_landmarks(m) for m in metas)], np.float32)
    full = FaceSet(paths, size, coverage, frames, openness=openness, occlusion=occlusion, poses=face_poses(metas))
    fits = len(paths) * size * size * 5 <= CACHE_LIMIT
    if fits:
        images = np.empty((len(paths), size, size, 3), np.uint8)
        masks = np.empty((len(paths), size, size), np.uint8)
        regions = np.empty_like(masks)
        stats = np.empty((len(paths), 2, 3), np.float32)

        def load(i: int) -> None:
            images[i], masks[i], regions[i] = prepare_face(paths[i], size, coverage, occlusion)
            stats[i] = lab_stats(images[i], masks[i])

        with ThreadPoolExecutor(max(1, workers)) as pool:
            for _ in pool.map(load, range(len(paths))):
                if progress_bar is not None:
                    progress_bar.update(1)  # type: ignore[attr-defined]
        full.images, full.masks, full.regions, full.lab_stats = images, masks, regions, stats
    else:
        # too big to cache: colour statistics from a sample of faces, pixels decoded per batch
        sample = np.linspace(0, len(paths) - 1, min(len(paths), 256)).astype(int)
        stats = np.stack([lab_stats(*prepare_face(paths[i], size, coverage, occlusion)[:2]) for i in sample])
        full.lab_stats = stats[np.searchsorted(sample, np.arange(len(paths)), side="right") - 1]
    train_idx, held_idx = holdout_split(metas, holdout)
    if len(train_idx) == 0:
        raise InputError(f"faceset {label} ({folder}) has no faces left for training after --holdout {holdout}")
    return full.subset(train_idx), full.subset(held_idx)
