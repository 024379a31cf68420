"""Expression readings from 68 landmarks (iBUG order): eye openness and mouth opening, in ratios that
do not change with the face's position, size or roll. What evaluate correlates with the target, what
the blend reads to keep the target's open mouth, what training balances its samples over. The same
readings from the face mesh, differentiable, are in `mesh_expression.py`."""

from __future__ import annotations

import numpy as np


def _iod(points: np.ndarray) -> float:
    return float(np.linalg.norm(points[36] - points[45])) or 1.0


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap (points 61-67, 62-66, 63-65) in inter-ocular distances."""
    gap = np.linalg.norm(points[[61, 62, 63]] - points[[67, 66, 65]], axis=1).mean()
    return float(gap / _iod(points))


def eye_opening(points: np.ndarray) -> float:
    """Eye aspect ratio (lid gap over eye width), both eyes averaged (Soukupova & Cech 2016)."""
    ratios = []
    for e in (36, 42):  # outer corner of each eye; its six points run e .. e+5
        p = points[e:e + 6]
        gap = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
        ratios.append(gap / (2 * max(float(np.linalg.norm(p[0] - p[3])), 1e-6)))
    return float(np.mean(ratios))


def flip_features(features: np.ndarray) -> np.ndarray:
    """The readings (N, 4) of the mirrored faces: the eyes change sides."""
    return features[:, [1, 0, 2, 3]]
