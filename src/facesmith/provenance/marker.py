"""`Marker`: watermark the swapped faces of each output frame (the convert loop calls `mark`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import progress
from . import payload, watermark


class Marker:
    """Embeds the payload (facesmith identifier, format version, model fingerprint) in every swapped face.

    `enabled=False` (--no-watermark) leaves pixels untouched and warns once; the caller still writes
    the container metadata and `finalize_file` still adds the signed C2PA manifest.
    """

    def __init__(self, fingerprint: str, enabled: bool = True, refit: bool = True):
        self.fingerprint = fingerprint
        self.enabled = enabled
        self.refit = refit
        self._landmarker: Any = None
        self.bits = payload.encode(fingerprint)
        self.faces_marked = 0
        if not enabled:
            progress.warn("--no-watermark: swapped faces are NOT watermarked in the pixels; the output "
                          "still carries the synthetic-media metadata and the signed C2PA manifest")

    def mark(self, frame_bgr: np.ndarray, faces: list[np.ndarray], copy: bool = True) -> np.ndarray:
        """The frame with each face (68x2 landmarks in frame pixels) watermarked; unchanged if none.

        The input array is not modified (a marked copy is returned when there is a face), unless
        `copy=False`: then a C-contiguous uint8 frame is marked in place (convert owns its frames)."""
        if not self.enabled or not len(faces):
            return frame_bgr
        in_place = not copy and frame_bgr.dtype == np.uint8 and frame_bgr.flags.c_contiguous
        out = frame_bgr if in_place else np.array(frame_bgr, np.uint8, copy=True, order="C")
        for points in faces:
            points = np.asarray(points, np.float64).reshape(68, 2)
            watermark.embed_face(out, self._geometry(frame_bgr, points), self.bits)
            self.faces_marked += 1
        return out

    def _geometry(self, frame: np.ndarray, points: np.ndarray) -> np.ndarray:
        """The landmarks a verifier will find on the *swapped* face (~2.4 ms per face).

        The caller's points are the target face's; a well-trained model draws its face on the same
        geometry, but an undertrained one (or a different face shape) moves features by several
        pixels, which would put the verifier's aligned crop out of step with the mark. So the face
        mesh is fitted again on the swapped frame, as `verify` fits it, starting from the given points.
        """
        if not self.refit:
            return points
        from ..extract.landmarks import create_landmarker, roi_from_landmarks
        from ..extract.tracker import MIN_LANDMARK_SCORE

        if self._landmarker is None:
            self._landmarker = create_landmarker("mesh")
        result = self._landmarker.fit(frame, roi_from_landmarks(points))
        return result.points.astype(np.float64) if result.score >= MIN_LANDMARK_SCORE else points
