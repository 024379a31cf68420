"""Find faces frame by frame: track landmarks from the previous frame, detect only when needed.

The detector runs when a frame has no tracked face, when a track is lost, and every
`redetect_every` processed frames (to pick up people who walk in; while a single face is tracked
this periodic look is the detector's cheaper `thorough=False` pass). Otherwise each face's ROI comes
from its own landmarks in the previous frame, as MediaPipe's face mesh pipeline does; the landmark
model's face-presence score tells when a track is lost. When a detector finds nothing, rotated copies
of the frame are tried (no detector finds faces lying on their side).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from .detect import Detection, Detector
from .landmarks import Landmarker, roi_from_detection, roi_from_landmarks
from .smoothing import OneEuroFilter

MIN_LANDMARK_SCORE = 0.5
SAME_FACE_IOU = 0.3


@dataclass
class TrackedFace:
    track_id: int
    points: np.ndarray  # (68, 2) frame pixels, smoothed for video
    raw_points: np.ndarray  # as the landmark model gave them
    score: float  # landmark model's face confidence in this frame
    detector_score: float  # score of the detection that started (or last refreshed) the track
    rotation: int  # degrees of the rotated copy the detection came from (0 when upright)
    age: int  # frames this track has been seen, this one included

    @property
    def box(self) -> np.ndarray:
        return np.concatenate([self.points.min(0), self.points.max(0)])


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
    def __init__(self, detector: Detector, landmarker: Landmarker, *, video: bool, smooth: bool = True,
                 redetect_every: int = 15, rotations: bool = True):
        self.detector, self.landmarker = detector, landmarker
        self.video, self.smooth, self.redetect_every, self.rotations = video, smooth, redetect_every, rotations
        self.tracks: list[_Track] = []
        self.next_id = 0
        self.since_detect = 0
        self.detector_runs = 0

    def process(self, image: np.ndarray, time: float) -> list[TrackedFace]:
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
        faces = []
        for track in self.tracks:
            track.age += 1
            points = track.raw
            if self.video and self.smooth:
                iod = float(np.linalg.norm(track.raw[36] - track.raw[45]))
                points = track.filter(track.raw, time, iod)
            faces.append(TrackedFace(track.id, points, track.raw, track.score,
                                     track.detector_score, track.rotation, track.age))
        return sorted(faces, key=lambda f: (f.box[0], f.track_id))

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
