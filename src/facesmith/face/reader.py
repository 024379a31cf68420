"""`FaceReader`: the face library's front door, in the spirit of insightface's `FaceAnalysis`.

    reader = FaceReader(detector="blazeface", landmarker="mesh")
    faces = reader.find(image_bgr)              # a photo: list[Face], left to right
    for faces in reader.track(frames):          # a video (arrays or media.video.Frame): one list a frame
        ...
    tracker = reader.tracker()                  # online, for live capture: one frame at a time
    faces = tracker.update(frame_bgr)           # (time=None: the wall clock drives the smoothing)

A `Face` (tracker.py) has `box`, 68 `landmarks` (iBUG order, frame pixels), the alignment `matrix`,
the face `mask` polygon, `pose`, `score` / `detector_score`, a `track_id` and, with `embed=True`,
the dlib identity `embedding`. Every stage finds faces through a reader; none assembles a detector,
landmarker and tracker by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .detect import Detector, create_detector
from .landmarks import Landmarker, LandmarkResult, create_landmarker, roi_from_landmarks
from .tracker import Face, FaceTracker


class FaceReader:
    """Detector + landmarker (+ identity embedder) behind one object; the models load once, here.

    `detector` / `landmarker`: a registered name (`face.detect`, `face.landmarks`) or an instance.
    `smooth`, `redetect_every`, `rotations`: the tracker's settings (see tracker.py). `embed`: give
    every face its identity descriptor (~90 ms a face on a CPU core)."""

    def __init__(self, detector: str | Detector = "blazeface", landmarker: str | Landmarker = "mesh", *,
                 smooth: bool = True, redetect_every: int = 15, rotations: bool = True, embed: bool = False):
        self.detector = create_detector(detector) if isinstance(detector, str) else detector
        self.landmarker = create_landmarker(landmarker) if isinstance(landmarker, str) else landmarker
        self.smooth, self.redetect_every, self.rotations, self.embeds = smooth, redetect_every, rotations, embed
        self._embedder: Any = None

    @property
    def embedder(self) -> Any:
        """The dlib identity model (`identity.FaceEmbedder`), loaded on first use."""
        if self._embedder is None:
            from .identity import FaceEmbedder

            self._embedder = FaceEmbedder()
        return self._embedder

    def embed(self, image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
        """The 128-D identity descriptor of the face with these 68 landmarks in `image`."""
        return self.embedder.embed(image, landmarks)

    def tracker(self, *, video: bool = True, smooth: bool | None = None) -> FaceTracker:
        """A new online tracker sharing this reader's models: `faces = tracker.update(frame, time)`.
        `video=False`: every frame is an unrelated photo. `smooth` overrides the reader's setting."""
        return FaceTracker(self.detector, self.landmarker, video=video,
                           smooth=self.smooth if smooth is None else smooth,
                           redetect_every=self.redetect_every, rotations=self.rotations,
                           embed=self.embed if self.embeds else None)

    def find(self, image: np.ndarray) -> list[Face]:
        """The faces of one photo (uint8 BGR), left to right; rotated copies are tried when none is upright."""
        return self.tracker(video=False).update(image, 0.0)

    def track(self, frames: Iterable[Any], fps: float = 30.0) -> Iterator[list[Face]]:
        """The faces of each frame of a video, tracked from frame to frame. `frames`: BGR arrays
        (timed at `fps`) or objects with `.image` and `.time` (media.video.Frame)."""
        tracker = self.tracker()
        for n, frame in enumerate(frames):
            if isinstance(frame, np.ndarray):
                yield tracker.update(frame, n / fps)
            else:
                yield tracker.update(frame.image, frame.time)

    def refit(self, image: np.ndarray, landmarks: np.ndarray) -> LandmarkResult:
        """Fit the landmarks again from a region built on `landmarks` (the tracker's step, alone)."""
        return self.landmarker.fit(image, roi_from_landmarks(landmarks))
