"""Putting a swapped face back into its frame: masks, erosion and feather, colour matching, sharpening.

All work happens on the face's own region (the bounding box of the model's square mapped back into
the frame), never on the full frame. The composite is `frame + mask * (face - frame)` with the mask
exactly 0 outside the feathered face region, so every other pixel stays bit-identical to the input.

Colour matchers live in a small registry (`COLOR_MATCHERS`): each takes the swapped face, the
original face under it and a selection mask (uint8 0/255), all the same size, and returns the
corrected face (uint8). Statistics matchers (reinhard, histogram) run in the model's own face space
(S x S, where the model's input crop is the original face), which costs next to nothing; "seamless"
(OpenCV's Poisson clone) needs the frame's pixels around the face and runs in frame space.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..errors import InputError
from ..face.align import invert_matrix, transform_points
from ..face.expression import mouth_opening
from .names import COLORS, MASKS, MOUTHS, UNSEEN_POSES

ColorMatcher = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
COLOR_MATCHERS: dict[str, ColorMatcher] = {}
FRAME_SPACE: set[str] = set()  # matchers that must see the frame (the rest run on the S x S face)


def register_color(name: str, frame_space: bool = False) -> Callable[[ColorMatcher], ColorMatcher]:
    def deco(fn: ColorMatcher) -> ColorMatcher:
        COLOR_MATCHERS[name] = fn
        if frame_space:
            FRAME_SPACE.add(name)
        return fn

    return deco


@dataclass(frozen=True)
class BlendSettings:
    mask: str = "auto"  # hull | learned | both | auto (both when the model learns a mask, else hull)
    erode: float | None = None  # px in the output frame; negative grows the mask; None: 3% of the face
    feather: float | None = None  # px of the soft edge; None: 8% of the face width
    color: str = "reinhard"
    sharpen: float = 0.0  # unsharp-mask amount (0: off)
    mouth: str = "swap"  # swap | keep (the target's mouth interior, between its inner lips, stays)
    occlusion: bool = False  # what covers the target's face (face/occlusion.py) stays in front
    unseen_pose: str = "swap"  # swap | fade | keep, at poses the source was not trained at (swapper.py)

    def validate(self, learns_mask: bool) -> BlendSettings:
        if self.mask not in MASKS:
            raise InputError(f"--mask must be one of {', '.join(MASKS)}, not {self.mask!r}")
        if self.color not in COLOR_MATCHERS:
            raise InputError(f"--color must be one of {', '.join(COLOR_MATCHERS)}, not {self.color!r}")
        if self.mask in ("learned", "both") and not learns_mask:
            raise InputError(f"--mask {self.mask}: this model does not learn a mask; use --mask hull")
        if self.feather is not None and self.feather < 0:
            raise InputError("--feather must be 0 or more pixels")
        if not 0 <= self.sharpen <= 5:
            raise InputError("--sharpen must be between 0 and 5")
        if self.mouth not in MOUTHS:
            raise InputError(f"--mouth must be one of {', '.join(MOUTHS)}, not {self.mouth!r}")
        if self.unseen_pose not in UNSEEN_POSES:
            raise InputError(f"--unseen-pose must be one of {', '.join(UNSEEN_POSES)}, not {self.unseen_pose!r}")
        mask = ("both" if learns_mask else "hull") if self.mask == "auto" else self.mask
        return replace(self, mask=mask)


# --- colour matching ---------------------------------------------------------------------------


@register_color("none")
def _no_color(face: np.ndarray, target: np.ndarray, sel: np.ndarray) -> np.ndarray:
    return face


@register_color("reinhard")
def _reinhard(face: np.ndarray, target: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Mean and standard deviation per channel in Lab (Reinhard et al. 2001), measured in the mask.
    OpenCV's 8-bit Lab is an affine map of Lab, so the transfer is one affine map per channel."""
    if cv2.countNonZero(sel) < 16:
        return face
    f = cv2.cvtColor(face, cv2.COLOR_BGR2LAB)
    t = cv2.cvtColor(target, cv2.COLOR_BGR2LAB)
    f_mu, f_sd = (v.ravel() for v in cv2.meanStdDev(f, mask=sel))
    t_mu, t_sd = (v.ravel() for v in cv2.meanStdDev(t, mask=sel))
    scale = np.clip(t_sd / (f_sd + 1e-3), 0.5, 2.0)
    affine = np.hstack([np.diag(scale), (t_mu - scale * f_mu)[:, None]])
    return cv2.cvtColor(cv2.transform(f, affine), cv2.COLOR_LAB2BGR)


