"""How open a face's mouth and eyes are, from its 68 landmarks (iBUG order), in units that do not
depend on the face's size: what evaluate correlates with the target, what the blend reads to keep
the target's open mouth, what training can balance its samples over."""

from __future__ import annotations

import numpy as np


def eye_distance(points: np.ndarray) -> float:
    """Outer-corner to outer-corner distance (points 36 and 45); 1 for a degenerate face."""
    return float(np.linalg.norm(points[36] - points[45])) or 1.0


def mouth_opening(points: np.ndarray) -> float:
    """Inner-lip gap (points 61-67, 62-66, 63-65) in eye distances."""
    gap = np.linalg.norm(points[[61, 62, 63]] - points[[67, 66, 65]], axis=1).mean()
    return float(gap / eye_distance(points))


def eye_opening(points: np.ndarray) -> float:
    """Eye aspect ratio (lid gap over eye width), both eyes averaged (Soukupova & Cech 2016)."""
    ratios = []
    for e in (36, 42):  # outer corner of each eye; its six points run e .. e+5
        p = points[e:e + 6]
        gap = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
        ratios.append(gap / (2 * max(float(np.linalg.norm(p[0] - p[3])), 1e-6)))
    return float(np.mean(ratios))
