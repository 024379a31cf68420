"""Evenly spaced picks: which frames, faces or files stand for a whole sequence."""

from __future__ import annotations

import numpy as np


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """Up to `k` evenly spaced indices into `n` items, first and last included, in order, no repeats."""
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int))
