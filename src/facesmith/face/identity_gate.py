"""Keep one person: `IdentityGate` lets a face through while its track looks like the references.

An embedding costs ~90 ms on this CPU, so faces are not embedded frame by frame: each track is
embedded on a few of its frames (at `sample_ages`) and kept while the mean distance of those samples
to the nearest reference stays under the threshold. The references are reference photos (extract
`--ref`: `photo_gate`, checked before any work) or faces of a faceset (convert and live:
`faceset.reference.faceset_gate`, embedded on first use).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np

from ..errors import InputError
from ..media.images import read_image
from .identity import face_distance
from .landmarks import roi_from_detection
from .reader import FaceReader
from .tracker import Face, detect_any_rotation

SAMPLE_AGES = (1, 6, 16, 31, 61)  # a track's frames that are embedded (its 1st, 6th, ...)

Embed = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (image, 68 landmarks) -> descriptor


class Tracked(Protocol):
    track: int
    points: np.ndarray  # 68 landmarks in frame pixels


T = TypeVar("T", bound=Tracked)


class IdentityGate:
    def __init__(self, references: Callable[[Embed], list[np.ndarray]], threshold: float, *,
                 embed: Embed | None = None, sample_ages: tuple[int, ...] = SAMPLE_AGES):
        """`references(embed)` gives the reference descriptors; it is called on first use (`refs`).
        `embed`: the identity model (default: a `FaceEmbedder`, loaded on first use)."""
        self.threshold, self.sample_ages = threshold, sample_ages
        self._references, self._embed = references, embed
        self._refs: list[np.ndarray] | None = None
        self.distances: dict[int, list[float]] = {}  # track -> its samples' distances
        self.ages: dict[int, int] = {}  # track -> frames seen, where the caller does not know it

    @property
    def embed(self) -> Embed:
        if self._embed is None:
            from .identity import FaceEmbedder

            self._embed = FaceEmbedder().embed
        return self._embed

    @property
    def refs(self) -> list[np.ndarray]:
        if self._refs is None:
            self._refs = list(self._references(self.embed))
        return self._refs

    def accepts(self, image: np.ndarray, track: int, points: np.ndarray, age: int | None = None) -> bool:
        """Whether this face of `track` (68 landmarks `points` in `image`) passes; `age`: frames the track
        has been seen, this one included (None: counted here, one a call)."""
        if age is None:
            age = self.ages[track] = self.ages.get(track, 0) + 1
        samples = self.distances.setdefault(track, [])
        if age in self.sample_ages or not samples:
            embedding = self.embed(image, points)
            samples.append(min(face_distance(embedding, ref) for ref in self.refs))
        return float(np.mean(samples)) <= self.threshold

    def keep(self, image: np.ndarray, faces: list[Face]) -> list[Face]:
        """The tracker's faces that pass (by their tracks' ages and raw landmarks)."""
        return [f for f in faces if self.accepts(image, f.track_id, f.raw_landmarks, f.age)]

    def keep_tracked(self, image: np.ndarray, faces: Sequence[T]) -> list[T]:
        """Faces known by track and landmarks only (stored alignments, the engine's jobs) that pass."""
        return [f for f in faces if self.accepts(image, f.track, f.points)]

    def reset(self) -> None:
        """Forget the tracks (a new video: its track numbers start again)."""
        self.distances.clear()
        self.ages.clear()

    def distance_of(self, track: int) -> float:
        return round(float(np.mean(self.distances[track])), 4)

    def state(self) -> dict[str, Any]:
        return {str(k): v for k, v in self.distances.items()}

    def load(self, state: dict[str, Any] | None) -> None:
        self.distances = {int(k): list(v) for k, v in (state or {}).items()}


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


def photo_gate(ref_paths: Sequence[str], threshold: float, reader: FaceReader) -> IdentityGate:
    """A gate for the person in these photos, embedded now (a photo without a face is refused before
    any work)."""
    gate = IdentityGate(lambda embed: [reference_embedding(p, reader) for p in ref_paths], threshold,
                        embed=reader.embed)
    _ = gate.refs
    return gate
