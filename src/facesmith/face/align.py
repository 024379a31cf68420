"""Face alignment: a similarity transform from 68 iBUG landmarks onto a canonical mean face.

The aligned crop is defined once here and used by extract, train and convert: a face of `size` pixels
whose mean-face inner landmarks (brows to lower lip, points 17..67) span the normalised box [0, 1]^2,
placed so the crop also holds the forehead, chin and some background for blending.
"""

from __future__ import annotations

import numpy as np

# Symmetric mean face in iBUG-68 order, inner points (17..67) normalised to [0, 1]^2. Computed by
# generalised Procrustes over dlib's hand-labelled 68-point examples, mirrored and averaged.
MEAN_FACE_68 = np.array([
    (-0.1388, 0.2720), (-0.1319, 0.4527), (-0.1163, 0.6291), (-0.0833, 0.8045),
    (-0.0176, 0.9666), (0.0856, 1.1041), (0.2101, 1.2216), (0.3473, 1.3168),
    (0.5000, 1.3435), (0.6527, 1.3168), (0.7899, 1.2216), (0.9144, 1.1041),
    (1.0176, 0.9666), (1.0834, 0.8045), (1.1162, 0.6291), (1.1319, 0.4527),
    (1.1387, 0.2720), (0.0000, 0.1102), (0.0714, 0.0313), (0.1742, 0.0000),
    (0.2833, 0.0095), (0.3876, 0.0533), (0.6124, 0.0533), (0.7167, 0.0095),
    (0.8258, 0.0000), (0.9286, 0.0313), (1.0000, 0.1102), (0.5000, 0.2038),
    (0.5000, 0.3141), (0.5000, 0.4232), (0.5000, 0.5394), (0.3730, 0.6165),
    (0.4340, 0.6428), (0.5000, 0.6647), (0.5660, 0.6428), (0.6270, 0.6165),
    (0.1282, 0.2368), (0.1944, 0.1995), (0.2689, 0.1985), (0.3341, 0.2420),
    (0.2668, 0.2547), (0.1917, 0.2549), (0.6660, 0.2420), (0.7310, 0.1985),
    (0.8056, 0.1995), (0.8719, 0.2368), (0.8083, 0.2549), (0.7331, 0.2547),
    (0.2389, 0.8381), (0.3288, 0.7857), (0.4299, 0.7699), (0.5000, 0.7813),
    (0.5701, 0.7699), (0.6711, 0.7857), (0.7611, 0.8381), (0.6766, 0.9506),
    (0.5766, 0.9932), (0.5000, 1.0000), (0.4234, 0.9932), (0.3234, 0.9506),
    (0.2760, 0.8439), (0.4290, 0.8160), (0.5000, 0.8243), (0.5710, 0.8160),
    (0.7240, 0.8439), (0.5739, 0.9134), (0.5000, 0.9235), (0.4261, 0.9134),
], dtype=np.float64)

# Index permutation that maps iBUG-68 points onto their mirror image (for horizontal flips).
FLIP_68 = np.array([
    16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
    27, 28, 29, 30, 35, 34, 33, 32, 31, 45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40,
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55, 64, 63, 62, 61, 60, 67, 66, 65,
])

# Landmark groups (iBUG-68) used for loss weighting and masks.
JAW = slice(0, 17)
BROWS = slice(17, 27)
RIGHT_EYE = slice(36, 42)  # the subject's right eye (image left)
LEFT_EYE = slice(42, 48)
MOUTH = slice(48, 68)
INNER = slice(17, 68)  # the jaw line moves with pose, so it is left out of the fit

# The extracted crop spans CROP_SPAN mean-face units around CROP_CENTER: the face (jaw to jaw is
# ~1.3 units) fills about two thirds of the width, with room above the brows for the forehead.
CROP_CENTER = (0.5, 0.45)
CROP_SPAN = 2.0


