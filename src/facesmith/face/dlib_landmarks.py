"""dlib's 68-point shape predictor (ensemble of regression trees, iBUG-300W) as a landmarker.

The predictor is not rotation invariant and expects a box like dlib's HOG detector gives, so the ROI
is first cut out upright (one cv2.warpAffine, rotating by -angle), the predictor runs inside it on the
box the ROI was built from (ROI side / 1.5; HOG and BlazeFace boxes agree, see dlib_detect.py), and
the points are mapped back to the image.

dlib predicts no confidence. The score is the face-presence probability of the face-mesh model on the
same ROI (~1 ms more), a real check that tracking can use to drop a face it lost; with
`presence=False` the score is always 1.0 and a tracker must re-detect periodically instead.

The 100 MB predictor loads once per process on first use (~1 s) and is shared: dlib's predictor
keeps no state between calls, so sharing it between threads is safe.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import TYPE_CHECKING

import cv2
import dlib
import numpy as np

from ..assets import asset_path
from ..media.warp import warp_crop
from .landmarks import ROI_SCALE, LandmarkResult, Roi, register_landmarker, roi_to_crop, transform_points

if TYPE_CHECKING:
    from .face_mesh import FaceMeshLandmarker

_CROP = 192  # px of the upright crop; the face box is _CROP / 1.5 = 128 px inside it
_load_lock = threading.Lock()


@cache
def _predictor_cached() -> dlib.shape_predictor:
    return dlib.shape_predictor(str(asset_path("shape_predictor_68_face_landmarks.dat")))


def shape_predictor_68() -> dlib.shape_predictor:
    with _load_lock:  # two threads asking at once must not both spend a second loading it
        return _predictor_cached()


@register_landmarker("dlib")
class DlibLandmarker:
    """Options: presence (True: score from the face-mesh face flag; False: score 1.0)."""

    name = "dlib"

    def __init__(self, presence: bool = True) -> None:
        self._presence: FaceMeshLandmarker | None = None
        if presence:  # imported here: the mesh model loads only when asked for
            from .face_mesh import FaceMeshLandmarker

            self._presence = FaceMeshLandmarker()

    def fit(self, image_bgr: np.ndarray, roi: Roi) -> LandmarkResult:
        predictor = shape_predictor_68()
        matrix = roi_to_crop(roi, _CROP)
        crop = warp_crop(image_bgr, matrix, _CROP)
        side = _CROP / ROI_SCALE
        lo = round((_CROP - side) / 2)
        hi = round(lo + side) - 1  # dlib rectangles are inclusive
        shape = predictor(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB), dlib.rectangle(lo, lo, hi, hi))
        pts = np.array([(p.x, p.y) for p in shape.parts()], np.float64)
        points = transform_points(cv2.invertAffineTransform(matrix), pts)
        score = 1.0 if self._presence is None else self._presence.mesh(image_bgr, roi)[1]
        return LandmarkResult(points.astype(np.float32), float(score))
