"""Synthetic things in front of a face, for training and testing the occlusion network (occlusion.py).

`paste_occluder` draws one occluder over an aligned face crop and returns the image and the exact
mask of what it covers. Shapes follow what covers faces in video: sticks (pens, fingers,
microphones), hands (a palm with fingers, usually entering from an edge), blobs (objects), rotated
boxes (phones, cups) and strands (hair falling across the face). Textures come from real pictures
(crops of other frames: backgrounds, clothes, other people's skin) or are flat colours with a
gradient and noise; each gets its own lighting, a soft or motion-blurred edge, and sometimes a
shadow on the face. Nothing here knows the face: the network must learn what a face is from the faces.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

SHAPES = ("stick", "hand", "blob", "box", "strands")


def _capsule(mask: np.ndarray, p0: np.ndarray, p1: np.ndarray, width: float) -> None:
    cv2.line(mask, tuple(np.round(p0 * 16).astype(int)), tuple(np.round(p1 * 16).astype(int)), 255,
             max(1, round(width)), cv2.LINE_AA, shift=4)


def _edge_point(rng: np.random.Generator, size: int) -> np.ndarray:
    """A point a little outside the crop: hands and sticks come in from the frame around the face."""
    t = rng.uniform(0, size)
    side = rng.integers(4)
    out = rng.uniform(0.0, 0.15) * size
    return np.array([(t, -out), (size + out, t), (t, size + out), (-out, t)][side], np.float64)


def _shape(rng: np.random.Generator, size: int, kind: str) -> np.ndarray:
    m = np.zeros((size, size), np.uint8)
    centre = rng.uniform(0.2, 0.8, 2) * size
    if kind == "stick":
        p0 = _edge_point(rng, size)
        direction = centre - p0
        p1 = p0 + direction * rng.uniform(0.8, 2.5)
        _capsule(m, p0, p1, rng.uniform(0.025, 0.14) * size)
    elif kind == "hand":
        palm = _edge_point(rng, size) * 0.6 + centre * 0.4
        axes = (rng.uniform(0.15, 0.3) * size, rng.uniform(0.1, 0.22) * size)
        angle = rng.uniform(0, 180)
        cv2.ellipse(m, (palm * 16).astype(int), (np.array(axes) * 16).astype(int), angle, 0, 360, 255,
                    -1, cv2.LINE_AA, shift=4)
        toward = np.arctan2(*(centre - palm)[::-1])
        for k in range(rng.integers(1, 6)):
            a = toward + (k - 2) * rng.uniform(0.15, 0.35)
            length = rng.uniform(0.2, 0.45) * size
            tip = palm + length * np.array([np.cos(a), np.sin(a)])
            _capsule(m, palm, tip, rng.uniform(0.04, 0.08) * size)
    elif kind == "blob":
        n = rng.integers(5, 11)
        angles = np.sort(rng.uniform(0, 2 * np.pi, n))
        radius = rng.uniform(0.1, 0.35) * size * rng.uniform(0.6, 1.4, n)
        pts = centre + np.stack([np.cos(angles), np.sin(angles)], 1) * radius[:, None]
        cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    elif kind == "box":
        w, h = rng.uniform(0.12, 0.45, 2) * size
        pts = cv2.boxPoints(((float(centre[0]), float(centre[1])), (float(w), float(h)), float(rng.uniform(0, 180))))
        cv2.fillPoly(m, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    else:  # strands: curves falling from the top, across the face
        x0 = rng.uniform(0.1, 0.9) * size
        for _ in range(rng.integers(3, 14)):
            x = x0 + rng.normal(0, 0.08) * size
            ys = np.linspace(-0.05, rng.uniform(0.4, 1.1), 12) * size
            drift = np.cumsum(rng.normal(0, 0.012, 12)) * size + rng.uniform(-0.2, 0.2) * ys
            pts = np.stack([x + drift, ys], 1)
            cv2.polylines(m, [np.round(pts * 16).astype(np.int32)], False, 255,
                          max(1, round(rng.uniform(0.008, 0.03) * size)), cv2.LINE_AA, shift=4)
    return m


def _pattern(rng: np.random.Generator, size: int) -> np.ndarray:
    """A made-up surface: noise at a few scales mapped between two to four colours, sometimes with
    stripes (printed things, fabric, plastic), so that what is in front need not look like any picture
    the faces came with."""
    field = np.zeros((size, size), np.float32)
    for cells in rng.choice([2, 4, 8, 16, 32], rng.integers(1, 4), replace=False):
        noise = rng.random((int(cells), int(cells))).astype(np.float32)
        field += cv2.resize(noise, (size, size), interpolation=cv2.INTER_CUBIC) * rng.uniform(0.3, 1)
    if rng.random() < 0.35:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        a = rng.uniform(0, np.pi)
        field += (np.sin((np.cos(a) * xx + np.sin(a) * yy) * 2 * np.pi / rng.uniform(3, 16)) > 0) * rng.uniform(0.5, 2)
    field = (field - field.min()) / max(float(np.ptp(field)), 1e-6)
    colours = rng.uniform(0, 255, (int(rng.integers(2, 5)), 3)).astype(np.float32)
    pos = field * (len(colours) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(colours) - 2)
    t = (pos - lo)[..., None]
    return colours[lo] * (1 - t) + colours[lo + 1] * t


def _texture(rng: np.random.Generator, size: int, textures: list[np.ndarray], dark: bool) -> np.ndarray:
    pick = rng.random()
    if pick < 0.2:
        tex = _pattern(rng, size)
    elif textures and pick < 0.75:
        src = textures[rng.integers(len(textures))]
        h, w = src.shape[:2]
        side = int(rng.uniform(0.15, 1.0) * min(h, w))
        y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        tex = cv2.resize(src[y:y + side, x:x + side], (size, size), interpolation=cv2.INTER_AREA)
        if rng.random() < 0.5:
            tex = cv2.rotate(tex, int(rng.integers(3)))
        tex = tex.astype(np.float32) * rng.uniform(0.6, 1.3, 3) + rng.uniform(-25, 25, 3)
    else:
        colour = rng.uniform(0, 255, 3)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
        g = (rng.uniform(-1, 1) * xx + rng.uniform(-1, 1) * yy)[..., None] * rng.uniform(0, 80)
        tex = colour + g + rng.normal(0, rng.uniform(1, 12), (size, size, 3))
    if dark:
        tex = tex * rng.uniform(0.1, 0.45)
    return tex.astype(np.float32)


def paste_occluder(face: np.ndarray, textures: list[np.ndarray], rng: np.random.Generator,
                   kind: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(face with an occluder in front, uint8 0/255 mask of the pixels the occluder covers)."""
    size = face.shape[0]
    kind = kind or SHAPES[rng.integers(len(SHAPES))]
    alpha = _shape(rng, size, kind).astype(np.float32) / 255
    if rng.random() < 0.3:  # a second, smaller thing (two fingers, a pen in a hand)
        alpha = np.maximum(alpha, _shape(rng, size, "stick").astype(np.float32) / 255)
    tex = _texture(rng, size, textures, dark=kind == "strands" and rng.random() < 0.7)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    light = 1 + (rng.uniform(-0.4, 0.4) * (xx - 0.5) + rng.uniform(-0.4, 0.4) * (yy - 0.5))
    tex *= light[..., None]
    label = np.where(alpha > 0.5, 255, 0).astype(np.uint8)
    out = face.astype(np.float32)
    if rng.random() < 0.3:  # its shadow on the face, offset a little
        shift = rng.normal(0, 0.04, 2) * size
        shadow = cv2.warpAffine(alpha, np.float32([[1, 0, shift[0]], [0, 1, shift[1]]]), (size, size))
        shadow = cv2.GaussianBlur(shadow, (0, 0), rng.uniform(1, 4))
        out *= (1 - rng.uniform(0.2, 0.5) * shadow)[..., None]
    soft = rng.uniform(0.3, 1.5)
    if rng.random() < 0.2:  # moving: a motion-blurred edge
        k = int(rng.integers(3, 9))
        kernel = np.zeros((k, k), np.float32)
        kernel[k // 2] = 1 / k
        kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1),
                                (k, k))
        kernel /= kernel.sum() + 1e-6
        alpha = cv2.filter2D(alpha, -1, kernel)
        tex = cv2.filter2D(tex, -1, kernel)
    else:
        alpha = cv2.GaussianBlur(alpha, (0, 0), soft)
    out = out * (1 - alpha[..., None]) + tex * alpha[..., None]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8), label


def score_occluders(faces: list[tuple[np.ndarray, np.ndarray]], textures: list[np.ndarray],
                    predict: Callable[[list[np.ndarray]], np.ndarray], n: int, seed: int,
                    keep: int = 0) -> tuple[dict[str, list[float]], list[tuple[np.ndarray, np.ndarray]]]:
    """IoU of what `predict` marks covered (p > 0.5) with a pasted occluder, inside each face's hull,
    for `n` occluders cycling through SHAPES over `faces` ((crop, bool hull) pairs). Also returns the
    first `keep` (image with the occluder, predicted probability) pairs, to look at."""
    rng = np.random.default_rng(seed)
    ious: dict[str, list[float]] = {k: [] for k in SHAPES}
    kept = []
    for i in range(n):
        crop, hull = faces[i % len(faces)]
        kind = SHAPES[i % len(SHAPES)]
        image, label = paste_occluder(crop, textures, rng, kind)
        truth = (label > 127) & hull
        if truth.sum() < 20:
            continue
        p = predict([image])[0]
        pred = (p > 0.5) & hull
        ious[kind].append(float((pred & truth).sum() / max((pred | truth).sum(), 1)))
        if len(kept) < keep:
            kept.append((image, p))
    return ious, kept
