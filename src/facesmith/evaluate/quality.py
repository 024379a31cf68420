"""What a viewer judges in the face itself: detail, expression followed, fidelity, and crops to look at.

- Sharpness: variance of the Laplacian of the grey image inside the target face's landmark box, in the
  swapped frame and in the target frame at the same place; the ratio (swapped / target) is 1 for a face
  as detailed as the original, ~0.4 for a 64 px patch enlarged onto a 200 px face. A sharpening filter
  raises it too, so it is reported beside the full-reference figures below, never alone.
- Expression followed: mouth opening (inner-lip gap) and eye opening (eye aspect ratio) of the swapped
  face against the target's, frame by frame, as Pearson correlations: a swap that draws the source's
  usual expression instead of the target's scores near 0 even when its landmarks sit close on average.
- Full reference: PSNR and SSIM of the grey face box, swapped against target. For a real swap this only
  says how much changed; when SWAPPED redraws TARGET's own person (A->A, on frames the model never saw)
  it measures the detail and fidelity a model can reproduce, which a filter cannot fake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from ..face.expression import eye_opening, mouth_opening

CROP_MARGIN = 0.25  # the side-by-side crops show the face box grown by this share of its size
CROPS = 4  # crop pairs kept for the report


def face_box(points: np.ndarray, shape: tuple[int, ...], margin: float = 0.0) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the landmarks' bounding box grown by `margin` of its size, inside the frame."""
    lo, hi = points.min(0), points.max(0)
    grow = (hi - lo) * margin
    x0, y0 = np.floor(lo - grow).astype(int)
    x1, y1 = np.ceil(hi + grow).astype(int)
    return max(0, x0), max(0, y0), min(shape[1], x1), min(shape[0], y1)


def laplacian_variance(gray: np.ndarray) -> float:
    return float(cv2.Laplacian(gray, cv2.CV_64F).var()) if gray.size else float("nan")


def correlation(a: list[float], b: list[float]) -> float | None:
    """Pearson correlation; None with fewer than 3 pairs or when either series does not vary."""
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or x.std() < 1e-9 or y.std() < 1e-9:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def ssim_gray(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two grey uint8 images (Gaussian window, sigma 1.5, as Wang et al. 2004)."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(v: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(v, (11, 11), 1.5)

    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = (2 * mx * my + c1) * (2 * cov + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def box_psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 100.0 if mse <= 0 else float(min(100.0, 10 * np.log10(255.0**2 / mse)))


def crop_pair(target: np.ndarray, swapped: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Target | swapped crops of the same face box (grown by CROP_MARGIN), at 100%, 4 px apart."""
    x0, y0, x1, y1 = face_box(points, target.shape, CROP_MARGIN)
    gap = np.full((y1 - y0, 4, 3), 255, np.uint8)
    return np.hstack([target[y0:y1, x0:x1], gap, swapped[y0:y1, x0:x1]])


@dataclass
class FaceQuality:
    """Per-frame face measures of the largest matched face, gathered while evaluate walks the frames."""

    sharp_target: list[float] = field(default_factory=list)
    sharp_swapped: list[float] = field(default_factory=list)
    mouth: list[tuple[float, float]] = field(default_factory=list)
    eyes: list[tuple[float, float]] = field(default_factory=list)
    crops: list[tuple[int, np.ndarray]] = field(default_factory=list)  # (frame index, target|swapped)

    def add(self, target: np.ndarray, swapped: np.ndarray, points_t: np.ndarray, points_s: np.ndarray,
            row: dict[str, Any], crop: bool) -> None:
        """Measure one frame's face (BGR frames, 68-point landmarks) and note the figures in `row`."""
        x0, y0, x1, y1 = face_box(points_t, target.shape)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return
        gt = cv2.cvtColor(target[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
        gs = cv2.cvtColor(swapped[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)
        lt, ls = laplacian_variance(gt), laplacian_variance(gs)
        self.sharp_target.append(lt)
        self.sharp_swapped.append(ls)
        self.mouth.append((mouth_opening(points_t), mouth_opening(points_s)))
        self.eyes.append((eye_opening(points_t), eye_opening(points_s)))
        row.update(sharpness_target=round(lt, 2), sharpness_swapped=round(ls, 2),
                   mouth_target=round(self.mouth[-1][0], 4), mouth_swapped=round(self.mouth[-1][1], 4),
                   eyes_target=round(self.eyes[-1][0], 4), eyes_swapped=round(self.eyes[-1][1], 4),
                   face_psnr=round(box_psnr(gt, gs), 3), face_ssim=round(ssim_gray(gt, gs), 4))
        if crop:
            self.crops.append((int(row["index"]), crop_pair(target, swapped, points_t)))

    def summary(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        st, ss = np.asarray(self.sharp_target), np.asarray(self.sharp_swapped)
        ratio = float(ss.mean() / st.mean()) if len(st) and st.mean() > 0 else None
        mouth = correlation(*zip(*self.mouth, strict=True)) if self.mouth else None
        eyes = correlation(*zip(*self.eyes, strict=True)) if self.eyes else None
        measured = [r for r in rows if "face_psnr" in r]
        return {
            "sharpness_ratio": None if ratio is None else round(ratio, 4),
            "sharpness_target": round(float(st.mean()), 2) if len(st) else None,
            "sharpness_swapped": round(float(ss.mean()), 2) if len(ss) else None,
            "mouth_correlation": None if mouth is None else round(mouth, 4),
            "eye_correlation": None if eyes is None else round(eyes, 4),
            "mouth_range_target": _spread([m[0] for m in self.mouth]),
            "eye_range_target": _spread([e[0] for e in self.eyes]),
            "face_psnr": _mean([r["face_psnr"] for r in measured]),
            "face_ssim": _mean([r["face_ssim"] for r in measured]),
            "frames": len(st),
        }


def _mean(v: list[float]) -> float | None:
    return round(float(np.mean(v)), 4) if v else None


def _spread(v: list[float]) -> float | None:
    """Standard deviation of the target's own openings: a correlation over a face that never moves
    its mouth says little, so the report shows how much there was to follow."""
    return round(float(np.std(v)), 4) if len(v) > 1 else None
