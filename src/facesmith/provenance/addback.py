"""Putting a planned face watermark (`watermark.FaceMark`) into a BGR frame.

The mark is a chroma change: the same value added to OpenCV's Cr and Cb (what `verify` reads), which
in BGR is the value times `_BGR_OF_CHROMA` on all three channels. It travels as 8-bit fixed point,
128 + _FIXED * value per channel (1/16-level steps, far below the frame's own rounding), is warped
over the footprint of the square it reaches only, and added with one saturating pass: 8-bit warps
and adds cost half of float ones.

(Adding it to the video writer's Y, U, V planes after the colour conversion was tried: same reading,
less CPU, but that work lands on the encoding thread, the pipeline's critical path, and convert got
~4% slower on BT.709 files, where luma needs its own full-resolution warp.)
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


def add_to_bgr(frame: np.ndarray, mark: FaceMark) -> None:
    """Add one face's mark to a BGR uint8 frame, in place."""
    n = mark.pattern.shape[0]
    x0, y0, x1, y1 = source_rect(invert_matrix(mark.to_frame), (n, n), frame.shape)  # the square's footprint
    if x1 <= x0 or y1 <= y0:
        return
    to_box = mark.to_frame.copy()
    to_box[:, 2] -= (x0, y0)
    # one rounding, saturating conversion per channel (the values stay positive: "Abs" changes nothing)
    fixed = cv2.merge([cv2.convertScaleAbs(mark.pattern, alpha=float(c) * _FIXED, beta=_ZERO) for c in _BGR_OF_CHROMA])
    back = cv2.warpAffine(fixed, to_box, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(_ZERO,) * 3)
    roi = frame[y0:y1, x0:x1]
    roi[...] = cv2.addWeighted(roi, 1.0, back, 1.0 / _FIXED, -_ZERO / _FIXED, dtype=cv2.CV_8U)
