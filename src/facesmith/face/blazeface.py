"""MediaPipe BlazeFace detection, two models combined, run with ai-edge-litert.

- "back" (256 px input, strides 16/32): finds large and medium faces, including close-ups that fill
  the frame;
- "full range" (192 px, stride 4, one anchor per cell): finds smaller, farther faces.

Each model sees the whole frame letterboxed into its square input. Their candidates are decoded
against SSD anchors generated here exactly as MediaPipe's SsdAnchorsCalculator does, pooled, and
merged by MediaPipe's weighted NMS (overlapping candidates are averaged, weighted by score), so a face
both models see becomes one detection with a steadier box.

Frames much larger than the models' inputs shrink small faces below what either model can see (a
40 px face in a 1920 px frame is 4 px at 192), so frames whose long side exceeds `tile_above` are
cut into overlapping tiles, each run through the full-range model instead of the whole frame.
Measured on 12 street_crowd_1080p frames (faces found / confirmed by the face-mesh presence flag /
ms per frame on the 2-core machine, unloaded):
    no tiles            49 / 34 / ~14 ms
    tile_size=1080 (3)  54 / 40 / ~22 ms
    tile_size=800  (6)  67 / 46 / ~34 ms   <- default
    tile_size=640  (8)  72 / 49 / ~44 ms
The tracker runs the detector only every few frames, so the extra cost is mostly amortised.

Not thread-safe for parallel speed: one instance serialises its calls (see litert.py); create one
detector per worker thread.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..assets import asset_path
from .detect import Detection, register_detector
from .litert import TFLiteModel

_RAW_SCORE_LIMIT = 80.0  # MediaPipe clips logits to +-100; 80 keeps float32 exp() finite
_NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for face detection


def ssd_anchors(input_size: int, strides: list[int], anchors_per_cell: list[int]) -> np.ndarray:
    """Anchor centres (N, 2), normalised to the input, in the order the model emits its outputs.

    MediaPipe's face models use fixed-size anchors (width = height = 1), so only the centres matter.
    Consecutive layers with the same stride share one feature map; their anchors are interleaved per
    cell, which is why counts add up per stride (back: 2 at stride 16, 2+2+2 at stride 32).
    """
    centres: list[np.ndarray] = []
    i = 0
    while i < len(strides):
        stride, repeats = strides[i], 0
        while i < len(strides) and strides[i] == stride:
            repeats += anchors_per_cell[i]
            i += 1
        cells = input_size // stride
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, repeats, axis=0))
    return np.concatenate(centres).astype(np.float32)


class _BlazeModel:
    def __init__(self, file: str, strides: list[int], anchors_per_cell: list[int], num_threads: int) -> None:
        self.model = TFLiteModel(asset_path(file), num_threads=num_threads)
        self.size = self.model.input_shape[1]
        self.anchors = ssd_anchors(self.size, strides, anchors_per_cell)
        # outputs: regressors (1, N, 16) then classificators (1, N, 1); check by shape, not name
        self._reg_first = self.model.run(np.zeros(self.model.input_shape, np.float32))[0].shape[-1] == 16

    def candidates(self, square_rgb: np.ndarray, min_score: float) -> tuple[np.ndarray, np.ndarray]:
        """Raw candidates above `min_score` on a uint8 RGB square image of the model's size:
        (K, 6, 2) box corners + 4 keypoints normalised to the square, and (K,) scores."""
        tensor = square_rgb.astype(np.float32)[None] * (2.0 / 255.0) - 1.0  # MediaPipe: [-1, 1]
        out = self.model.run(tensor)
        raw, logits = (out[0], out[1]) if self._reg_first else (out[1], out[0])
        logits = np.clip(logits.reshape(-1), -_RAW_SCORE_LIMIT, _RAW_SCORE_LIMIT)
        scores = 1.0 / (1.0 + np.exp(-logits))
        keep = np.flatnonzero(scores >= min_score)
        raw = raw.reshape(-1, 16)[keep].reshape(-1, 8, 2) / self.size
        anchors = self.anchors[keep][:, None, :]
        centre, half = raw[:, 0] + anchors[:, 0], raw[:, 1] / 2
        points = raw[:, 2:6] + anchors  # 6 keypoints; the last two (ear tragions) are unused
        boxes = np.stack([centre - half, centre + half], axis=1)
        valid = (half > 0).all(axis=1)
        return np.concatenate([boxes, points], axis=1)[valid], scores[keep][valid]


def weighted_nms(data: np.ndarray, scores: np.ndarray, iou_threshold: float = _NMS_IOU) -> list[Detection]:
    """MediaPipe's weighted NMS: the best remaining candidate absorbs every candidate overlapping it
    by more than `iou_threshold`; the merged box and keypoints are the score-weighted mean, the score
    is the best one's. `data` is (K, 6, 2): x0y0, x1y1, 4 keypoints, in pixels."""
    order = np.argsort(-scores, kind="stable")
    data, scores = data[order], scores[order]
    boxes = data[:, :2].reshape(-1, 4)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    alive = np.ones(len(scores), dtype=bool)
    out: list[Detection] = []
    for i in range(len(scores)):
        if not alive[i]:
            continue
        ix0 = np.maximum(boxes[i, 0], boxes[:, 0])
        iy0 = np.maximum(boxes[i, 1], boxes[:, 1])
        ix1 = np.minimum(boxes[i, 2], boxes[:, 2])
        iy1 = np.minimum(boxes[i, 3], boxes[:, 3])
        inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
        iou = inter / np.maximum(areas[i] + areas - inter, 1e-9)
        group = alive & (iou > iou_threshold)
        group[i] = True
        w = scores[group]
        merged = (data[group] * w[:, None, None]).sum(axis=0) / w.sum()
        alive &= ~group
        out.append(Detection(merged[:2].reshape(4), float(scores[i]), merged[2:]))
    return out


