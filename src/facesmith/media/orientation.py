"""Turning stored video pictures upright from the display matrix that phones write.

FFmpeg's matrix maps stored pixel (x, y) to displayed (a*x + c*y, b*x + d*y) with [a b . c d . ...] =
the matrix; PyAV reports its rotation part counter-clockwise (`VideoFrame.rotation`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from av.sidedata.sidedata import Type as SideDataType
from av.video.frame import VideoFrame


@dataclass(frozen=True)
class Orientation:
    """How to turn stored pictures upright: transpose first, then mirror columns and/or rows."""

    transpose: bool = False
    flip_x: bool = False
    flip_y: bool = False

    @classmethod
    def of(cls, frame: VideoFrame) -> Orientation:
        matrix = display_matrix(frame)
        if matrix is None:
            return cls.from_rotation(frame.rotation)
        a, b, c, d = (int(matrix[i]) for i in (0, 1, 3, 4))
        if abs(a) + abs(d) >= abs(b) + abs(c):  # nearest to no quarter turn: x' ~ a*x, y' ~ d*y
            return cls(False, a < 0, d < 0)
        return cls(True, c < 0, b < 0)  # x' ~ c*y, y' ~ b*x

    @classmethod
    def from_rotation(cls, counter_clockwise: float) -> Orientation:
        clockwise = (-round(counter_clockwise / 90) * 90) % 360
        return {
            0: cls(),
            90: cls(transpose=True, flip_x=True),
            180: cls(flip_x=True, flip_y=True),
            270: cls(transpose=True, flip_y=True),
        }[clockwise]

    def to_bgr(self, frame: VideoFrame) -> np.ndarray:
        """The frame as an upright BGR image. The conversion runs on the calling thread alone:
        facesmith's pipelines already keep every core busy with other frames and stages, and
        swscale's own slice threads (PyAV's default) only added hand-offs (measured on 2 cores:
        convert ~10% more frames/s with both of its conversions on one thread each)."""
        image = frame.to_ndarray(format="bgr24", threads=1)
        if self.transpose:
            image = cv2.transpose(image)
        if self._flip_code is not None:
            image = cv2.flip(image, self._flip_code)
        return np.ascontiguousarray(image)

    def to_stored(self, image: np.ndarray) -> np.ndarray:
        """An upright image turned back the way the source stores its pictures (`to_bgr` undone:
        mirror first, then transpose; each is its own inverse)."""
        if self._flip_code is not None:
            image = cv2.flip(image, self._flip_code)
        if self.transpose:
            image = cv2.transpose(image)
        return image

    def stored_from_upright(self, width: int, height: int) -> np.ndarray:
        """2x3 taking pixels of an upright image (width x height) to the pixels `to_stored` puts them on."""
        m = np.eye(3)
        if self.flip_x:
            m = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ m
        if self.flip_y:
            m = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, height - 1.0], [0.0, 0.0, 1.0]]) @ m
        if self.transpose:
            m = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) @ m
        return m[:2]

    @property
    def _flip_code(self) -> int | None:
        """cv2.flip's code for this mirroring (-1 both axes, 1 columns, 0 rows), None for none."""
        if self.flip_x and self.flip_y:
            return -1
        if self.flip_x or self.flip_y:
            return 1 if self.flip_x else 0
        return None


def display_matrix(frame: VideoFrame) -> np.ndarray | None:
    """The frame's 3x3 display matrix (16.16 fixed point, row-major), or None when absent or when
    PyAV cannot list the side data (it raises ValueError on types newer than its enum)."""
    try:
        for side_data in frame.side_data:
            if side_data.type == SideDataType.DISPLAYMATRIX:
                return np.frombuffer(bytes(side_data), dtype=np.int32)
    except ValueError:
        pass
    return None
