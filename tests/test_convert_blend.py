"""Blending and smoothing without a model: masks stay where they belong, colour matchers match,
the background stays bit-identical, the temporal smoother removes jitter without lag."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facesmith.convert.faces import Smoother
from facesmith.engine.blend import COLOR_MATCHERS, BlendSettings, face_region, paste_face
from facesmith.engine.frames import FaceJob, FrameJob
from facesmith.errors import InputError
from facesmith.face.align import (
    aligned_mean_face,
    alignment_matrix,
    invert_matrix,
    mask_polygon,
    transform_points,
)

SIZE = 64


def scene(seed: int = 0, shape: tuple[int, int] = (360, 480)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A textured frame, a frame -> model matrix for a face at (240, 170) ~150 px wide, and its hull."""
    rng = np.random.default_rng(seed)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (*shape, 3), dtype=np.uint8), (0, 0), 3)
    points = aligned_mean_face(1.0) * 230 + (240 - 115, 170 - 115)  # a 68-point face in the frame
    unit = alignment_matrix(points, 1)
    matrix = unit * SIZE
    hull = transform_points(mask_polygon(transform_points(points, unit)), invert_matrix(unit))
    return frame, matrix, hull


def face_pixels(value: tuple[int, int, int]) -> np.ndarray:
    return np.full((SIZE, SIZE, 3), value, np.uint8)


def hull_mask(shape: tuple[int, ...], hull: np.ndarray, grow: int = 0) -> np.ndarray:
    mask = np.zeros(shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, np.round(hull).astype(np.int32), 255)
    if grow:
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
    return mask > 0


@pytest.mark.parametrize("color", sorted(COLOR_MATCHERS))
def test_outside_the_feathered_hull_is_bit_identical(color: str) -> None:
    frame, matrix, hull = scene()
    out = frame.copy()
    settings = BlendSettings(mask="hull", erode=4, feather=12, color=color).validate(False)
    region = paste_face(out, face_pixels((40, 200, 90)), None, matrix, hull, settings)
    assert region is not None
    changed = np.any(out != frame, axis=2)
    # nothing moves outside the hull grown by the feather (plus a pixel of rounding)
    assert not np.any(changed & ~hull_mask(frame.shape, hull, grow=12 + 2))
    # and the core of the face is replaced
    core = hull_mask(frame.shape, hull) & ~hull_mask(frame.shape, hull, grow=0) | (
        cv2.erode(hull_mask(frame.shape, hull).astype(np.uint8), np.ones((41, 41), np.uint8)) > 0)
    assert changed[core].mean() > 0.95


def test_erosion_and_feather_move_the_edge() -> None:
    frame, matrix, hull = scene()
    green = face_pixels((0, 255, 0))

    def changed(**kw: float) -> int:
        out = frame.copy()
        paste_face(out, green, None, matrix, hull, BlendSettings(mask="hull", color="none", **kw).validate(False))
        return int(np.any(out != frame, axis=2).sum())

    hard = changed(erode=0, feather=0)
    inside = int(hull_mask(frame.shape, hull).sum())
    assert abs(hard - inside) / inside < 0.03  # no feather, no erosion: the hull itself
    assert changed(erode=15, feather=0) < 0.85 * hard
    assert changed(erode=-6, feather=0) > hard
    assert changed(erode=0, feather=20) > hard  # a soft edge reaches a little beyond the hull


def test_soft_edge_is_a_gradient() -> None:
    frame = np.zeros((360, 480, 3), np.uint8)
    _, matrix, hull = scene()
    out = frame.copy()
    paste_face(out, face_pixels((255, 255, 255)), None, matrix, hull,
               BlendSettings(mask="hull", erode=0, feather=24, color="none").validate(False))
    row = out[170, :, 0].astype(int)  # through the face centre, left edge of the face
    left = np.nonzero(row)[0][0]
    ramp = row[left:left + 40]
    assert ramp[0] < 60 and ramp[-1] > 200 and np.all(np.diff(ramp) >= -1)  # monotone, no step


