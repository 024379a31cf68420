"""dlib face detectors: HOG + linear SVM ("dlib-hog") and the MMOD CNN ("dlib-cnn", slow: ~2 s per
640x480 frame on this CPU, no BLAS in dlib-bin).

Keypoints come from dlib's 5-point shape predictor (eye corners and the base of the nose, ~0.2 ms):
the eye keypoints are the means of each eye's two corners; the nose tip and mouth centre, which the
5-point model lacks, are placed along the eyes-midpoint -> nose-base line at ratios fitted on
training_with_face_landmarks.xml (points 30 and mean(62, 66)): 0.06 and 0.07 IOD mean error on the
testing XML.

Boxes: a dlib rectangle [left, right] is inclusive, so the box is (left, top, right + 1, bottom + 1).
Over 146 faces found by both HOG and BlazeFace the two boxes agree (centre offset <= 0.013 of the side,
size ratio 1.008, spread 0.05-0.1), so HOG boxes are used as they are: `Detection.box` means the same
thing for both backends. MMOD boxes sit higher than BlazeFace's and are converted (`_MMOD_TO_BLAZE`).

Thread-safety: dlib's HOG detector and shape predictor keep no state between calls, but the MMOD
network holds buffers; each instance takes a lock around calls, so use one instance per thread to
run in parallel.
"""

from __future__ import annotations

import math
import threading

import cv2
import dlib
import numpy as np

from ..assets import asset_path
from .detect import Detection, register_detector

# nose tip / mouth centre = eyes midpoint + k * (nose base - eyes midpoint); fitted, see module doc
_NOSE_TIP_K = 0.70
_MOUTH_K = 1.52
# MMOD box -> BlazeFace box, in units of the MMOD box side: centre shift (x, y) and size ratio.
# Medians over 32 faces both found (identities + groups photos at 480 px; spread 0.05, 0.06, 0.11).
_MMOD_TO_BLAZE = (0.05, 0.09, 1.06)


def _logit(p: float) -> float:
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def keypoints_from_5(points5: np.ndarray) -> np.ndarray:
    """(4, 2) Detection keypoints from dlib's 5 points (0/1: subject's left eye outer/inner corner,
    2/3: right eye outer/inner, 4: base of the nose)."""
    right_eye = (points5[2] + points5[3]) / 2
    left_eye = (points5[0] + points5[1]) / 2
    mid = (right_eye + left_eye) / 2
    down = points5[4] - mid
    return np.stack([right_eye, left_eye, mid + _NOSE_TIP_K * down, mid + _MOUTH_K * down]).astype(np.float32)


class _DlibDetector:
    name = "dlib"

    def __init__(self, min_score: float, upsample: int) -> None:
        self.min_score = float(min_score)
        self.upsample = int(upsample)
        self._shape5 = dlib.shape_predictor(str(asset_path("shape_predictor_5_face_landmarks.dat")))
        self._lock = threading.Lock()

    def _rects(self, rgb: np.ndarray) -> list[tuple[dlib.rectangle, float]]:
        raise NotImplementedError

    def _box(self, rect: dlib.rectangle) -> np.ndarray:
        return np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], np.float32)

    def detect(self, image_bgr: np.ndarray, thorough: bool = True) -> list[Detection]:
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.size == 0:
            raise ValueError(f"expected a BGR image (H, W, 3), got shape {image_bgr.shape}")
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        with self._lock:
            found = self._rects(rgb)
            out = []
            for rect, score in found:
                shape = self._shape5(rgb, rect)
                points5 = np.array([(p.x, p.y) for p in shape.parts()], np.float32)
                out.append(Detection(self._box(rect), score, keypoints_from_5(points5)))
        # dlib already suppresses overlapping windows; only the order is ours to fix
        return sorted(out, key=lambda d: -d.score)


@register_detector("dlib-hog")
class DlibHogDetector(_DlibDetector):
    """Options: upsample (0; each step doubles the image: finds faces down to ~40 px instead of ~80,
    at 4x the time), min_score (0.5). score = sigmoid(SVM margin), so 0.5 is dlib's own threshold."""

    name = "dlib-hog"

    def __init__(self, upsample: int = 0, min_score: float = 0.5) -> None:
        super().__init__(min_score, upsample)
        self._hog = dlib.get_frontal_face_detector()

    def _rects(self, rgb: np.ndarray) -> list[tuple[dlib.rectangle, float]]:
        rects, margins, _ = self._hog.run(rgb, self.upsample, _logit(self.min_score))
        return [(r, _sigmoid(m)) for r, m in zip(rects, margins, strict=True)]


def _mmod_path() -> str:
    return str(asset_path("mmod_human_face_detector.dat"))


@register_detector("dlib-cnn")
class DlibCnnDetector(_DlibDetector):
    """dlib's MMOD CNN. Very slow on CPU; more robust to pose and light than HOG. Options as
    dlib-hog; score = sigmoid(detection confidence)."""

    name = "dlib-cnn"

    def __init__(self, upsample: int = 0, min_score: float = 0.5) -> None:
        super().__init__(min_score, upsample)
        self._cnn = dlib.cnn_face_detection_model_v1(_mmod_path())

    def _rects(self, rgb: np.ndarray) -> list[tuple[dlib.rectangle, float]]:
        found = self._cnn(rgb, self.upsample)
        return [(d.rect, _sigmoid(d.confidence)) for d in found if _sigmoid(d.confidence) >= self.min_score]

    def _box(self, rect: dlib.rectangle) -> np.ndarray:
        x0, y0, x1, y1 = super()._box(rect)
        side = x1 - x0
        dx, dy, ratio = _MMOD_TO_BLAZE
        cx, cy = (x0 + x1) / 2 + dx * side, (y0 + y1) / 2 + dy * side
        half = ratio * side / 2
        return np.array([cx - half, cy - half, cx + half, cy + half], np.float32)