def umeyama(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) taking src to dst.

    Returns a 2x3 matrix. Umeyama (1991), without reflection. In 2-D the rotation-and-scale part
    [[a, -b], [b, a]] has a closed form (the same optimum the SVD gives, at a third of the cost).
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var = float(np.einsum("ij,ij->", s, s))
    a = float(np.einsum("ij,ij->", s, d)) / var
    b = float(s[:, 0] @ d[:, 1] - s[:, 1] @ d[:, 0]) / var
    m = np.array([[a, -b, 0.0], [b, a, 0.0]])
    m[:, 2] = mu_d - m[:, :2] @ mu_s
    return m


def aligned_mean_face(size: int) -> np.ndarray:
    """The mean face's 68 points in pixels of an aligned crop of `size`."""
    cx, cy = CROP_CENTER
    return ((MEAN_FACE_68 - (cx, cy)) / CROP_SPAN + 0.5) * size


def alignment_matrix(points68: np.ndarray, size: int) -> np.ndarray:
    """2x3 matrix taking frame pixels to pixels of the aligned crop of side `size`."""
    return umeyama(np.asarray(points68)[INNER], aligned_mean_face(size)[INNER])


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    points = np.asarray(points, np.float64)
    return points @ matrix[:, :2].T + matrix[:, 2]


def invert_matrix(matrix: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.invertAffineTransform(np.asarray(matrix, np.float64))


def rescale_matrix(matrix: np.ndarray, from_size: int, to_size: int) -> np.ndarray:
    """The same alignment for a crop of another size (crops are defined relative to their size)."""
    return np.asarray(matrix, np.float64) * (to_size / from_size)


def matrix_scale(matrix: np.ndarray) -> float:
    """How many output pixels a 2x3 affine `matrix` makes of one input pixel (per side)."""
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix)[:, :2]))))


def warp_face(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """Cut the aligned face out of `frame`: bicubic where it enlarges. Where it shrinks the flag is
    INTER_AREA, which `cv2.warpAffine` has no mode for: it samples bilinearly (the same pixels)."""
    import cv2

    from ..media.warp import warp_crop

    interp = cv2.INTER_AREA if matrix_scale(matrix) < 1.0 else cv2.INTER_CUBIC
    return warp_crop(frame, matrix, size, flags=interp, border=cv2.BORDER_REFLECT101)


def mask_polygon(aligned_points: np.ndarray) -> np.ndarray:
    """The face region as a convex polygon, in the same units as `aligned_points`.

    Landmarks stop at the brows, so the forehead is estimated: the brows are lifted along the face's
    vertical axis (chin -> nose bridge) by 1.1 nose lengths, roughly the hairline on the mean face.
    """
    import cv2

    pts = np.asarray(aligned_points, np.float64)
    up = pts[27] - pts[8]
    up /= np.linalg.norm(up) + 1e-9
    nose_len = np.linalg.norm(pts[30] - pts[27])
    forehead = pts[BROWS] + up * (1.1 * nose_len)
    hull = cv2.convexHull(np.vstack([pts[JAW], forehead]).astype(np.float32))[:, 0]
    return hull.astype(np.float64)


def rasterize_mask(polygon: np.ndarray, size: int, scale: float = 1.0) -> np.ndarray:
    """uint8 mask (0/255) of side `size` from a polygon in units where `scale` maps to pixels."""
    import cv2

    mask = np.zeros((size, size), np.uint8)
    pts = np.round(np.asarray(polygon) * scale * 16).astype(np.int32)  # 4 bits of sub-pixel precision
    cv2.fillConvexPoly(mask, pts, 255, lineType=cv2.LINE_AA, shift=4)
    return mask


def crop_box(face_size: int, coverage: float) -> tuple[int, int]:
    """(offset, side) of the central `coverage` part of an aligned face of `face_size` px."""
    side = round(face_size * coverage)
    return (face_size - side) // 2, side


def view_matrix(unit: np.ndarray, crop_size: int, coverage: float, size: int) -> np.ndarray:
    """2x3 taking frame pixels to a model's `size` px view of a face: the central `coverage` of its
    aligned crop (`unit`: frame -> crop in [0, 1]) as cut at `crop_size` px, the way training saw it."""
    offset, side = crop_box(crop_size, coverage)
    m = unit * crop_size
    m[:, 2] -= offset
    return m * (size / side)
