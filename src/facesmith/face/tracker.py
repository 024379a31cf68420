"""Find faces frame by frame: track landmarks from the previous frame, detect only when needed.

The detector runs when a frame has no tracked face, when a track is lost, and every
`redetect_every` processed frames (to pick up people who walk in; while a single face is tracked
this periodic look is the detector's cheaper `thorough=False` pass). Otherwise each face's ROI comes
from its own landmarks in the previous frame, as MediaPipe's face mesh pipeline does; the landmark
model's face-presence score tells when a track is lost. When a detector finds nothing, rotated copies
of the frame are tried (no detector finds faces lying on their side).
"""

from __future__ import annotations

import functools
import time as clock
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .align import alignment_matrix, mask_polygon, transform_points
from .detect import Detection, Detector
from .landmarks import Landmarker, roi_from_detection, roi_from_landmarks
from .pose import head_pose
from .smoothing import OneEuroFilter

MIN_LANDMARK_SCORE = 0.5
SAME_FACE_IOU = 0.3


@dataclass(eq=False)  # eq=False: `==` on numpy fields would raise, compare by identity
class Face:
    """One face in one frame, as `FaceReader.find` / `.track` and `FaceTracker.update` give it.

    Everything is in pixels of the frame it was found in; `matrix`, `mask` and `pose` are computed
    from the landmarks on first use.
    """

    track_id: int  # the same number for the same person while the track holds (0, 1, ... per tracker)
    landmarks: np.ndarray  # float64 (68, 2), iBUG-68 order; smoothed over time in video
    raw_landmarks: np.ndarray  # as the landmark model gave them in this frame
    score: float  # the landmark model's face confidence in this frame (0..1)
    detector_score: float  # score of the detection that started (or last refreshed) the track
    rotation: int  # degrees of the rotated copy the detection came from (0 when upright)
    age: int  # frames this track has been seen, this one included
    frame_size: tuple[int, int]  # (width, height) of the frame
    embedding: np.ndarray | None = None  # dlib 128-D identity descriptor, when the reader embeds

    @property
    def box(self) -> np.ndarray:
        """x0, y0, x1, y1 of the landmarks."""
        return np.concatenate([self.landmarks.min(0), self.landmarks.max(0)])

    @functools.cached_property
    def matrix(self) -> np.ndarray:
        """2x3 similarity: frame pixels -> the aligned crop scaled to [0, 1] (`align.alignment_matrix`;
        for an S-pixel crop use `align.alignment_matrix(face.landmarks, S)`)."""
        return alignment_matrix(self.landmarks, 1)

    @functools.cached_property
    def mask(self) -> np.ndarray:
        """The face polygon (landmark hull with a forehead estimate) in the same unit crop coordinates."""
        return mask_polygon(transform_points(self.landmarks, self.matrix))

    @functools.cached_property
    def pose(self) -> tuple[float, float, float]:
        """yaw, pitch, roll in degrees (`pose.head_pose`)."""
        return head_pose(self.landmarks, self.frame_size)


@dataclass
class _Track:
    id: int
    raw: np.ndarray
    detector_score: float
    rotation: int
    age: int = 0
    score: float = 1.0
    filter: OneEuroFilter = field(default_factory=OneEuroFilter)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = np.maximum(a[:2], b[:2])
    x1, y1 = np.minimum(a[2:], b[2:])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def _points_box(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points.min(0), points.max(0)])


_ROTATIONS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def _unrotate(points: np.ndarray, degrees: int, w: int, h: int) -> np.ndarray:
    """Map points found in a copy rotated clockwise by `degrees` back to the original frame (w x h)."""
    x, y = points[:, 0], points[:, 1]
    if degrees == 90:  # rotated copy is h wide: (x', y') = (h - 1 - y, x)
        return np.stack([y, h - 1 - x], 1)
    if degrees == 180:
        return np.stack([w - 1 - x, h - 1 - y], 1)
    if degrees == 270:  # (x', y') = (y, w - 1 - x)
        return np.stack([w - 1 - y, x], 1)
    return points


def detect_any_rotation(detector: Detector, image: np.ndarray, rotations: bool = True) -> tuple[list[Detection], int]:
    """Detect upright; when nothing is found, try the frame rotated by 90, 270 and 180 degrees."""
    found = detector.detect(image)
    if found or not rotations:
        return found, 0
    h, w = image.shape[:2]
    for degrees in (90, 270, 180):
        found = detector.detect(cv2.rotate(image, _ROTATIONS[degrees]))
        if found:
            mapped = []
            for d in found:
                corners = np.array([[d.box[0], d.box[1]], [d.box[2], d.box[3]]])
                c = _unrotate(corners, degrees, w, h)
                box = np.concatenate([c.min(0), c.max(0)]).astype(np.float32)
                kps = _unrotate(d.keypoints.astype(np.float64), degrees, w, h).astype(np.float32)
                mapped.append(Detection(box=box, score=d.score, keypoints=kps))
            return mapped, degrees
    return [], 0


