"""Read dlib imglab XML files (boxes with 68 labelled points), the format of dlib's landmark data.

Used to measure landmark accuracy (tests, benchmarks) and to fit the face-mesh -> iBUG-68 mapping.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from .detect import Detection


def read_imglab(path: str | Path) -> list[tuple[Path, np.ndarray, np.ndarray]]:
    """(image path, box x0 y0 x1 y1, (68, 2) float64 points) for every box of an imglab XML."""
    path = Path(path)
    out = []
    for image in ET.parse(path).getroot().iter("image"):
        for box in image.iter("box"):
            pts = np.zeros((68, 2), np.float64)
            for part in box.iter("part"):
                pts[int(part.get("name"))] = (float(part.get("x")), float(part.get("y")))
            x0, y0 = float(box.get("left")), float(box.get("top"))
            xyxy = np.array([x0, y0, x0 + float(box.get("width")), y0 + float(box.get("height"))])
            out.append((path.parent / image.get("file"), xyxy, pts))
    return out


def detection_from_landmarks(box: np.ndarray, pts: np.ndarray) -> Detection:
    """A Detection built from labelled data: the box (dlib HOG convention, which BlazeFace boxes match)
    and eyes, nose tip and mouth centre taken from the 68 points."""
    keypoints = np.stack([pts[36:42].mean(0), pts[42:48].mean(0), pts[30], (pts[62] + pts[66]) / 2])
    return Detection(np.asarray(box, np.float32), 1.0, keypoints.astype(np.float32))