def test_learned_mask_is_used() -> None:
    frame, matrix, hull = scene()
    learned = np.zeros((SIZE, SIZE), np.float32)
    learned[:, : SIZE // 2] = 1.0  # the model keeps only the left half of its square
    out = frame.copy()
    paste_face(out, face_pixels((0, 0, 255)), learned, matrix, hull,
               BlendSettings(mask="learned", erode=0, feather=2, color="none").validate(True))
    changed = np.any(out != frame, axis=2)
    assert changed[170, 150:230].mean() > 0.9 and changed[170, 260:330].mean() < 0.05
    with pytest.raises(InputError, match="does not learn a mask"):
        BlendSettings(mask="learned").validate(False)
    assert BlendSettings(mask="auto").validate(True).mask == "both"
    assert BlendSettings(mask="auto").validate(False).mask == "hull"


def test_face_partly_outside_the_frame() -> None:
    frame, matrix, hull = scene()
    shift = np.array([[1, 0, -200], [0, 1, -120]], np.float64)  # frame content moves: face at (40, 50)
    m = matrix.copy()
    m[:, 2] = matrix[:, 2] + matrix[:, :2] @ (200, 120)
    out = frame.copy()
    region = paste_face(out, face_pixels((0, 0, 255)), None, m, transform_points(hull, shift),
                        BlendSettings(mask="hull", color="none").validate(False))
    assert region is not None and region[0] == 0 and region[1] == 0
    assert np.any(out[:5, :40] != frame[:5, :40])  # the face goes right up to the frame edge
    assert face_region(m * 0.01, SIZE, frame.shape) is not None  # a huge face still maps somewhere


@pytest.mark.parametrize("color", ["reinhard", "histogram"])
def test_colour_matchers_match_the_target_statistics(color: str) -> None:
    rng = np.random.default_rng(1)
    face = np.clip(rng.normal((60, 90, 200), 12, (120, 120, 3)), 0, 255).astype(np.uint8)
    target = np.clip(rng.normal((150, 140, 120), 20, (120, 120, 3)), 0, 255).astype(np.uint8)
    sel = np.zeros((120, 120), np.uint8)
    sel[20:100, 20:100] = 255
    out = COLOR_MATCHERS[color](face, target, sel)
    idx = sel > 0
    space = (lambda im: cv2.cvtColor(im, cv2.COLOR_BGR2LAB)) if color == "reinhard" else (lambda im: im)
    got, want, before = space(out)[idx].astype(float), space(target)[idx].astype(float), space(face)[idx]
    assert np.abs(got.mean(0) - want.mean(0)).max() < 3, (got.mean(0), want.mean(0))
    assert np.abs(got.mean(0) - want.mean(0)).max() < 0.1 * np.abs(before.mean(0) - want.mean(0)).max()
    assert np.all(np.abs(got.std(0) / want.std(0) - 1) < 0.15), (got.std(0), want.std(0))
    assert COLOR_MATCHERS["none"](face, target, sel) is face


def test_seamless_clone_takes_the_boundary_colour() -> None:
    face = np.full((120, 120, 3), (50, 50, 220), np.uint8)
    cv2.circle(face, (60, 60), 10, (0, 0, 0), -1)  # a detail whose gradient must survive
    target = np.full((120, 120, 3), (120, 160, 140), np.uint8)
    sel = np.zeros((120, 120), np.uint8)
    cv2.circle(sel, (60, 60), 40, 255, -1)
    out = COLOR_MATCHERS["seamless"](face, target, sel)
    assert np.abs(out[60, 25].astype(int) - target[60, 25]).max() < 12  # flat area takes the frame's colour
    assert int(out[60, 40].astype(int).sum()) - int(out[60, 60].astype(int).sum()) > 100  # detail kept


def _job(index: int, unit: np.ndarray, track: int = 0) -> FrameJob:
    return FrameJob(index, index / 30, np.zeros((4, 4, 3), np.uint8),
                    [FaceJob(track, np.zeros((68, 2)), unit, np.zeros((3, 2)))])


def _run(smoother: Smoother, units: list[np.ndarray], tracks: list[int] | None = None) -> list[np.ndarray]:
    out = []
    for i, u in enumerate(units):
        out += smoother.push(_job(i, u, tracks[i] if tracks else 0))
    out += smoother.flush()
    assert [j.index for j in out] == list(range(len(units)))  # every frame once, in order
    return [j.faces[0].unit for j in out]


def test_smoother_removes_jitter_without_lag() -> None:
    rng = np.random.default_rng(0)
    base = np.array([[0.004, 0.0, -0.5], [0.0, 0.004, -0.3]])
    truth = [base + np.array([[0, 0, 0.002 * i], [0, 0, 0.001 * i]]) for i in range(60)]  # steady motion
    noisy = [t + np.array([[0, 0, rng.normal(0, 0.003)], [0, 0, rng.normal(0, 0.003)]]) for t in truth]
    smooth = _run(Smoother(2), noisy)
    err = lambda xs: np.mean([np.abs(x - t)[:, 2].mean() for x, t in zip(xs[3:-3], truth[3:-3], strict=True)])  # noqa: E731
    assert err(smooth) < 0.6 * err(noisy)
    exact = _run(Smoother(3), truth)
    assert max(np.abs(a - b).max() for a, b in zip(exact, truth, strict=True)) < 1e-12  # linear motion: no lag
    assert _run(Smoother(0), noisy)[10] is noisy[10]


def test_smoother_keeps_tracks_apart() -> None:
    a = np.array([[0.004, 0, 0.0], [0, 0.004, 0.0]])
    b = a + np.array([[0, 0, 0.5], [0, 0, 0.5]])
    units = [a] * 5 + [b] * 5  # a cut: track 0, then track 1 elsewhere
    out = _run(Smoother(2), units, [0] * 5 + [1] * 5)
    assert all(np.allclose(u, a) for u in out[:5]) and all(np.allclose(u, b) for u in out[5:])


def _face_points() -> np.ndarray:
    return aligned_mean_face(1.0) * 230 + (240 - 115, 170 - 115)


@pytest.mark.parametrize("opening", [0.0, 0.3])
def test_keep_mouth_leaves_the_open_mouth_and_nothing_else(opening: float) -> None:
    frame, matrix, hull = scene()
    points = _face_points()
    iod = float(np.linalg.norm(points[36] - points[45]))
    points[[65, 66, 67]] = points[[63, 62, 61]] + (0, opening * iod)  # closed, or the lower lip drops
    face = face_pixels((40, 200, 90))
    swap, keep = frame.copy(), frame.copy()
    paste_face(swap, face, None, matrix, hull, BlendSettings(mask="hull", color="none").validate(False), None, points)
    paste_face(keep, face, None, matrix, hull, BlendSettings(mask="hull", color="none", mouth="keep").validate(False),
               None, points)
    lips = np.zeros(frame.shape[:2], np.uint8)
    cv2.fillPoly(lips, [np.round(points[60:68]).astype(np.int32)], 255)
    inner = cv2.erode(lips, np.ones((7, 7), np.uint8)) > 0
    outer = cv2.dilate(lips, np.ones((15, 15), np.uint8)) == 0
    if opening == 0:
        assert np.array_equal(swap, keep)  # a closed mouth: nothing kept
        return
    assert inner.sum() > 200
    assert np.array_equal(keep[inner], frame[inner])  # the target's own mouth interior
    assert not np.array_equal(swap[inner], frame[inner])
    assert np.array_equal(keep[outer], swap[outer])  # the rest of the face is the swap's


def test_keep_mouth_is_checked() -> None:
    with pytest.raises(InputError, match="--mouth"):
        BlendSettings(mouth="open").validate(False)


@pytest.mark.parametrize("size", [64, 384])
def test_a_face_drawn_at_the_frames_resolution_keeps_its_detail(size: int) -> None:
    """A model that draws the face as finely as the frame (here: the frame's own face, cut at S px)
    gets that detail pasted back; a 64 px one cannot have it (the Laplacian variance, which the
    sharpness ratio of `evaluate` compares, in the face's core)."""
    rng = np.random.default_rng(3)
    frame = cv2.GaussianBlur(rng.integers(0, 255, (360, 480, 3), dtype=np.uint8), (0, 0), 0.7)
    _, matrix64, hull = scene()
    matrix = matrix64 * (size / SIZE)
    drawn = cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_CUBIC if size > SIZE else cv2.INTER_AREA)
    out = frame.copy()
    paste_face(out, drawn, None, matrix, hull, BlendSettings(mask="hull", color="none").validate(False))
    core = cv2.erode(hull_mask(frame.shape, hull).astype(np.uint8), np.ones((41, 41), np.uint8)) > 0

    def detail(image: np.ndarray) -> float:
        return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), cv2.CV_64F)[core].var())

    kept = detail(out) / detail(frame)
    assert kept >= 0.8 if size > SIZE else kept <= 0.5, kept


