"""`Marker`: watermark the swapped faces of each output frame (the convert loop calls `mark`)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import progress
from ..face.align import INNER, alignment_matrix, invert_matrix, transform_points, umeyama
from . import payload, pixels, watermark

# Re-fit the swapped face's landmarks every REFIT_EVERY frames of a face; in between the face keeps
# the offset (swapped minus target landmarks, in watermark-crop pixels) its last re-fit measured. The
# offset is the model's own way of drawing the face (an undertrained one shifts eyes and brows by a few
# pixels), which changes slowly; carrying it saves two of every three mesh fits (2 ms each).
# Only while it is steady, though: when two re-fits in a row move the watermark crop by more than
# STEADY pixels (a model that draws a blur, on which the mesh wanders; a head turning), the face is
# re-fitted again on the next frame. Measured with a 6-iteration model on 45 frames of identity_b,
# verify's reading at the re-fitted geometry: 12-15 of 15 frames marked with a fixed every-3rd-frame
# re-fit, 14-15 with this rule, 15 re-fitting every frame. STEADY sits above a trained model's own
# drift (its offset moves ~1 crop px in 3 frames, which at 0.8 re-fitted 50% of frames): at 1.5,
# 150- and 600-iteration models on the whole of identity_b re-fit 39% of frames and verify reads
# them as strongly as at 0.8 (mean strength 1.19 and 1.33 against 1.19 and 1.34).
# The watermark's per-bit amplitudes are measured on every frame: carrying them between re-fits too
# saved ~0.2 ms a frame but cost 6-7-iteration models ~0.01 of bit accuracy (4 trainings), and a
# fresh-clone CI run read one such clip at 0.93.
REFIT_EVERY = 3
STEADY = 1.5
_PROBE = watermark.SIZE * np.array([(0.125, 0.125), (0.875, 0.125), (0.125, 0.875), (0.875, 0.875), (0.5, 0.5)])


def _crop_shift(aligned: np.ndarray, offset_a: np.ndarray, offset_b: np.ndarray) -> float:
    """How far (RMS, crop pixels) the watermark crop moves from one offset to the other."""
    change = umeyama((aligned + offset_a)[INNER], (aligned + offset_b)[INNER])
    return float(np.sqrt(((transform_points(_PROBE, change) - _PROBE) ** 2).sum(axis=1).mean()))


@dataclass
class _Carried:
    centre: np.ndarray  # mean of the target landmarks, frame pixels
    offset: np.ndarray  # (68, 2) swapped - target landmarks in watermark-crop pixels
    age: int  # frames since the re-fit that measured the offset
    steady: bool  # that re-fit agreed with the one before it (within STEADY): the offset may be carried


class Marker:
    """Embeds the payload (the model fingerprint and, in v3, the presence word) in every swapped face.

    `enabled=False` (--no-watermark) leaves pixels untouched and warns once; the caller still writes
    the container metadata and `finalize_file` still adds the signed C2PA manifest.
    """

    def __init__(self, fingerprint: str, enabled: bool = True, refit: bool = True,
                 scheme: watermark.Scheme = watermark.WRITTEN):
        self.fingerprint = fingerprint
        self.scheme = scheme  # an older format only to measure it against the one written
        self.enabled = enabled
        self.refit = refit
        self._landmarker: Any = None
        self._carried: list[_Carried] = []
        self.bits = payload.encode_for(scheme.version, fingerprint)
        self.faces_marked = 0
        self.refits = 0
        if not enabled:
            progress.warn("--no-watermark: swapped faces are NOT watermarked in the pixels; the output "
                          "still carries the synthetic-media metadata and the signed C2PA manifest")

    def plan(self, frame_bgr: np.ndarray, faces: list[np.ndarray],
             follows_previous: bool = False) -> list[watermark.FaceMark]:
        """The watermark of each face (68x2 landmarks in frame pixels) of this frame, all measured on
        the frame before any of them is added, and not yet in any pixel: the video writer adds them to
        the frame's chroma planes (`pixels.add_to_chroma`), `mark` to the BGR frame. Empty when
        watermarking is off. `follows_previous`: as for `mark`."""
        previous = self._carried if follows_previous else []
        self._carried = []
        if not self.enabled:
            return []
        marks = []
        for points in faces:
            points = np.asarray(points, np.float64).reshape(68, 2)
            marks.append(watermark.plan_face(frame_bgr, self._geometry(frame_bgr, points, previous), self.bits,
                                              self.scheme))
            self.faces_marked += 1
        return marks

    def mark(self, frame_bgr: np.ndarray, faces: list[np.ndarray], follows_previous: bool = False) -> np.ndarray:
        """The frame with each face (68x2 landmarks in frame pixels) watermarked; unchanged if none.

        The input array is not modified: a marked copy is returned when there is a face (convert,
        which owns its frames, uses `plan` and adds the marks itself). `follows_previous`: this frame
        comes right after the last one marked (a video in order), so a face there may reuse its last
        re-fit (REFIT_EVERY, STEADY)."""
        marks = self.plan(frame_bgr, faces, follows_previous)
        if not marks:
            return frame_bgr
        out = np.array(frame_bgr, np.uint8, copy=True, order="C")
        for mark in marks:
            pixels.add_to_bgr(out, mark)
        return out

    def _geometry(self, frame: np.ndarray, points: np.ndarray, previous: list[_Carried]) -> np.ndarray:
        """The landmarks a verifier will find on the *swapped* face.

        The caller's points are the target face's; a well-trained model draws its face on the same
        geometry, but an undertrained one (or a different face shape) moves features by several
        pixels, which would put the verifier's aligned crop out of step with the mark. So the face
        mesh is fitted again on the swapped frame, as `verify` fits it, starting from the given points
        (every REFIT_EVERY frames of a face; its offset is carried in between).
        """
        if not self.refit:
            return points
        matrix = alignment_matrix(points, watermark.SIZE)
        aligned = transform_points(points, matrix)
        centre = points.mean(axis=0)
        reach = 0.25 * float(np.linalg.norm(points[36] - points[45]))
        last = next((c for c in previous if np.linalg.norm(c.centre - centre) < reach), None)
        if last is not None and last.steady and last.age + 1 < REFIT_EVERY:
            carried = _Carried(centre, last.offset, last.age + 1, True)
        else:
            offset = transform_points(self._refit(frame, points), matrix) - aligned
            steady = last is not None and _crop_shift(aligned, last.offset, offset) < STEADY
            carried = _Carried(centre, offset, 0, steady)
        self._carried.append(carried)
        return transform_points(aligned + carried.offset, invert_matrix(matrix))

    def _refit(self, frame: np.ndarray, points: np.ndarray) -> np.ndarray:
        from ..face.landmarks import create_landmarker, roi_from_landmarks
        from ..face.tracker import MIN_LANDMARK_SCORE

        if self._landmarker is None:
            self._landmarker = create_landmarker("mesh")
        self.refits += 1
        roi = roi_from_landmarks(points)
        # fitted on luma alone (watermark.luma_only), converted over the rotated ROI's bounding square
        # only: a whole 720p frame costs ~2 ms, this ~0.2
        cx, cy = roi.center
        reach = 0.75 * roi.size  # > half the diagonal of the ROI square, however it is turned
        h, w = frame.shape[:2]
        x0, y0 = max(0, int(cx - reach)), max(0, int(cy - reach))
        x1, y1 = min(w, int(cx + reach) + 1), min(h, int(cy + reach) + 1)
        if x1 <= x0 or y1 <= y0:
            return points
        crop = watermark.luma_only(np.ascontiguousarray(frame[y0:y1, x0:x1]))
        result = self._landmarker.fit(crop, dataclasses.replace(roi, center=(cx - x0, cy - y0)))
        if result.score < MIN_LANDMARK_SCORE:
            return points
        return result.points.astype(np.float64) + np.array([x0, y0], np.float64)
