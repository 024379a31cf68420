"""Face identity: dlib's ResNet face descriptor (128-D, the model behind `face_recognition`).

Two faces of the same person are usually closer than `SAME_PERSON_THRESHOLD` (0.6, dlib's own
threshold; on our identities photos the same-person / different-person error rates are printed by
benchmarks/face_models.py and bounded in tests/test_identity.py).

The descriptor is computed on dlib's 150x150 face chip, aligned by dlib from the 68 landmarks we pass
(a `full_object_detection` built from our points: the network never sees our ROI or our detector).
Cost: ~90 ms per face on this CPU (dlib-bin has no BLAS); `embed_many` aligns all chips first and runs
the network once on the batch.

Thread-safety: dlib's network keeps buffers between calls, so each instance takes a lock around it;
use one instance per thread for parallel work. The 22 MB model loads on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import cv2
import dlib
import numpy as np

from ..assets import asset_path
from . import SAME_PERSON_THRESHOLD  # noqa: F401  (its home is the light face/__init__.py)

_CHIP_SIZE = 150  # the network's input; dlib's compute_face_descriptor uses the same
_CHIP_PADDING = 0.25  # dlib's default context around the face in the chip


def _shape(points68: np.ndarray) -> dlib.full_object_detection:
    pts = np.asarray(points68, np.float64).reshape(68, 2)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    rect = dlib.rectangle(int(lo[0]), int(lo[1]), int(np.ceil(hi[0])), int(np.ceil(hi[1])))
    # dlib points are integer pixels: rounding moves a point by <= 0.5 px, far below what changes
    # the descriptor (the chip is aligned from many points at once)
    return dlib.full_object_detection(rect, [dlib.point(round(x), round(y)) for x, y in pts])


class FaceEmbedder:
    """embed(image_bgr, points68) -> (128,) float32 descriptor."""

    def __init__(self) -> None:
        self._net: dlib.face_recognition_model_v1 | None = None
        self._lock = threading.Lock()

    def _model(self) -> dlib.face_recognition_model_v1:
        if self._net is None:  # called under self._lock
            self._net = dlib.face_recognition_model_v1(str(asset_path("dlib_face_recognition_resnet_model_v1.dat")))
        return self._net

    def chip(self, image_bgr: np.ndarray, points68: np.ndarray) -> np.ndarray:
        """The aligned 150x150 RGB chip the network sees (useful to inspect what is compared)."""
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        return np.asarray(dlib.get_face_chip(rgb, _shape(points68), _CHIP_SIZE, _CHIP_PADDING))

    def embed(self, image_bgr: np.ndarray, points68: np.ndarray) -> np.ndarray:
        return self.embed_many(image_bgr, [points68])[0]

    def embed_many(self, image_bgr: np.ndarray, faces: Sequence[np.ndarray]) -> np.ndarray:
        """(N, 128) float32 descriptors of several faces of one image."""
        if not len(faces):
            return np.zeros((0, 128), np.float32)
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        shapes = dlib.full_object_detections()
        for points in faces:
            shapes.append(_shape(points))
        chips = dlib.get_face_chips(rgb, shapes, _CHIP_SIZE, _CHIP_PADDING)
        with self._lock:
            descriptors = self._model().compute_face_descriptor(chips)
        return np.array([np.asarray(d) for d in descriptors], np.float32).reshape(-1, 128)


def face_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Euclidean distance between two descriptors; < SAME_PERSON_THRESHOLD usually = same person."""
    return float(np.linalg.norm(np.asarray(a, np.float32) - np.asarray(b, np.float32)))
