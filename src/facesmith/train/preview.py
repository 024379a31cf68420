"""Preview grids (A->A, A->B, B->B, B->A on fixed faces) and the loss-curve plot, drawn with OpenCV."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from .. import atomic


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x.detach().float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8)


@torch.no_grad()
def preview_grid(model: torch.nn.Module, faces_a: torch.Tensor, faces_b: torch.Tensor, cell: int = 128) -> np.ndarray:
    """Rows of fixed faces; columns: A | A->A | A->B || B | B->B | B->A (BGR uint8 image)."""
    was_training = model.training
    model.eval()
    cols = [faces_a, model.render(faces_a, "a")[0], model.render(faces_a, "b")[0],
            faces_b, model.render(faces_b, "b")[0], model.render(faces_b, "a")[0]]
    model.train(was_training)
    cols_np = [_to_uint8(c) for c in cols]
    n = len(faces_a)
    gap = 6
    header = 24
    grid = np.full((header + n * cell, 6 * cell + gap, 3), 32, np.uint8)
    titles = ["A", "A->A", "A->B", "B", "B->B", "B->A"]
    for j, (col, title) in enumerate(zip(cols_np, titles, strict=True)):
        x0 = j * cell + (gap if j >= 3 else 0)
        cv2.putText(grid, title, (x0 + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (230, 230, 230), 1, cv2.LINE_AA)
        for i in range(n):
            tile = cv2.resize(col[i], (cell, cell), interpolation=cv2.INTER_CUBIC)
            grid[header + i * cell: header + (i + 1) * cell, x0: x0 + cell] = tile
    return grid


def write_png(path: Path, image: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", image)
    if not ok:
        raise OSError(f"PNG encoding failed for {path}")
    atomic.write_bytes(path, buf.tobytes())


def _smooth(y: np.ndarray, k: int) -> np.ndarray:
    if len(y) < 3 or k < 2:
        return y
    k = min(k, len(y))
    c = np.cumsum(np.insert(y, 0, 0.0))
    head = c[1:k] / np.arange(1, k)
    return np.concatenate([head, (c[k:] - c[:-k]) / k])


def loss_plot(iterations: np.ndarray, series: dict[str, np.ndarray], w: int = 800, h: int = 420) -> np.ndarray:
    """Loss curves (log scale, smoothed) as a BGR image; raw values drawn faintly underneath."""
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 70, 20, 30, 40
    pw, ph = w - left - right, h - top - bottom
    cv2.rectangle(img, (left, top), (left + pw, top + ph), (0, 0, 0), 1)
    vals = np.concatenate([v[np.isfinite(v) & (v > 0)] for v in series.values()] + [np.array([1e-3, 1e-2])])
    if len(iterations) < 2:
        return img
    lo, hi = np.log10(np.percentile(vals, 1)), np.log10(vals.max())
    hi = max(hi, lo + 0.1)
    x0, x1 = float(iterations[0]), float(max(iterations[-1], iterations[0] + 1))

    def to_px(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        px = left + (x - x0) / (x1 - x0) * pw
        py = top + (hi - np.log10(np.clip(y, 10**lo, None))) / (hi - lo) * ph
        return np.stack([px, py], 1).round().astype(np.int32)

    colours = [(200, 80, 30), (30, 60, 220), (40, 160, 40), (150, 40, 150)]
    for (name, y), colour in zip(series.items(), colours, strict=False):
        faint = tuple(int(255 - (255 - c) * 0.25) for c in colour)
        cv2.polylines(img, [to_px(iterations, y)], False, faint, 1, cv2.LINE_AA)
        cv2.polylines(img, [to_px(iterations, _smooth(y, max(1, len(y) // 50)))], False, colour, 2, cv2.LINE_AA)
        k = list(series).index(name)
        cv2.putText(img, name, (left + 10 + 130 * k, top - 10), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    for t in np.linspace(lo, hi, 5):
        y = int(top + (hi - t) / (hi - lo) * ph)
        cv2.putText(img, f"{10**t:.3g}", (5, y + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    for t in np.linspace(x0, x1, 5):
        x = int(left + (t - x0) / (x1 - x0) * pw)
        cv2.putText(img, f"{int(t)}", (x - 15, h - 20), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "iteration", (left + pw // 2 - 30, h - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return img
