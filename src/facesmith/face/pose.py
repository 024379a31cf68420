"""Head pose and image-quality measures stored with every face."""

from __future__ import annotations

import cv2
import numpy as np

# A generic 3D face in millimetres, in camera-style axes (x towards the image's right, y down, z away
# from the camera), for the iBUG points used by solvePnP: nose tip, chin, outer eye corners, mouth
# corners, nose bridge, nostrils' centre.
_MODEL_IDX = [30, 8, 36, 45, 48, 54, 27, 33]
_MODEL_3D = np.array([
    (0.0, 0.0, 0.0), (0.0, 63.6, 12.5), (-43.3, -32.7, 26.0), (43.3, -32.7, 26.0),
    (-28.9, 28.9, 24.1), (28.9, 28.9, 24.1), (0.0, -33.0, 18.0), (0.0, 15.0, 8.0),
], dtype=np.float64)


def head_pose(points68: np.ndarray, frame_size: tuple[int, int]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from 2D landmarks, with a pinhole camera guessed from the frame.

    Yaw > 0: the face turns towards the image's right; pitch > 0: chin up; roll > 0: clockwise in the
    image. SQPnP finds the global optimum, so a face is never read as upside down.
    """
    w, h = frame_size
    focal = float(max(w, h))
    camera = np.array([[focal, 0, w / 2], [0, focal, h / 2], [0, 0, 1]], np.float64)
    image_pts = np.ascontiguousarray(np.asarray(points68, np.float64)[_MODEL_IDX])
    ok, rvec, _ = cv2.solvePnP(_MODEL_3D, image_pts, camera, None, flags=cv2.SOLVEPNP_SQPNP)
    if not ok:
        return 0.0, 0.0, 0.0
    rot, _ = cv2.Rodrigues(rvec)
    # R = Rz(roll) @ Ry(yaw) @ Rx(pitch), angles about the camera's axes.
    yaw = np.degrees(np.arcsin(-np.clip(rot[2, 0], -1, 1)))
    pitch = np.degrees(np.arctan2(rot[2, 1], rot[2, 2]))
    roll = np.degrees(np.arctan2(rot[1, 0], rot[0, 0]))
    return float(-yaw), float(pitch), float(roll)


def blur_score(face_bgr: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Variance of the Laplacian over the face (higher = sharper), on a 128 px copy so that scores
    compare across extraction sizes."""
    gray = cv2.cvtColor(face_bgr, cv2.COLOR_BGR2GRAY) if face_bgr.ndim == 3 else face_bgr
    if gray.shape[0] != 128:
        gray = cv2.resize(gray, (128, 128), interpolation=cv2.INTER_AREA)
    lap = cv2.Laplacian(gray, cv2.CV_32F)
    if mask is not None:
        m = cv2.resize(mask, (128, 128), interpolation=cv2.INTER_NEAREST) > 0
        return float(lap[m].var()) if m.any() else 0.0
    return float(lap.var())


POSE_CELL = 2.0  # degrees: a pose range keeps its faces' (yaw, pitch) on this grid, with counts


def pose_cells(poses: np.ndarray) -> list[list[float]]:
    """[[yaw, pitch, count], ...]: (N, 2) yaw/pitch in degrees gathered onto a POSE_CELL grid (what a
    model stores of the poses it was trained on: small, and enough to tell which poses it has seen)."""
    poses = np.asarray(poses, np.float64).reshape(-1, 2)
    if not len(poses):
        return []
    cells, counts = np.unique(np.round(poses / POSE_CELL).astype(np.int64), axis=0, return_counts=True)
    return [[float(y * POSE_CELL), float(p * POSE_CELL), int(n)] for (y, p), n in zip(cells, counts, strict=True)]


class PoseRange:
    """The head poses one identity was trained on, and how far a face's pose lies outside them.

    `distance` is the angle (degrees, yaw and pitch together) from a pose to its k-th nearest trained
    face, k = 1% of the faces (at least 3), so a few faces at a stray pose (a mis-read frame) do not
    count as a pose the model has learned."""

    def __init__(self, cells: list[list[float]]):
        table = np.asarray(cells, np.float64).reshape(-1, 3)
        self.points, self.counts = table[:, :2], np.clip(np.round(table[:, 2]), 0, None)  # a model from anywhere
        total = float(self.counts.sum())
        self.k = max(3.0, round(0.01 * total))
        self.faces = int(total)

    def distance(self, yaw: float, pitch: float) -> float:
        if self.faces < self.k:
            return 0.0  # too few faces to say anything
        d = np.hypot(self.points[:, 0] - yaw, self.points[:, 1] - pitch)
        order = np.argsort(d, kind="stable")
        reached = min(int(np.searchsorted(np.cumsum(self.counts[order]), self.k)), len(order) - 1)
        return float(d[order[reached]])
