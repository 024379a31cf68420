"""Planned marks (`watermark.FaceMark`) put into pixels: a BGR frame's (`add_to_bgr`: photos,
previews, live) or a video frame's U and V planes after the writer's colour conversion (`ChromaMarks`,
`add_to_chroma`), with the U and V gains probed through that conversion (`probe_chroma_gains`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import cv2
import numpy as np

from ..face.align import invert_matrix
from ..media.warp import source_rect
from .watermark import FaceMark

# The same value added to Cr and Cb is, in BGR, the value times this vector (OpenCV's YCrCb->BGR:
# B = Y + 1.773 Cb', G = Y - 0.714 Cr' - 0.344 Cb', R = Y + 1.403 Cr').
_BGR_OF_CHROMA = np.array([1.773, -0.714 - 0.344, 1.403], np.float32)
# The pattern travels as 8-bit fixed point, 128 + _FIXED * value per channel: 1/8-level steps, far
# below the frame's own rounding, and room for +-15.9 levels (v2's amplitudes reach 6 chroma levels,
# 10.6 in B); 8-bit warps and adds cost half of float ones.
_FIXED = 8.0
_ZERO = 128.0


def add_to_bgr(frame: np.ndarray, mark: FaceMark) -> None:
    """Add one face's mark to a BGR uint8 frame, in place."""
    # one rounding, saturating conversion per channel (the values stay positive: "Abs" changes nothing)
    fixed = cv2.merge([cv2.convertScaleAbs(mark.pattern, alpha=float(c) * _FIXED, beta=_ZERO) for c in _BGR_OF_CHROMA])
    box = _warped(fixed, mark.to_frame, frame.shape)
    if box is not None:
        _add(frame, *box, gain=1.0)


def add_to_chroma(u: np.ndarray, v: np.ndarray, mark: FaceMark, gains: tuple[float, float],
                  stored_from_upright: np.ndarray) -> None:
    """Add one face's mark to the U and V planes (uint8, half resolution, in place) of a 4:2:0 video
    frame: its pictures stored turned by `stored_from_upright` (2x3, upright frame pixels -> stored
    pixels), `gains` the U and V changes that move a decoded frame's Cr and Cb by one level
    (`chroma_gains`). The frame's luma is not touched.

    What `add_to_bgr` does over the face's whole box in three channels, this does over a quarter of
    its pixels in one (a 480p face: ~0.2 against ~0.55 ms)."""
    to_chroma = stored_from_upright[:, :2] @ mark.to_frame
    to_chroma[:, 2] += stored_from_upright[:, 2]
    to_chroma *= 0.5
    to_chroma[:, 2] -= 0.25  # 4:2:0: chroma sample i covers luma samples 2i and 2i + 1
    box = _warped(cv2.convertScaleAbs(mark.pattern, alpha=_FIXED, beta=_ZERO), to_chroma, u.shape)
    if box is not None:
        _add(u, *box, gain=gains[0])
        _add(v, *box, gain=gains[1])


def _warped(fixed: np.ndarray, to_image: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, np.ndarray] | None:
    """(x0, y0, box): a fixed-point pattern square warped by `to_image` into the box of an image of
    `shape` that its footprint covers, at (x0, y0); None when it covers none of the image."""
    n = fixed.shape[0]
    x0, y0, x1, y1 = source_rect(invert_matrix(to_image), (n, n), shape)
    if x1 <= x0 or y1 <= y0:
        return None
    to_box = to_image.copy()
    to_box[:, 2] -= (x0, y0)
    channels = fixed.shape[2] if fixed.ndim == 3 else 1
    box = cv2.warpAffine(fixed, to_box, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                         borderValue=(_ZERO,) * channels)
    return x0, y0, box


def _add(image: np.ndarray, x0: int, y0: int, box: np.ndarray, gain: float) -> None:
    """image += gain * (box - _ZERO) / _FIXED over the box at (x0, y0), rounded and saturated in one pass."""
    roi = image[y0:y0 + box.shape[0], x0:x0 + box.shape[1]]
    roi[...] = cv2.addWeighted(roi, 1.0, box, gain / _FIXED, -_ZERO * gain / _FIXED, dtype=cv2.CV_8U)


def chroma_gains(before: np.ndarray, u_raised: np.ndarray, v_raised: np.ndarray, step: float) -> tuple[float, float]:
    """The U and V changes per unit of pattern, from three decodings (BGR) of one probe picture: as
    it was, with `step` added to its U plane, and with `step` added to its V plane instead. They move
    OpenCV's Cr and Cb (what `read_face` reads) by exactly one level each, whatever the file's
    colour matrix and range."""
    def cr_cb(bgr: np.ndarray) -> np.ndarray:
        ycc = cv2.cvtColor(bgr.astype(np.float32), cv2.COLOR_BGR2YCrCb)
        return ycc[..., 1:].reshape(-1, 2).mean(axis=0).astype(np.float64)

    base = cr_cb(before)
    response = np.column_stack([cr_cb(u_raised) - base, cr_cb(v_raised) - base]) / step  # rows Cr, Cb; cols U, V
    gain_u, gain_v = np.linalg.solve(response, np.ones(2))
    return float(gain_u), float(gain_v)


def probe_chroma_gains(to_yuv: Callable[[np.ndarray], Any]) -> tuple[float, float]:
    """`chroma_gains` for a video writer, probed through its conversion to YUV (`to_yuv`, e.g.
    `media.writer.VideoWriter.yuv_conversion()`) and
    the decoder's conversion back to BGR (`to_ndarray`, as media.video decodes; it reads the colour
    matrix and range that the conversion tagged the frame with)."""
    from ..media.writer import planes_of

    rng = np.random.default_rng(0)
    frame = to_yuv(rng.integers(60, 196, (64, 64, 3), dtype=np.uint8))
    step = 16
    _, u, v = planes_of(frame)
    decoded = [frame.to_ndarray(format="bgr24")]
    for plane in (u, v):
        plane += step  # the probe's U and V stay well inside 16..240: nothing wraps around
        decoded.append(frame.to_ndarray(format="bgr24"))
        plane -= step
    return chroma_gains(*decoded, step=float(step))


class ChromaMarks:
    """Puts planned marks into the U and V planes of a video writer's frames, through the writer's
    per-frame hook: `writer.write(image, time, chroma.hook(marks))`. The gains are probed through
    `to_yuv` (the writer's own conversion) once, at the first frame with a mark."""

    def __init__(self, to_yuv: Callable[[np.ndarray], Any]):
        self._to_yuv = to_yuv
        self._gains: tuple[float, float] | None = None

    def hook(self, marks: Sequence[FaceMark]) -> Callable[[Any], None] | None:
        if not marks:
            return None

        def add(planes: Any) -> None:  # media.writer.StoredPlanes
            if self._gains is None:
                self._gains = probe_chroma_gains(self._to_yuv)
            for mark in marks:
                add_to_chroma(planes.u, planes.v, mark, self._gains, planes.stored_from_upright)

        return add
