"""Putting a planned face watermark (`watermark.FaceMark`) into pixels: a BGR frame, or the U and V
planes of a 4:2:0 video frame right after the writer's colour conversion.

The mark is a chroma change: the same value added to OpenCV's Cr and Cb (what `verify` reads). In BGR
that is the value times `_BGR_OF_CHROMA` on all three channels over the face's whole box (photos,
previews). In a video it is put straight into the half-resolution U and V planes: one 1-channel warp
at a quarter of the pixels and two adds, instead of a 3-channel warp over the full-resolution box
(inside convert at 480p: ~0.1 against ~0.7 ms a face). The U and V gains that make a decoded frame's
Cr and Cb change by exactly the pattern are measured through the writer's and the decoder's own
conversions (`chroma_gains`), so any colour matrix and range is handled; the file's luma is never
touched (with BT.709 the BGR path changes it a little, which the decoder does not read).

Both paths carry the pattern as 8-bit fixed point, 128 + _FIXED * value: 1/16-level steps, far below
the output's own rounding; 8-bit warps and adds cost half of float ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import cv2
import numpy as np

from ..extract.align import invert_matrix
from ..media.warp import source_rect

if TYPE_CHECKING:
    from .watermark import FaceMark

# The same value added to Cr and Cb is, in BGR, the value times this vector (OpenCV's YCrCb->BGR:
# B = Y + 1.773 Cb', G = Y - 0.714 Cr' - 0.344 Cb', R = Y + 1.403 Cr').
_BGR_OF_CHROMA = np.array([1.773, -0.714 - 0.344, 1.403], np.float32)
_FIXED = 16.0
_ZERO = 128.0


def _warped(fixed: np.ndarray, to_plane: np.ndarray, plane_shape: tuple[int, ...]) -> tuple[tuple[int, int], np.ndarray] | None:
    """The fixed-point pattern warped into the box of the plane it covers: ((x0, y0), box) or None."""
    n = fixed.shape[0]
    x0, y0, x1, y1 = source_rect(invert_matrix(to_plane), (n, n), plane_shape)
    if x1 <= x0 or y1 <= y0:
        return None
    m = to_plane.copy()
    m[:, 2] -= (x0, y0)
    channels = fixed.shape[2] if fixed.ndim == 3 else 1
    back = cv2.warpAffine(fixed, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(_ZERO,) * channels)
    return (x0, y0), back


def _add(plane: np.ndarray, at: tuple[int, int], back: np.ndarray, gain: float) -> None:
    """plane += gain * (back - 128) / _FIXED over the box at `at`, rounded and saturated in one pass."""
    x0, y0 = at
    roi = plane[y0:y0 + back.shape[0], x0:x0 + back.shape[1]]
    roi[...] = cv2.addWeighted(roi, 1.0, back, gain / _FIXED, -_ZERO * gain / _FIXED, dtype=cv2.CV_8U)


def add_to_bgr(frame: np.ndarray, mark: FaceMark) -> None:
    """Add one face's mark to a BGR uint8 frame (C-contiguous), in place."""
    # one rounding, saturating conversion per channel (the values stay positive: "Abs" changes nothing)
    fixed = cv2.merge([cv2.convertScaleAbs(mark.pattern, alpha=float(c) * _FIXED, beta=_ZERO) for c in _BGR_OF_CHROMA])
    warped = _warped(fixed, mark.to_frame, frame.shape)
    if warped is not None:
        _add(frame, warped[0], warped[1], 1.0)


def chroma_gains(bgr_before: np.ndarray, bgr_u: np.ndarray, bgr_v: np.ndarray, step: float) -> tuple[float, float]:
    """U and V changes per unit of pattern, from a probe: the same picture decoded to BGR as it was,
    with `step` added to its U plane, and with `step` added to its V plane instead. Solves for the U
    and V changes that move OpenCV's Cr and Cb by exactly one level each."""
    def cr_cb(bgr: np.ndarray) -> np.ndarray:
        ycc = cv2.cvtColor(bgr.astype(np.float32), cv2.COLOR_BGR2YCrCb)
        return ycc[..., 1:].reshape(-1, 2).mean(axis=0).astype(np.float64)

    before = cr_cb(bgr_before)
    response = np.column_stack([cr_cb(bgr_u) - before, cr_cb(bgr_v) - before]) / step  # rows Cr, Cb; cols U, V
    u, v = np.linalg.solve(response, np.ones(2))
    return float(u), float(v)


def add_to_yuv(planes: tuple[np.ndarray, np.ndarray, np.ndarray], mark: FaceMark, gains: tuple[float, float],
               upright_to_stored: np.ndarray) -> None:
    """Add one face's mark to the U and V planes (uint8, half resolution) of a frame stored turned or
    mirrored by `upright_to_stored` (2x3, upright frame pixels -> stored pixels), in place."""
    to_stored = upright_to_stored[:, :2] @ mark.to_frame
    to_stored[:, 2] += upright_to_stored[:, 2]
    to_chroma = to_stored * 0.5
    to_chroma[:, 2] -= 0.25  # chroma sample i is centred on luma coordinate 2 i + 0.5
    fixed = cv2.convertScaleAbs(mark.pattern, alpha=_FIXED, beta=_ZERO)
    warped = _warped(fixed, to_chroma, planes[1].shape)
    if warped is not None:
        _add(planes[1], warped[0], warped[1], gains[0])
        _add(planes[2], warped[0], warped[1], gains[1])


def upright_to_stored(transpose: bool, flip_x: bool, flip_y: bool, width: int, height: int) -> np.ndarray:
    """2x3 taking pixels of an upright frame (width x height) to the stored picture the writer makes
    of it (mirror columns and/or rows first, then transpose: the writer's `_to_stored`)."""
    m = np.eye(3)
    if flip_x:
        m = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
    if flip_y:
        m = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, height - 1.0], [0.0, 0.0, 1.0]]) @ m
    if transpose:
        m = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) @ m
    return m[:2]