@register_color("histogram")
def _histogram(face: np.ndarray, target: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Per-channel histogram matching inside the mask (a lookup table per channel)."""
    if cv2.countNonZero(sel) < 16:
        return face
    luts = []
    for c in range(3):
        f_hist = cv2.calcHist([face], [c], sel, [256], [0, 256]).ravel().astype(np.float64)
        t_hist = cv2.calcHist([target], [c], sel, [256], [0, 256]).ravel().astype(np.float64)
        f_cdf, t_cdf = np.cumsum(f_hist) / f_hist.sum(), np.cumsum(t_hist) / t_hist.sum()
        luts.append(np.interp(f_cdf, t_cdf, np.arange(256)).round().astype(np.uint8))
    return cv2.LUT(face, np.stack(luts, axis=1)[:, None, :])


@register_color("seamless", frame_space=True)
def _seamless(face: np.ndarray, target: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Poisson seamless cloning (gradients of the face, boundary of the frame)."""
    pad = 2  # OpenCV's solver needs the mask clear of the image border
    sel = sel.copy()
    sel[:pad], sel[-pad:], sel[:, :pad], sel[:, -pad:] = 0, 0, 0, 0
    x, y, w, h = cv2.boundingRect(sel)
    if w < 8 or h < 8:
        return face
    # seamlessClone centres the mask's bounding box on `p`; with src and dst aligned this is a no-op shift
    center = (x + w // 2, y + h // 2)
    return cv2.seamlessClone(face, target, sel, center, cv2.NORMAL_CLONE)


# --- geometry ------------------------------------------------------------------------------------


def _square(size: int) -> np.ndarray:
    return np.array([(0, 0), (size, 0), (size, size), (0, size)], np.float64)


def _shrunk(square: np.ndarray, by: float) -> np.ndarray:
    """A square (4 corners) moved in by `by` on every side: exactly its erosion by a disc of radius
    `by`, and a polygon fill costs far less than a morphological erosion with a large disc."""
    centre = square.mean(axis=0)
    k = 1.0 - 2.0 * by / float(np.linalg.norm(square[1] - square[0]))
    return centre + (square - centre) * k if k > 0 else np.empty((0, 2))


def _fill(shape: tuple[int, int], polygon: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    if len(polygon) >= 3:
        cv2.fillConvexPoly(mask, np.round(polygon * 16).astype(np.int32), 255, cv2.LINE_AA, shift=4)
    return mask


def face_region(matrix: np.ndarray, size: int, frame_shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
    """(x0, y0, x1, y1): the model square of `matrix` (frame -> model px) in frame pixels, clipped."""
    corners = transform_points(_square(size), invert_matrix(matrix))
    x0, y0 = np.floor(corners.min(0)).astype(int) - 1  # a margin: the square never touches the box
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2  # edge, except where the frame cuts it
    h, w = frame_shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    return (x0, y0, x1, y1) if x1 - x0 >= 4 and y1 - y0 >= 4 else None


# --- the blend -------------------------------------------------------------------------------------

MASK_SIDE = 96  # masks are built at about this resolution, then upsampled (they are smooth anyway)


def paste_face(frame: np.ndarray, face: np.ndarray, learned: np.ndarray | None, matrix: np.ndarray,
               hull: np.ndarray, settings: BlendSettings, original: np.ndarray | None = None,
               points: np.ndarray | None = None, visible: np.ndarray | None = None,
               strength: float = 1.0) -> tuple[int, int, int, int] | None:
    """Blend `face` (S x S uint8 BGR, model output) into `frame` in place.

    `matrix` maps frame pixels to model pixels, `learned` is the model's S x S mask in [0, 1] (or
    None), `hull` the face polygon in frame pixels, `original` the model's input (the original face
    in model space; needed by face-space colour matchers, else they match against the frame),
    `visible` where nothing covers the original face (S x S in [0, 1], or None: everywhere),
    `strength` how much of the swap shows (1: all of it; less fades back to the frame's own face).
    Returns the region that may have changed.
    """
    size = face.shape[0]
    face_space = settings.color not in FRAME_SPACE and original is not None
    if face_space and settings.color != "none":
        sel = _face_space_mask(matrix, hull, learned, size, visible)
        face = COLOR_MATCHERS[settings.color](face, original, sel)
    region = face_region(matrix, size, frame.shape)
    if region is None:
        return None
    x0, y0, x1, y1 = region
    bw, bh = x1 - x0, y1 - y0
    shifted = matrix.copy()
    shifted[:, 2] += matrix[:, :2] @ (x0, y0)  # box pixel -> model pixel
    square = transform_points(_square(size), invert_matrix(matrix)) - (x0, y0)
    face_width = float(np.linalg.norm(square[1] - square[0]))  # the model square's side in frame px
    erode = 0.03 * face_width if settings.erode is None else settings.erode
    feather = 0.08 * face_width if settings.feather is None else settings.feather

    alpha, sel, (sx0, sy0, sx1, sy1) = _masks(shifted, square, hull - (x0, y0), learned, size, (bh, bw), erode,
                                              feather, settings.mask, visible)
    if alpha is None:
        return None
    # from here on only the part of the box the mask reaches
    x0, y0, x1, y1 = x0 + sx0, y0 + sy0, x0 + sx1, y0 + sy1
    shifted[:, 2] += shifted[:, :2] @ (sx0, sy0)
    if settings.mouth == "keep" and points is not None:
        alpha = _keep_mouth(alpha, points - (x0, y0), face_width)
    if strength < 1:
        alpha = alpha * np.float32(strength)
    warped = _warp_back(face, shifted, (y1 - y0, x1 - x0), face_width)
    target = frame[y0:y1, x0:x1]
    if settings.sharpen > 0:
        blurred = cv2.GaussianBlur(warped, (0, 0), max(0.8, face_width / size * 0.6))
        warped = cv2.addWeighted(warped, 1 + settings.sharpen, blurred, -settings.sharpen, 0)
    if not face_space:
        warped = COLOR_MATCHERS[settings.color](warped, target, sel)
    # (face * a + frame * (1 - a)) / 1, rounded: where a == 0 the frame's own value comes back exactly
    target[...] = cv2.blendLinear(warped, target, alpha, 1 - alpha)
    return x0, y0, x1, y1


def _face_space_mask(matrix: np.ndarray, hull: np.ndarray, learned: np.ndarray | None, size: int,
                     visible: np.ndarray | None = None) -> np.ndarray:
    """Where colours are compared in model space: the hull, shrunk a little (no background), within
    the learned mask when there is one, and not where something covers the face (a hand's colour is
    not the face's)."""
    mask = _fill((size, size), transform_points(hull, matrix))
    for m in (learned, visible):
        if m is not None:
            mask = cv2.min(mask, np.where(m > 0.5, 255, 0).astype(np.uint8))
    return cv2.erode(mask, np.ones((3, 3), np.uint8), iterations=max(1, size // 32))


# the model draws at least this many pixels per frame pixel: its face has detail up to the frame's
# own resolution, which a bilinear warp halves (benchmarks/sharpness_ceiling.py)
FINE_DRAWING = 0.75


def _warp_back(face: np.ndarray, shifted: np.ndarray, shape: tuple[int, int], face_width: float) -> np.ndarray:
    """The model's face in the box. Drawn coarser than the frame (a 64 px model on a 200 px face): a
    bicubic upscale to about the final size, then a bilinear warp, as sharp as a bicubic warp there
    (the enlarged face has nothing near the frame's resolution to lose) at a fifth of the cost.
    Drawn about as finely as the frame or finer: one bicubic warp, which keeps that detail."""
    size = face.shape[0]
    if size >= FINE_DRAWING * face_width:
        return cv2.warpAffine(face, shifted, shape[::-1], flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REPLICATE)
    up = int(np.clip(round(face_width), size, 4 * size))
    k = up / size
    big = cv2.resize(face, (up, up), interpolation=cv2.INTER_CUBIC) if up != size else face
    m = shifted * k
    m[:, 2] += 0.5 * (k - 1)  # resize maps pixel centres: u = k * p + (k - 1) / 2
    return cv2.warpAffine(big, m, shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _masks(shifted: np.ndarray, square: np.ndarray, hull: np.ndarray, learned: np.ndarray | None, size: int,
           shape: tuple[int, int], erode: float, feather: float, kind: str,
           visible: np.ndarray | None = None) -> tuple[np.ndarray | None, np.ndarray, tuple[int, int, int, int]]:
    """(alpha float32 in [0, 1], selection uint8 0/255, their rectangle (x0, y0, x1, y1) in the box),
    or (None, _, _) when the mask is empty.

    Built on a grid `f` times coarser than the box, with erosion and feather scaled to it. Alpha is
    exactly 0 outside the model square shrunk by the feather, so the face never reaches pixels the
    model did not draw, nor the box edge (except where the frame edge cuts the face).
    """
    bh, bw = shape
    f = max(1, min(min(bh, bw) // MASK_SIDE, int(feather // 3)))  # a hard edge stays at full resolution
    lh, lw = -(-bh // f), -(-bw // f)

    def low(points: np.ndarray) -> np.ndarray:  # box px -> low px (pixel centres line up)
        return (points + 0.5) / f - 0.5

    inside = _fill((lh, lw), low(square))
    mask = inside
    if kind in ("hull", "both"):
        ok, overlap = cv2.intersectConvexConvex(square.astype(np.float32), hull.astype(np.float32))
        mask = _fill((lh, lw), low(overlap.reshape(-1, 2).astype(np.float64))) if ok > 0 and overlap is not None \
            else np.zeros((lh, lw), np.uint8)
    to_model = shifted * 1.0
    to_model[:, :2] = shifted[:, :2] * f
    to_model[:, 2] = shifted[:, :2] @ (0.5 * (f - 1), 0.5 * (f - 1)) + shifted[:, 2]  # low px -> model px

    def from_model(m: np.ndarray) -> np.ndarray:  # an S x S mask in [0, 1] on the low grid
        u8 = np.clip(m * 255 + 0.5, 0, 255).astype(np.uint8)
        return cv2.warpAffine(u8, to_model, (lw, lh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    if kind in ("learned", "both") and learned is not None:
        warped = from_model(learned)
        mask = cv2.min(mask, warped) if kind == "both" else cv2.min(inside, warped)
    mask = _grow(mask, -erode / f)
    mask = cv2.min(mask, _fill((lh, lw), low(_shrunk(square, feather + 2 * f))))
    alpha = mask.astype(np.float32) * (1 / 255)
    k = 2 * round(feather / f) + 1
    if k > 1:
        alpha = cv2.GaussianBlur(alpha, (k, k), 0, borderType=cv2.BORDER_REPLICATE)
    if visible is not None:  # cut after the feather: an occluder's edge is sharp, and the face runs up to it
        uncovered = _uncovered(from_model(visible), float(np.linalg.norm(square[1] - square[0])) / f)
        mask = cv2.min(mask, uncovered)
        alpha = np.minimum(alpha, uncovered.astype(np.float32) * (1 / 255))
    if not cv2.countNonZero(mask):
        return None, mask, (0, 0, 0, 0)
    qx, qy, qw, qh = cv2.boundingRect((alpha > 0).astype(np.uint8))
    qx0, qy0, qx1, qy1 = max(qx - 1, 0), max(qy - 1, 0), min(qx + qw + 1, lw), min(qy + qh + 1, lh)
    rect = (qx0 * f, qy0 * f, min(qx1 * f, bw), min(qy1 * f, bh))  # the upsampled alpha is 0 outside
    full = (slice(rect[1] - qy0 * f, rect[3] - qy0 * f), slice(rect[0] - qx0 * f, rect[2] - qx0 * f))
    up = ((qx1 - qx0) * f, (qy1 - qy0) * f)
    alpha = cv2.resize(alpha[qy0:qy1, qx0:qx1], up, interpolation=cv2.INTER_LINEAR)[full]
    sel = cv2.resize(mask[qy0:qy1, qx0:qx1], up, interpolation=cv2.INTER_NEAREST)[full]
    _, sel = cv2.threshold(sel, 127, 255, cv2.THRESH_BINARY)
    return np.ascontiguousarray(alpha), np.ascontiguousarray(sel), rect


# what covers a face is cut out grown by this share of the face's width (the network reads a 64 px
# view: its edge is a pixel or two off there), with an edge as soft as that margin
OCCLUDER_MARGIN = 0.015


def _uncovered(visible: np.ndarray, face_width: float) -> np.ndarray:
    """uint8: 255 where nothing covers the face, 0 over an occluder grown by OCCLUDER_MARGIN, and a
    soft edge of about that width between (all in the pixels of `visible`)."""
    margin = OCCLUDER_MARGIN * face_width
    out = _grow(visible, -margin)
    k = 2 * round(margin) + 1
    return cv2.GaussianBlur(out, (k, k), 0, borderType=cv2.BORDER_REPLICATE) if k > 1 else out


# inner-lip gap in eye distances over which the hole fades in: 68-point landmarkers put closed lips
# 0.02-0.06 apart, speech opens them 0.1-0.3
MOUTH_OPEN = (0.06, 0.14)


def _keep_mouth(alpha: np.ndarray, points: np.ndarray, face_width: float) -> np.ndarray:
    """`alpha` with the target's open mouth cut out: a model that never saw its source open the mouth
    draws closed lips there, and the target's own teeth and tongue read as the target speaking. The
    hole fades in with the opening (no popping from frame to frame) and has a soft edge of ~2% of the
    face, so the swapped lips meet the target's mouth without a seam."""
    weight = float(np.clip((mouth_opening(points) - MOUTH_OPEN[0]) / (MOUTH_OPEN[1] - MOUTH_OPEN[0]), 0, 1))
    if weight <= 0:
        return alpha
    hole = np.zeros(alpha.shape, np.uint8)
    cv2.fillPoly(hole, [np.round(points[60:68] * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    if not cv2.countNonZero(hole):
        return alpha
    soft = hole.astype(np.float32) * (weight / 255)
    k = 2 * round(0.01 * face_width) + 1
    if k > 1:
        soft = cv2.GaussianBlur(soft, (k, k), 0)
    return alpha * (1 - soft)


def _grow(mask: np.ndarray, pixels: float) -> np.ndarray:
    """Dilate (pixels > 0) or erode (pixels < 0) with a disc."""
    r = round(abs(pixels))
    if r < 1:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    # replicated borders: where the frame edge cuts the face, the face goes on beyond it
    return cv2.dilate(mask, kernel) if pixels > 0 else cv2.erode(mask, kernel, borderType=cv2.BORDER_REPLICATE)


assert set(COLOR_MATCHERS) == set(COLORS), "names.COLORS must list the registered colour matchers"