@pytest.mark.parametrize("color", ["reinhard", "seamless"])
def test_what_covers_the_face_stays_and_does_not_colour_the_swap(color: str) -> None:
    """`visible` (model space, 0 where something covers the face): the frame's own pixels there, the
    rest of the face swapped, and the colour match reads only the uncovered face."""
    frame, matrix, hull = scene()
    frame[:, 240:] = (20, 20, 230)  # the right half of the face is covered by something red
    visible = np.ones((SIZE, SIZE), np.float32)
    covered_x = transform_points(np.array([[240.0, 170.0]]), matrix)[0, 0]  # frame x=240 in model px
    visible[:, int(np.ceil(covered_x)):] = 0
    face = face_pixels((40, 200, 90))
    settings = BlendSettings(mask="hull", erode=4, feather=8, color=color).validate(False)
    original = face_pixels((128, 128, 128))  # the model's input: the face, red where it is covered
    original[visible == 0] = (20, 20, 230)
    plain, kept, ref = frame.copy(), frame.copy(), frame.copy()
    paste_face(plain, face, None, matrix, hull, settings, original)
    paste_face(kept, face, None, matrix, hull, settings, original, visible=visible)
    paste_face(ref, face, None, matrix, hull, settings, face_pixels((128, 128, 128)))
    inside = hull_mask(frame.shape, hull) & (cv2.erode(hull_mask(frame.shape, hull).astype(np.uint8),
                                                       np.ones((41, 41), np.uint8)) > 0)
    right, left = inside.copy(), inside.copy()
    right[:, :240 + 8 + 8 + 2] = False  # clear of the erode and the feather
    left[:, 240 - 8 - 8 - 2:] = False
    assert right.sum() > 2000 and left.sum() > 2000
    assert np.array_equal(kept[right], frame[right])  # the covering thing is still in front
    assert not np.array_equal(plain[right], frame[right])
    assert (kept[left] != frame[left]).any(axis=1).mean() > 0.5  # the uncovered half is swapped
    if color == "reinhard":  # the match reads the grey face, not the red in front of it
        assert np.abs(kept[left].astype(int) - ref[left]).max() <= 1
        assert np.abs(plain[left].astype(int) - ref[left]).mean() > 3
