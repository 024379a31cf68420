"""Facial landmarks: the `Roi` a landmarker looks at, its `LandmarkResult`, and the backend registry.

Every landmarker returns the 68 iBUG-300W points (jaw 0-16, brows 17-26, nose 27-35, eyes 36-47,
mouth 48-67), in pixels of the full image, whatever its model predicts natively.

Angle convention (used by `Roi.angle` everywhere in facesmith): the roll of the face is the direction
of the vector from the subject's right eye (on the left of the image for an upright face) to the
subject's left eye, `atan2(dy, dx)` in image coordinates (x right, y DOWN). So 0 = upright, and a
positive angle means the face is turned clockwise as seen on screen. To make a face upright, rotate
the image by -angle about the ROI centre; `roi_to_crop` builds exactly that transform.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..registry import Registry
from .detect import Detection

# MediaPipe's face-landmark ROI: the detection box's long side scaled 1.5 (RectTransformationCalculator
# scale 1.5, square_long), centred on the box.
ROI_SCALE = 1.5
# roi_from_landmarks: in the upright face frame, the ROI is centred at the 68 points' bounding-box
# centre shifted up by _LM_SHIFT * side and has size _LM_SCALE * side (side = longer bbox side). The
# 68 points stop at the brows while the detection box reaches the forehead, hence the upward shift.
# Fitted so that, on training_with_face_landmarks.xml's points, it reproduces roi_from_detection of
# the BlazeFace detection (medians over 17 faces; scripts/fit_mesh68.py prints them). In steady
# tracking on a still image the ROI settles at ~0.96x the detection ROI (tests/test_landmarks.py).
_LM_SCALE = 1.55
_LM_SHIFT = 0.09

RIGHT_EYE = slice(36, 42)  # the subject's right eye (image left when upright)
LEFT_EYE = slice(42, 48)


@dataclass(frozen=True)
class Roi:
    """A square region of the image, rotated with the face: centre (x, y) in pixels, side in pixels,
    angle in radians (see the module docstring for the sign)."""

    center: tuple[float, float]
    size: float
    angle: float


def roll_angle(right_eye: np.ndarray, left_eye: np.ndarray) -> float:
    """Roll of the face from the subject's right and left eye positions (module docstring)."""
    dx, dy = (np.asarray(left_eye, np.float64) - np.asarray(right_eye, np.float64)).tolist()
    return math.atan2(dy, dx)


def roi_from_detection(det: Detection) -> Roi:
    """MediaPipe's detection -> face-mesh ROI: box centre, 1.5x the box's long side, eye-line roll."""
    x0, y0, x1, y1 = det.box.tolist()
    angle = roll_angle(det.keypoints[0], det.keypoints[1])
    return Roi(((x0 + x1) / 2, (y0 + y1) / 2), ROI_SCALE * max(x1 - x0, y1 - y0), angle)


def roi_from_landmarks(points68: np.ndarray) -> Roi:
    """The ROI for the next video frame from this frame's 68 points (tracking without re-detecting),
    calibrated to match what `roi_from_detection` would give for the same face."""
    pts = np.asarray(points68, np.float64).reshape(68, 2)
    angle = roll_angle(pts[RIGHT_EYE].mean(axis=0), pts[LEFT_EYE].mean(axis=0))
    c, s = math.cos(angle), math.sin(angle)
    upright = pts @ np.array([[c, -s], [s, c]])  # rows rotated by -angle: (x, y) -> face frame
    lo, hi = upright.min(axis=0), upright.max(axis=0)
    side = float(max(hi - lo))
    centre = (lo + hi) / 2 - np.array([0.0, _LM_SHIFT * side])  # "up" in the face frame
    cx, cy = np.array([[c, -s], [s, c]]) @ centre  # back to image axes: rotate by +angle
    return Roi((float(cx), float(cy)), _LM_SCALE * side, angle)


def roi_to_crop(roi: Roi, out_size: int) -> np.ndarray:
    """2x3 affine matrix taking image pixels to an upright out_size x out_size crop of the ROI
    (for cv2.warpAffine; invert with cv2.invertAffineTransform)."""
    k = out_size / roi.size
    c, s = math.cos(roi.angle), math.sin(roi.angle)
    cx, cy = roi.center
    # crop = k * R(-angle) @ (p - centre) + out_size / 2 (R(-angle) undoes the roll)
    a = np.array([[c, s], [-s, c]]) * k
    t = np.array([out_size / 2, out_size / 2]) - a @ np.array([cx, cy])
    return np.hstack([a, t[:, None]]).astype(np.float64)


def transform_points(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 2x3 affine matrix to (N, 2) points."""
    pts = np.asarray(points, np.float64)
    return pts @ matrix[:, :2].T + matrix[:, 2]


@dataclass(frozen=True, eq=False)  # eq=False: `==` on numpy fields would raise
class LandmarkResult:
    points: np.ndarray  # float32 (68, 2), iBUG-68 order, pixels of the full image
    score: float  # 0..1: confidence that a face is in the ROI; tracking drops the face below ~0.5


@runtime_checkable
class Landmarker(Protocol):
    name: str

    def fit(self, image_bgr: np.ndarray, roi: Roi) -> LandmarkResult:
        """The 68 points of the face in `roi` of a uint8 BGR image."""
        ...


_BUILTIN = {"mesh": ".face_mesh", "dlib": ".dlib_landmarks"}
_LANDMARKERS: Registry[Landmarker] = Registry("landmarker", _BUILTIN, __package__)
DEFAULT_LANDMARKER = "mesh"


def register_landmarker(name: str) -> Callable[[Callable[..., Landmarker]], Callable[..., Landmarker]]:
    """Decorator: `@register_landmarker("mine")` on a class or factory taking keyword options."""
    return _LANDMARKERS.register(name)


def create_landmarker(name: str = DEFAULT_LANDMARKER, **kwargs: object) -> Landmarker:
    """A new landmarker; unknown names raise InputError listing the available ones."""
    return _LANDMARKERS.create(name, **kwargs)


def available_landmarkers() -> list[str]:
    return _LANDMARKERS.names()
