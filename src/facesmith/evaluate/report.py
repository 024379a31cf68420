"""The HTML report of `facesmith evaluate`: one self-contained file, plots inlined as base64 PNGs.

Plots are drawn with OpenCV (no plotting library needed, nothing fetched from the network).
"""

from __future__ import annotations

import base64
import html
import json
from typing import Any

import cv2
import numpy as np

W, H = 900, 270
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 44, 40
COLORS = [(200, 90, 30), (40, 40, 220), (40, 160, 40), (150, 60, 160)]  # BGR


def _ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    step = (hi - lo) / n
    mag = 10 ** np.floor(np.log10(step)) if step > 0 else 1.0
    step = min((s * mag for s in (1, 2, 5, 10) if s * mag >= step), default=step)
    return np.arange(np.ceil(lo / step) * step, hi + step * 1e-6, step)


def line_plot(title: str, x: list[float], series: dict[str, list[float | None]], ylabel: str = "",
              markers: bool = False) -> bytes:
    """PNG bytes of a line chart of `series` (None values leave gaps) against `x`."""
    img = np.full((H, W, 3), 255, np.uint8)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, title, (LEFT, 20), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    values = [v for s in series.values() for v in s if v is not None and np.isfinite(v)]
    x0, x1 = (min(x), max(x)) if x else (0.0, 1.0)
    x1 = x1 if x1 > x0 else x0 + 1
    y0, y1 = (min(values), max(values)) if values else (0.0, 1.0)
    y0 = min(y0, 0.0) if y0 >= 0 else y0
    y1 = y1 + (y1 - y0) * 0.05 if y1 > y0 else y0 + 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM

    def px(xv: float, yv: float) -> tuple[int, int]:
        return int(LEFT + (xv - x0) / (x1 - x0) * pw), int(TOP + ph - (yv - y0) / (y1 - y0) * ph)

    for t in _ticks(y0, y1):
        _, yy = px(x0, t)
        cv2.line(img, (LEFT, yy), (W - RIGHT, yy), (230, 230, 230), 1)
        cv2.putText(img, f"{t:.3g}", (5, yy + 4), font, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
    for t in _ticks(x0, x1, 8):
        xx, _ = px(t, y0)
        cv2.line(img, (xx, TOP + ph), (xx, TOP + ph + 4), (80, 80, 80), 1)
        cv2.putText(img, f"{t:.3g}", (xx - 10, TOP + ph + 18), font, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
    cv2.rectangle(img, (LEFT, TOP), (LEFT + pw, TOP + ph), (120, 120, 120), 1)
    cv2.putText(img, f"{ylabel}  vs  time (s)", (LEFT, H - 6), font, 0.4, (80, 80, 80), 1, cv2.LINE_AA)
    lx = W - RIGHT - 10
    for k, (name, ys) in enumerate(series.items()):
        color = COLORS[k % len(COLORS)]
        prev = None
        for xv, yv in zip(x, ys, strict=True):
            if yv is None or not np.isfinite(yv):
                prev = None
                continue
            p = px(xv, yv)
            if prev is not None:
                cv2.line(img, prev, p, color, 1, cv2.LINE_AA)
            if markers:
                cv2.circle(img, p, 3, color, -1, cv2.LINE_AA)
            prev = p
        (tw, _), _ = cv2.getTextSize(name, font, 0.45, 1)
        lx -= tw + 30
        cv2.line(img, (lx, 34), (lx + 18, 34), color, 2)
        cv2.putText(img, name, (lx + 22, 38), font, 0.45, color, 1, cv2.LINE_AA)
    ok, png = cv2.imencode(".png", img)
    return png.tobytes() if ok else b""


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _table(title: str, data: dict[str, Any]) -> str:
    cells = "".join(f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{html.escape(_fmt(v))}</td></tr>"
                    for k, v in data.items())
    return f"<h2>{html.escape(title)}</h2><table>{cells}</table>"


def _fmt(v: Any) -> str:
    if isinstance(v, dict):
        return ", ".join(f"{k} {_fmt(x)}" for k, x in v.items())
    return "-" if v is None else str(v)


def _crops(crops: list[tuple[int, np.ndarray]]) -> list[str]:
    """Target | swapped face crops at 100% (no scaling in the page: CSS pixels = image pixels)."""
    out = []
    for index, image in crops:
        ok, png = cv2.imencode(".png", image)
        if ok:
            out.append(f"<p>frame {index}: target (left) | swapped (right)</p>"
                       f'<img class="crop" width="{image.shape[1]}" height="{image.shape[0]}" alt="frame {index}" '
                       f'src="data:image/png;base64,{base64.b64encode(png.tobytes()).decode()}">')
    return out


def render(summary: dict[str, Any], crops: list[tuple[int, np.ndarray]] | None = None) -> str:
    rows = summary["frames"]
    t = [r["time"] for r in rows]
    col = lambda key: [r.get(key) for r in rows]  # noqa: E731
    ident = [r for r in rows if "source_distance" in r]
    plots = [
        line_plot("Identity: distance of the swapped face to each identity (lower = nearer)",
                  [r["time"] for r in ident], {"to source": [r["source_distance"] for r in ident],
                                               "to target": [r["target_distance"] for r in ident]},
                  "dlib distance", markers=True),
        line_plot("Expression kept: landmark error, target vs swapped", t, {"error": col("landmark_error")},
                  "inter-ocular distances"),
        line_plot("Pose kept: head pose differences", t, {"yaw": col("yaw_diff"), "pitch": col("pitch_diff"),
                                                          "roll": col("roll_diff")}, "degrees"),
        line_plot("Temporal stability: landmark jitter", t, {"target": col("jitter_target"),
                                                             "swapped": col("jitter_swapped")},
                  "inter-ocular distances"),
        line_plot("Background kept: PSNR outside the faces", t, {"PSNR": col("background_psnr")}, "dB"),
        line_plot("Expression followed: mouth opening", t, {"target": col("mouth_target"),
                                                           "swapped": col("mouth_swapped")}, "inter-ocular distances"),
        line_plot("Expression followed: eye opening", t, {"target": col("eyes_target"),
                                                         "swapped": col("eyes_swapped")}, "eye aspect ratio"),
        line_plot("Detail: Laplacian variance in the face box", t, {"target": col("sharpness_target"),
                                                                    "swapped": col("sharpness_swapped")}, "grey levels^2"),
    ]
    top = {k: summary[k] for k in ("target", "swapped", "source", "frames_evaluated", "frames_with_faces",
                                   "identity_source_nearer_share", "identity_nearer", "landmark_error",
                                   "sharpness_ratio", "mouth_correlation", "eye_correlation", "flicker_ratio",
                                   "background_psnr", "marked")}
    parts = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>facesmith evaluate</title><style>",
        "body{font-family:sans-serif;margin:2em;max-width:960px}"
        "table{border-collapse:collapse;margin-bottom:1em}img{display:block;margin:1em 0}"
        "img.crop{max-width:none;image-rendering:pixelated}"
        "th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;font-size:13px}",
        "</style></head><body><h1>facesmith evaluate</h1>",
        f"<p>Background PSNR is capped at {summary['background']['psnr_identical']} dB (identical pixels). "
        "Landmark distances are in inter-ocular distances of the target face.</p>",
        _table("Summary", top), _table("Identity", summary["identity"]),
        _table("Expression and pose", summary["expression_pose"]),
        _table("Face: detail, expression followed, full reference (face box, grey)", summary["face"]),
        _table("Temporal stability", summary["temporal"]),
        _table("Background", summary["background"]), _table("Provenance", summary["provenance"]),
        "<h2>Faces at 100%</h2>", *_crops(crops or []),
        "<h2>Plots</h2>", *(_img(p, "plot") for p in plots),
        "<h2>Per frame</h2><details><summary>JSON</summary><pre>",
        html.escape(json.dumps(rows, indent=None)), "</pre></details></body></html>",
    ]
    return "\n".join(parts)
