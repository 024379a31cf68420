"""warp_crop must give exactly what cv2.warpAffine gives on the whole frame."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from facesmith.media.warp import warp_crop


def _matrix(scale: float, angle: float, cx: float, cy: float, size: int) -> np.ndarray:
    c, s = math.cos(angle) * scale, math.sin(angle) * scale
    a = np.array([[c, s], [-s, c]])
    t = np.array([size / 2, size / 2]) - a @ np.array([cx, cy])
    return np.hstack([a, t[:, None]])


@pytest.mark.parametrize("flags", [cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_AREA])
@pytest.mark.parametrize("border", [cv2.BORDER_CONSTANT, cv2.BORDER_REFLECT101])
def test_same_pixels_as_a_whole_frame_warp(flags: int, border: int) -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (360, 500, 3), dtype=np.uint8)
    size = 96
    # inside, across every edge, far outside, upscaling and downscaling, rotated
    for cx, cy in [(250, 180), (5, 180), (495, 10), (250, 355), (-400, -300), (900, 200)]:
        for scale in (0.3, 1.0, 2.5):
            for angle in (0.0, 0.4, -2.0):
                m = _matrix(scale, angle, cx, cy, size)
                want = cv2.warpAffine(frame, m, (size, size), flags=flags, borderMode=border)
                got = warp_crop(frame, m, size, flags=flags, border=border)
                assert got.shape == want.shape
                assert np.array_equal(got, want), (cx, cy, scale, angle)


def test_rectangular_size_and_gray() -> None:
    frame = np.random.default_rng(1).integers(0, 256, (200, 300), dtype=np.uint8)
    m = _matrix(0.7, 0.2, 150, 100, 64)
    want = cv2.warpAffine(frame, m, (80, 40), flags=cv2.INTER_LINEAR)
    assert np.array_equal(warp_crop(frame, m, (80, 40)), want)
