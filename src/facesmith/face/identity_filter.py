"""`--ref`: keep only the person shown in reference photos.

An embedding costs ~90 ms on this CPU, so faces are not embedded frame by frame: each track is
embedded on a few of its frames (its 1st, 6th, 16th, 31st and 61st) and the track is kept while the
mean distance of those samples to the nearest reference stays under the threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import InputError
from ..media.images import read_image
from ..media.inputs import file_sha256
from .identity import face_distance
from .landmarks import roi_from_detection
from .reader import FaceReader
from .tracker import Face, detect_any_rotation

SAMPLE_AGES = (1, 6, 16, 31, 61)


def reference_embedding(path: str, reader: FaceReader) -> np.ndarray:
    """The identity descriptor of the largest face in a reference photo (InputError if it has none).
    The largest detection is fitted whatever its landmark score (`find` would drop a doubtful one)."""
    image = read_image(path)
    found, _ = detect_any_rotation(reader.detector, image)
    if not found:
        raise InputError(f"no face found in reference image {path}; use a clear photo of the person")
    largest = max(found, key=lambda d: (d.box[2] - d.box[0]) * (d.box[3] - d.box[1]))
    points = reader.landmarker.fit(image, roi_from_detection(largest)).points
    return reader.embed(image, points)


class IdentityFilter:
    def __init__(self, ref_paths: tuple[str, ...], threshold: float, reader: FaceReader):
        self.threshold = threshold
        self.reader = reader
        self.ref_hashes = [file_sha256(p) for p in ref_paths]
        self.refs = [reference_embedding(p, reader) for p in ref_paths]
        self.distances: dict[int, list[float]] = {}

    def keep(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        kept = []
        for face in faces:
            samples = self.distances.setdefault(face.track_id, [])
            if face.age in SAMPLE_AGES or not samples:
                embedding = self.reader.embed(image, face.raw_landmarks)
                samples.append(min(face_distance(embedding, ref) for ref in self.refs))
            if float(np.mean(samples)) <= self.threshold:
                kept.append(face)
        return kept

    def distance_of(self, track_id: int) -> float:
        return round(float(np.mean(self.distances[track_id])), 4)

    def state(self) -> dict[str, Any]:
        return {str(k): v for k, v in self.distances.items()}

    def load(self, state: dict[str, Any] | None) -> None:
        self.distances = {int(k): list(v) for k, v in (state or {}).items()}