class FaceTracker:
    """Online, one frame at a time: `faces = tracker.update(frame_bgr, time)`. Made by
    `FaceReader.tracker()`; `state()` / `load()` carry it across a resumed job exactly.

    `video=False` treats every frame as an unrelated photo (no tracking, no smoothing). `embed`, a
    callable (image, landmarks) -> descriptor, fills each face's `embedding`."""

    def __init__(self, detector: Detector, landmarker: Landmarker, *, video: bool, smooth: bool = True,
                 redetect_every: int = 15, rotations: bool = True, embed: Any = None):
        self.detector, self.landmarker = detector, landmarker
        self.video, self.smooth, self.redetect_every, self.rotations = video, smooth, redetect_every, rotations
        self.embed = embed
        self.tracks: list[_Track] = []
        self.next_id = 0
        self.since_detect = 0
        self.detector_runs = 0
        self._started = clock.monotonic()

    def update(self, image: np.ndarray, time: float | None = None) -> list[Face]:
        """The faces of the next frame (uint8 BGR), left to right. `time`: the frame's time in seconds,
        the smoothing filter's clock; None takes the wall clock (live capture)."""
        if time is None:
            time = clock.monotonic() - self._started
        self._follow_tracks(image)
        faces = []
        size = (image.shape[1], image.shape[0])
        for track in self.tracks:
            track.age += 1
            points = track.raw
            if self.video and self.smooth:
                iod = float(np.linalg.norm(track.raw[36] - track.raw[45]))
                points = track.filter(track.raw, time, iod)
            face = Face(track.id, points, track.raw, track.score, track.detector_score, track.rotation,
                        track.age, size)
            if self.embed is not None:
                face.embedding = self.embed(image, face.raw_landmarks)
            faces.append(face)
        return sorted(faces, key=lambda f: (f.box[0], f.track_id))

    def _follow_tracks(self, image: np.ndarray) -> None:
        lost = False
        if self.video:
            kept = []
            for track in self.tracks:
                result = self.landmarker.fit(image, roi_from_landmarks(track.raw))
                if result.score >= MIN_LANDMARK_SCORE:
                    track.raw = result.points.astype(np.float64)
                    track.score = result.score
                    kept.append(track)
                else:
                    lost = True
            self.tracks = kept
        else:
            self.tracks = []
        self.since_detect += 1
        if not self.tracks or lost:
            self._detect(image, thorough=True)
        elif self.since_detect >= self.redetect_every:
            # One face tracked: the cheap pass finds a newcomer too (on every shared clip). Several:
            # people come and go, and each BlazeFace model finds faces the other misses (low-light
            # stage clip: 284 faces with the cheap pass, 302 with both models).
            self._detect(image, thorough=len(self.tracks) > 1)
        self._drop_duplicates()

    def _detect(self, image: np.ndarray, thorough: bool) -> None:
        """`thorough=False` is the periodic look for newcomers while one face is tracked: a cheaper
        detector pass, and no rotated retries (the tracked face is there already)."""
        self.since_detect = 0
        self.detector_runs += 1
        if thorough:
            detections, degrees = detect_any_rotation(self.detector, image, self.rotations)
        else:
            detections, degrees = self.detector.detect(image, thorough=False), 0
        for det in detections:
            match = next((t for t in self.tracks if _iou(det.box, _points_box(t.raw)) > SAME_FACE_IOU), None)
            if match is not None:
                match.detector_score = det.score
                continue
            result = self.landmarker.fit(image, roi_from_detection(det))
            if result.score < MIN_LANDMARK_SCORE:
                continue  # the landmark model does not see a face there: a false detection
            track = _Track(self.next_id, result.points.astype(np.float64), det.score, degrees,
                           score=result.score)
            self.next_id += 1
            self.tracks.append(track)

    def _drop_duplicates(self) -> None:
        """Two tracks that drifted onto the same face: keep the older one."""
        kept: list[_Track] = []
        for track in sorted(self.tracks, key=lambda t: t.id):
            if all(_iou(_points_box(track.raw), _points_box(k.raw)) <= 0.5 for k in kept):
                kept.append(track)
        self.tracks = kept

    # --- exact resume -------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "next_id": self.next_id,
            "since_detect": self.since_detect,
            "tracks": [
                {"id": t.id, "raw": t.raw.tolist(), "detector_score": t.detector_score,
                 "rotation": t.rotation, "age": t.age, "score": t.score,
                 "filter": t.filter.state()}
                for t in self.tracks
            ],
        }

    def load(self, state: dict[str, Any] | None) -> None:
        if not state:
            return
        self.next_id, self.since_detect = state["next_id"], state["since_detect"]
        self.tracks = []
        for s in state["tracks"]:
            track = _Track(s["id"], np.array(s["raw"]), s["detector_score"], s["rotation"], s["age"],
                           score=s["score"])
            track.filter.load(s["filter"])
            self.tracks.append(track)
