"""Temporal smoothing of landmarks: a One Euro filter (Casiez et al., CHI 2012) per track.

Still faces get a low cut-off (jitter removed), fast motion raises it (no lag). Speeds are measured in
face widths (inter-ocular distances) per second so that one setting suits every face size.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    def __init__(self, min_cutoff: float = 1.5, beta: float = 2.0, d_cutoff: float = 1.0):
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.x: np.ndarray | None = None
        self.dx: np.ndarray | None = None
        self.t: float | None = None

    def __call__(self, points: np.ndarray, t: float, scale: float) -> np.ndarray:
        """Filter (N, 2) points observed at time t; `scale` is the face size in pixels."""
        points = np.asarray(points, np.float64)
        if self.x is None or self.t is None or t <= self.t:
            self.x, self.dx, self.t = points, np.zeros_like(points), t
            return points
        dt = t - self.t
        dx = (points - self.x) / dt
        self.dx = self.dx + _alpha(self.d_cutoff, dt) * (dx - self.dx)
        speed = np.linalg.norm(self.dx, axis=1, keepdims=True) / max(scale, 1.0)
        a = _alpha(self.min_cutoff + self.beta * speed, dt)
        self.x = self.x + a * (points - self.x)
        self.t = t
        return self.x

    def state(self) -> dict[str, Any] | None:
        if self.x is None or self.dx is None:
            return None
        return {"x": self.x.tolist(), "dx": self.dx.tolist(), "t": self.t}

    def load(self, state: dict[str, Any] | None) -> None:
        if state:
            self.x, self.dx, self.t = np.array(state["x"]), np.array(state["dx"]), float(state["t"])


def landmark_jitter(tracks: list[np.ndarray]) -> float:
    """Mean second difference of landmark positions between consecutive frames, in inter-ocular
    distances: high-frequency motion that a viewer sees as shaking (smooth motion scores ~0)."""
    values = []
    for pts in tracks:  # (T, 68, 2) per track
        if len(pts) < 3:
            continue
        iod = np.linalg.norm(pts[:, 36] - pts[:, 45], axis=1)[1:-1, None]
        acc = np.linalg.norm(pts[2:] - 2 * pts[1:-1] + pts[:-2], axis=2)
        values.append((acc / iod).mean())
    return float(np.mean(values)) if values else 0.0
