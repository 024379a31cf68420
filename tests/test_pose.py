"""Head pose from landmarks: known rotations of the 3D model, projected, must be recovered."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facesmith.face.pose import _MODEL_3D, _MODEL_IDX, blur_score, head_pose


def _project(yaw: float, pitch: float, roll: float) -> np.ndarray:
    y, p, r = np.radians([yaw, pitch, roll])
    rz = np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]])
    ry = np.array([[np.cos(y), 0, np.sin(y)], [0, 1, 0], [-np.sin(y), 0, np.cos(y)]])
    rx = np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
    cam = _MODEL_3D @ (rz @ ry @ rx).T + (0, 0, 600)
    points = np.zeros((68, 2))
    points[_MODEL_IDX] = cam[:, :2] / cam[:, 2:] * 640 + (320, 240)
    return points


@pytest.mark.parametrize("angles", [(0, 0, 0), (25, 0, 0), (0, 15, 0), (0, 0, 30), (10, -10, 90), (0, 0, 180)])
def test_head_pose_recovers_known_rotations(angles):
    yaw, pitch, roll = angles
    # the model's yaw turns the face towards the image's left; head_pose reports right-turns positive
    got = head_pose(_project(-yaw, pitch, roll), (640, 480))
    np.testing.assert_allclose(got, (yaw, pitch, roll), atol=0.5)


def test_blur_score_ranks_sharp_above_blurred():
    rng = np.random.default_rng(0)
    sharp = rng.integers(0, 255, (256, 256, 3), np.uint8)
    assert blur_score(sharp) > 10 * blur_score(cv2.GaussianBlur(sharp, (0, 0), 3))
