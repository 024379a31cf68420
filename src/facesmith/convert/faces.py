"""Where convert's faces come from, which of them are swapped, and how they are steadied over time.

- `StoredFaces`: the alignments `facesmith extract` saved for the target (no detection at all);
- `DetectedFaces`: faces tracked on the fly by a `face.FaceReader` (as extract finds them);
- `Smoother`: a centred, zero-lag moving average of each track's alignment over +-radius frames, on
  top of the landmark filter, so the swapped face does not shake.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from pathlib import Path

import numpy as np

from .. import progress
from ..engine.frames import FaceJob, FrameJob
from ..faceset.store import STORE_NAME, AlignmentsStore
from ..faceset.store_check import face_data

# --- stored alignments -----------------------------------------------------------------------------


def usable_alignments(folder: Path, sha256: str) -> dict[int, list[tuple[str, str]]] | None:
    """Frame -> [(face file, metadata JSON)] saved for the source with this hash in a faceset folder,
    when the extraction covered every frame of it; else None. The JSON is decoded frame by frame as
    convert reaches it (decoding it all up front held up the start by ~0.2 ms a face)."""
    db = folder / "alignments.db"
    if not db.is_file():
        return None
    with AlignmentsStore(db, create=False, readonly=True) as store:
        record = store.source(sha256)
        if record is None:
            return None
        settings = store.get_meta("settings") or {}
        if not record.complete or settings.get("every", 1) != 1 or settings.get("start") or settings.get("end"):
            progress.log(f"alignments in {folder} cover only part of the target (every={settings.get('every', 1)}, "
                         f"complete={record.complete}); detecting faces instead")
            return None
        return {fr.frame: [(name, meta) for _, name, meta in fr.faces] for fr in store.frames(record.id, decode=False)}


class StoredFaces:
    """Faces from an alignments store. `kept(face)` tells whether the face's file is still in the
    faceset: deleting a face file there takes it out of training and out of convert alike."""

    def __init__(self, frames: dict[int, list[tuple[str, str]]], folder: Path):
        self.frames, self.folder = frames, folder
        self.present = {p.name for p in folder.iterdir()}

    def __call__(self, index: int, image: np.ndarray, time: float) -> list[FaceJob]:
        jobs = []
        for i, (name, text) in enumerate(self.frames.get(index, [])):
            meta = face_data(text, f"{self.folder / STORE_NAME}: face {name!r}")
            size = int(meta["size"])
            jobs.append(FaceJob(
                track=int(meta.get("track", i)), points=np.asarray(meta["landmarks"], np.float64),
                unit=np.asarray(meta["matrix"], np.float64) / size, hull=np.asarray(meta["mask"], np.float64),
                crop_size=size, file=name,
            ))
        return jobs

    def kept(self, face: FaceJob) -> bool:
        return face.file in self.present


class DetectedFaces:
    """Faces tracked as extract tracks them; `video=False` treats every call as an unrelated photo."""

    def __init__(self, video: bool, detector: str = "blazeface", landmarker: str = "mesh"):
        from ..face.reader import FaceReader

        self.tracker = FaceReader(detector, landmarker).tracker(video=video)

    def __call__(self, index: int, image: np.ndarray, time: float) -> list[FaceJob]:
        return [FaceJob(face.track_id, face.landmarks, face.matrix, face.mask)
                for face in self.tracker.update(image, time)]


# --- temporal smoothing --------------------------------------------------------------------------------


class Smoother:
    """Delays frames by `radius` and replaces each face's alignment by a Gaussian-weighted average over
    the frames before and after it where the same track is present, symmetric around the frame (so
    steady motion is followed without lag). Averages of similarity transforms are similarities."""

    def __init__(self, radius: int):
        self.radius = max(0, int(radius))
        sigma = max(self.radius / 2, 0.5)
        self.weights = np.exp(-np.arange(self.radius + 1) ** 2 / (2 * sigma**2))
        self.pending: deque[tuple[int, FrameJob]] = deque()
        self.history: dict[tuple[int, int], np.ndarray] = {}  # (position, track) -> raw unit matrix
        self.position = 0

    def push(self, job: FrameJob) -> list[FrameJob]:
        for face in job.faces:
            self.history[(self.position, face.track)] = face.unit
        self.pending.append((self.position, job))
        self.position += 1
        ready = []
        while self.pending and self.pending[0][0] + self.radius < self.position:
            ready.append(self._finish(*self.pending.popleft()))
        return ready

    def flush(self) -> list[FrameJob]:
        ready = [self._finish(p, job) for p, job in self.pending]
        self.pending.clear()
        return ready

    def _finish(self, position: int, job: FrameJob) -> FrameJob:
        if self.radius:
            job.faces = [replace(f, unit=self._smoothed(position, f.track, f.unit)) for f in job.faces]
        for key in [k for k in self.history if k[0] <= position - self.radius]:
            del self.history[key]
        return job

    def _smoothed(self, position: int, track: int, unit: np.ndarray) -> np.ndarray:
        total, weight = unit * self.weights[0], self.weights[0]
        for k in range(1, self.radius + 1):
            before, after = self.history.get((position - k, track)), self.history.get((position + k, track))
            if before is None or after is None or position + k >= self.position:
                break
            total = total + (before + after) * self.weights[k]
            weight += 2 * self.weights[k]
        return total / weight
