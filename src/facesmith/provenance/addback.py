"""Putting a planned face watermark (`watermark.FaceMark`) into pixels: a BGR frame, or the Y, U, V
planes of a 4:2:0 video frame right after the writer's colour conversion.

The mark is a chroma change: the same value added to OpenCV's Cr and Cb (what `verify` reads). In BGR
that is the value times `_BGR_OF_CHROMA` on all three channels over the face's whole box (photos,
previews). In a video the writer adds, to the planes it has just converted, what that BGR change
would have become in them (`yuv_response`, measured through its own conversion: any colour matrix
and range). With BT.601 that is a change of the half-resolution U and V planes only: one 1-channel
warp at a quarter of the pixels and two adds, instead of a 3-channel warp over the full-resolution
box (inside convert at 480p: ~0.1 against ~0.7 ms a face). With BT.709 and others it moves luma too,
and Y gets its own full-resolution warp: that part of the mark survives H.264 better than chroma
(measured: adding only U and V read 7% weaker after CRF 18 on a BT.709 file).

Both paths carry the pattern as 8-bit fixed point, 128 + _FIXED * value: 1/16-level steps, far below
the output's own rounding; 8-bit warps and adds cost half of float ones.
"""

from __future__ import annotations

from collections.abc import Callable
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
_LUMA_FLOOR = 0.02  # a Y response below this is rounding (BT.601: ~0.001): Y is left alone


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


def yuv_response(convert: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[float, float, float]:
    """How much Y, U and V change per unit of pattern added in BGR, under `convert` (BGR uint8 image
    -> its Y, U, V planes). Measured on pixels with random fractional levels, so rounding averages out."""
    rng = np.random.default_rng(0)
    base = rng.uniform(60.0, 195.0, (64, 64, 3))
    step = 24.0  # x 1.773 keeps every channel within 0..255
    before = convert(np.round(base).astype(np.uint8))
    after = convert(np.round(base + step * _BGR_OF_CHROMA).astype(np.uint8))
    y, u, v = (float((b.astype(np.float64) - a).mean()) / step for a, b in zip(before, after, strict=True))
    return y, u, v


def add_to_yuv(planes: tuple[np.ndarray, np.ndarray, np.ndarray], mark: FaceMark,
               response: tuple[float, float, float], upright_to_stored: np.ndarray) -> None:
    """Add one face's mark to the Y, U, V planes (uint8, 4:2:0) of a frame stored turned or mirrored
    by `upright_to_stored` (2x3, upright frame pixels -> stored pixels), in place."""
    y_gain, u_gain, v_gain = response
    to_stored = upright_to_stored[:, :2] @ mark.to_frame
    to_stored[:, 2] += upright_to_stored[:, 2]
    to_chroma = to_stored * 0.5
    to_chroma[:, 2] -= 0.25  # chroma sample i is centred on luma coordinate 2 i + 0.5
    fixed = cv2.convertScaleAbs(mark.pattern, alpha=_FIXED, beta=_ZERO)
    warped = _warped(fixed, to_chroma, planes[1].shape)
    if warped is not None:
        _add(planes[1], warped[0], warped[1], u_gain)
        _add(planes[2], warped[0], warped[1], v_gain)
    if abs(y_gain) >= _LUMA_FLOOR:
        warped = _warped(fixed, to_stored, planes[0].shape)
        if warped is not None:
            _add(planes[0], warped[0], warped[1], y_gain)


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