def _letterbox(image_rgb: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """Fit the image into a size x size square, centred, padded with black (as MediaPipe does).
    Returns the square and (scale, pad_x, pad_y): square = image * scale + pad."""
    h, w = image_rgb.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    # Bilinear, as MediaPipe's own preprocessing: measured on our clips it finds more small faces than
    # INTER_AREA (31 vs 27 on sampled street-crowd frames) and costs 0.1 ms instead of 3-6 ms at 1080p.
    resized = cv2.resize(image_rgb, (nw, nh), interpolation=cv2.INTER_LINEAR)
    px, py = (size - nw) // 2, (size - nh) // 2
    square = np.zeros((size, size, 3), np.uint8)
    square[py : py + nh, px : px + nw] = resized
    return square, scale, float(px), float(py)


@register_detector("blazeface")
class BlazeFaceDetector:
    """Options: min_score (0.5, MediaPipe's), tile_above (long side in px above which the frame is
    also tiled for small faces; 0 disables tiling), tile_size (px of a tile), num_threads (per model)."""

    name = "blazeface"

    def __init__(self, min_score: float = 0.5, tile_above: int = 1400, tile_size: int = 800,
                 num_threads: int = 1) -> None:
        self.min_score = float(min_score)
        self.tile_above = int(tile_above)
        self.tile_size = int(tile_size)
        self._back = _BlazeModel("face_detection_back.tflite", [16, 32, 32, 32], [2, 2, 2, 2], num_threads)
        self._full = _BlazeModel("face_detection_full_range.tflite", [4], [1], num_threads)

    def _run(self, model: _BlazeModel, rgb: np.ndarray, dx: float = 0.0, dy: float = 0.0,
             inner: tuple[bool, bool, bool, bool] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Candidates in pixels of the whole frame; (dx, dy) is where `rgb` (a tile) sits in it.
        `inner` flags the tile's left/top/right/bottom edges that are inside the frame: a candidate
        touching such an edge is a face the tile cuts, whole in the neighbouring tile, so it is dropped
        instead of being merged as a shifted half-face."""
        square, scale, px, py = _letterbox(rgb, model.size)
        data, scores = model.candidates(square, self.min_score)
        data = (data * model.size - np.array([px, py], np.float32)) / scale
        if inner is not None and len(scores):
            h, w = rgb.shape[:2]
            margin = 0.02 * max(h, w)
            x0, y0, x1, y1 = data[:, 0, 0], data[:, 0, 1], data[:, 1, 0], data[:, 1, 1]
            cut = ((inner[0] & (x0 < margin)) | (inner[1] & (y0 < margin))
                   | (inner[2] & (x1 > w - margin)) | (inner[3] & (y1 > h - margin)))
            data, scores = data[~cut], scores[~cut]
        return data + np.array([dx, dy], np.float32), scores

    def _tiles(self, h: int, w: int) -> list[tuple[int, int, int, int]]:
        """Overlapping square tiles covering the frame (overlap >= 1/4 tile, so a face that a tile
        cuts is whole in its neighbour unless it is larger than a quarter tile; those the whole-frame
        pass finds)."""
        t = min(self.tile_size, h, w)

        def starts(n: int) -> list[int]:
            count = max(1, int(np.ceil((n - t) / (0.75 * t))) + 1) if n > t else 1
            return [round(i * (n - t) / max(1, count - 1)) for i in range(count)]

        return [(x, y, x + t, y + t) for y in starts(h) for x in starts(w)]

    def detect(self, image_bgr: np.ndarray, thorough: bool = True) -> list[Detection]:
        """Both models; tiles for big frames. `thorough=False`: the full-range model alone on frames
        up to `tile_above` (a third of the time; on every shared clip it finds as many faces as the
        back model, more in low light). Bigger frames always get the thorough pass: without tiles
        it finds a third fewer faces in the 1080p crowd clip."""
        if image_bgr.ndim != 3 or image_bgr.shape[2] != 3 or image_bgr.size == 0:
            raise ValueError(f"expected a BGR image (H, W, 3), got shape {image_bgr.shape}")
        rgb = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        small = not self.tile_above or max(h, w) <= self.tile_above
        parts = [self._run(self._back, rgb)] if thorough or not small else []
        if small:
            parts.append(self._run(self._full, rgb))
        else:  # the tiles replace the whole-frame full-range pass: they see the same faces larger
            for x0, y0, x1, y1 in self._tiles(h, w):
                inner = (x0 > 0, y0 > 0, x1 < w, y1 < h)
                parts.append(self._run(self._full, rgb[y0:y1, x0:x1], x0, y0, inner))
        data = np.concatenate([p[0] for p in parts])
        scores = np.concatenate([p[1] for p in parts])
        if len(scores) == 0:
            return []
        return _drop_nested(weighted_nms(data, scores))


def _drop_nested(dets: list[Detection], max_cover: float = 0.5) -> list[Detection]:
    """Drop a detection when more than `max_cover` of it (or of the better one) lies inside a better
    one. IoU-based NMS keeps such pairs: at a different scale the full-range model sometimes adds a
    second, shifted box on the forehead of a face it already found (IoU 0.2-0.3, seen on the street
    crowd clip). Two real faces overlap this much only when one hides the other."""
    kept: list[Detection] = []
    for d in dets:  # best first
        area = float(np.prod(d.box[2:] - d.box[:2]))
        for k in kept:
            wh = np.minimum(d.box[2:], k.box[2:]) - np.maximum(d.box[:2], k.box[:2])
            inter = float(np.prod(np.clip(wh, 0, None)))
            if inter > max_cover * min(area, float(np.prod(k.box[2:] - k.box[:2]))):
                break
        else:
            kept.append(d)
    return kept
