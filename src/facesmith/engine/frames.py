"""What the frame engine works on: a frame with its faces (`FrameJob`, `FaceJob`), and what it gives
back for a frame swapped on its own (`FrameResult`, `FaceResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_CROP = 256  # crop size assumed for faces found on the fly (extract's default)


@dataclass
class FaceJob:
    track: int
    points: np.ndarray  # (68, 2) landmarks in frame pixels
    unit: np.ndarray  # 2x3: frame pixels -> the aligned crop scaled to [0, 1]
    hull: np.ndarray  # face polygon in the same unit crop coordinates
    crop_size: int = DEFAULT_CROP
    file: str = ""  # its face file in the faceset, for stored alignments

    @classmethod
    def of(cls, face: Any) -> FaceJob:
        """The job for a `face.Face` (as `FaceReader` finds it)."""
        return cls(face.track_id, face.landmarks, face.matrix, face.mask)


@dataclass
class FrameJob:
    index: int
    time: float
    image: np.ndarray
    faces: list[FaceJob] = field(default_factory=list)
    found: int = 0  # faces found before the identity check
    name: str = ""  # output name for image sources


@dataclass
class FaceResult:
    track: int
    landmarks: np.ndarray  # (68, 2) the face's landmarks in frame pixels (the target's)
    swapped: bool  # False when the face's region fell outside the frame or its mask was empty
    # x0, y0, x1, y1 of the pixels the blend may have changed (the watermark's faint pattern covers a
    # square around the face that can reach a little beyond)
    region: tuple[int, int, int, int] | None


@dataclass
class FrameResult:
    """`FrameEngine.swap_frame`'s answer: the swapped, blended, watermarked frame and each face's fate."""

    image: np.ndarray  # uint8 BGR, the frame passed in (changed in place)
    faces: list[FaceResult] = field(default_factory=list)

    @property
    def swapped(self) -> int:
        return sum(f.swapped for f in self.faces)
