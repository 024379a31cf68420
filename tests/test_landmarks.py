"""Landmark accuracy against dlib's landmark XMLs (/work/shared/data/images/landmarks), rotation
robustness, tracking ROIs and the face-presence score.

NME = mean point-to-point error / outer-eye-corner distance (points 36, 45). Caveat: the XMLs' points
are dlib-predictor output (their own comment says so), which flatters the "dlib" backend; the mesh
468 -> 68 weights were fitted on the training XML, so mesh bounds use the testing XML only.

Measured on the testing XML (25 faces), mean NME; bounds are these plus ~15-40 % margin:
    ROI from:        GT box    BlazeFace box
    mesh (fitted)    0.0431    0.0437
    mesh (nearest)   0.0545    0.0558
    dlib             0.0244    0.0221
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from facesmith.errors import InputError
from facesmith.face.detect import Detection, create_detector
from facesmith.face.imglab import read_imglab
from facesmith.face.landmarks import (
    Landmarker,
    LandmarkResult,
    Roi,
    available_landmarkers,
    create_landmarker,
    roi_from_detection,
    roi_from_landmarks,
    roi_to_crop,
)

Face = tuple[np.ndarray, np.ndarray, np.ndarray]  # image, box, (68, 2) points


def load_xml(path: Path) -> list[Face]:
    images: dict[Path, np.ndarray] = {}
    faces = []
    for file, box, pts in read_imglab(path):
        if file not in images:
            images[file] = cv2.imread(str(file))
        faces.append((images[file], box, pts.astype(np.float32)))
    return faces


def gt_roi(box: np.ndarray, pts: np.ndarray) -> Roi:
    """The ROI a detector would give for the ground-truth box (dlib HOG boxes, the same convention as
    ours) with eyes / nose / mouth keypoints from the ground-truth points."""
    keypoints = np.stack([pts[36:42].mean(0), pts[42:48].mean(0), pts[30], (pts[62] + pts[66]) / 2])
    return roi_from_detection(Detection(box, 1.0, keypoints))


def nme(pred: np.ndarray, gt: np.ndarray) -> float:
    return float(np.linalg.norm(pred - gt, axis=1).mean() / np.linalg.norm(gt[45] - gt[36]))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    wh = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None)
    inter = float(np.prod(wh))
    return inter / (float(np.prod(a[2:] - a[:2])) + float(np.prod(b[2:] - b[:2])) - inter)


@pytest.fixture(scope="module")
def test_faces(shared_data: Path) -> list[Face]:
    return load_xml(shared_data / "images" / "landmarks" / "testing_with_face_landmarks.xml")


@pytest.fixture(scope="module")
def train_faces(shared_data: Path) -> list[Face]:
    return load_xml(shared_data / "images" / "landmarks" / "training_with_face_landmarks.xml")


@pytest.fixture(scope="module")
def landmarkers() -> dict[str, Landmarker]:
    return {"mesh": create_landmarker("mesh"), "mesh-nearest": create_landmarker("mesh", mapping="nearest"),
            "dlib": create_landmarker("dlib")}


def test_registry() -> None:
    assert {"mesh", "dlib"} <= set(available_landmarkers())
    with pytest.raises(InputError, match="mesh"):
        create_landmarker("nope")


@pytest.mark.parametrize(("name", "bound"), [("mesh", 0.050), ("mesh-nearest", 0.063), ("dlib", 0.032)])
def test_nme_with_ground_truth_box(name: str, bound: float, landmarkers: dict[str, Landmarker],
                                   test_faces: list[Face]) -> None:
    errors = []
    for image, box, pts in test_faces:
        result = landmarkers[name].fit(image, gt_roi(box, pts))
        assert isinstance(result, LandmarkResult)
        assert result.points.shape == (68, 2) and result.points.dtype == np.float32
        errors.append(nme(result.points, pts))
    assert np.mean(errors) < bound, np.mean(errors)


@pytest.mark.parametrize(("name", "bound"), [("mesh", 0.050), ("dlib", 0.032)])
def test_nme_with_detector_box(name: str, bound: float, landmarkers: dict[str, Landmarker],
                               test_faces: list[Face]) -> None:
    detector = create_detector("blazeface")
    errors, missed = [], 0
    for image, box, pts in test_faces:
        best = max(detector.detect(image), key=lambda d: iou(d.box, box), default=None)
        if best is None or iou(best.box, box) < 0.3:
            missed += 1
            continue
        errors.append(nme(landmarkers[name].fit(image, roi_from_detection(best)).points, pts))
    assert missed == 0  # measured: BlazeFace finds all 25
    assert np.mean(errors) < bound, np.mean(errors)


def test_fitted_mapping_beats_nearest_vertex(landmarkers: dict[str, Landmarker], test_faces: list[Face]) -> None:
    """The fitted 468 -> 68 weights (fitted on the training XML) against the nearest-vertex mapping,
    on the testing XML: overall and on the jaw, where the nearest vertices sit inside the contour."""

    def errors(name: str, points: slice) -> float:
        out = []
        for image, box, pts in test_faces:
            pred = landmarkers[name].fit(image, gt_roi(box, pts)).points
            iod = np.linalg.norm(pts[45] - pts[36])
            out.append(np.linalg.norm(pred[points] - pts[points], axis=1).mean() / iod)
        return float(np.mean(out))

    everything, jaw = slice(0, 68), slice(0, 17)
    assert errors("mesh", everything) < 0.88 * errors("mesh-nearest", everything)  # measured 0.79
    assert errors("mesh", jaw) < 0.9 * errors("mesh-nearest", jaw)


@pytest.mark.parametrize("name", ["mesh", "dlib"])
def test_median_nme_on_all_faces(name: str, landmarkers: dict[str, Landmarker], test_faces: list[Face],
                                 train_faces: list[Face]) -> None:
    """Both XMLs (43 faces), median: robust to the few strong profiles where dlib breaks down."""
    errors = [nme(landmarkers[name].fit(i, gt_roi(b, p)).points, p) for i, b, p in test_faces + train_faces]
    bound = {"mesh": 0.06, "dlib": 0.035}[name]  # measured medians ~0.047 and ~0.025
    assert np.median(errors) < bound, np.median(errors)


@pytest.mark.parametrize("name", ["mesh", "dlib"])
def test_roll_robustness(name: str, landmarkers: dict[str, Landmarker], test_faces: list[Face]) -> None:
    """Rotate each image by 30 degrees about the face: the landmarks must rotate with it (the ROI
    crop is made upright), and stay as accurate against the rotated ground truth."""
    consistency, accuracy = [], []
    for image, box, pts in test_faces:
        centre = tuple(((box[:2] + box[2:]) / 2).tolist())
        m = cv2.getRotationMatrix2D(centre, 30.0, 1.0)
        rotated = cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_LINEAR)
        pts_r = (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)
        upright = landmarkers[name].fit(image, gt_roi(box, pts)).points
        turned = landmarkers[name].fit(rotated, gt_roi(box, pts_r)).points
        consistency.append(nme(turned, upright @ m[:, :2].T + m[:, 2]))
        accuracy.append(nme(turned, pts_r))
    assert np.mean(consistency) < 0.02, np.mean(consistency)  # measured 0.007 (mesh), 0.009 (dlib)
    assert np.mean(accuracy) < {"mesh": 0.05, "dlib": 0.032}[name]


def test_roll_robustness_through_detector(landmarkers: dict[str, Landmarker], test_faces: list[Face]) -> None:
    """The full path at 30 degrees: BlazeFace on the rotated image -> ROI angle from its eye keypoints
    -> mesh. Measured NME 0.058 (0.044 upright): the keypoint angle is a few degrees off."""
    detector = create_detector("blazeface")
    errors = []
    for image, box, pts in test_faces:
        centre = tuple(((box[:2] + box[2:]) / 2).tolist())
        m = cv2.getRotationMatrix2D(centre, 30.0, 1.0)
        rotated = cv2.warpAffine(image, m, image.shape[1::-1], flags=cv2.INTER_LINEAR)
        pts_r = pts @ m[:, :2].T + m[:, 2]
        near = [d for d in detector.detect(rotated) if np.linalg.norm((d.box[:2] + d.box[2:]) / 2 - centre) < 0.3 * (box[2] - box[0])]
        assert near, "rotated face not found"
        roi = roi_from_detection(near[0])
        # the face's own roll turned 30 degrees counter-clockwise on screen (= negative)
        assert abs(math.degrees(roi.angle - gt_roi(box, pts).angle) + 30.0) < 15.0
        errors.append(nme(landmarkers["mesh"].fit(rotated, roi).points, pts_r))
    assert np.mean(errors) < 0.07, np.mean(errors)


@pytest.mark.parametrize("name", ["mesh", "dlib"])
def test_tracking_roi_is_stable(name: str, landmarkers: dict[str, Landmarker], test_faces: list[Face]) -> None:
    """Feeding each frame's points back as the next ROI (tracking on a still image) must neither
    shrink nor grow the ROI away from the detection ROI, nor lose accuracy."""
    ratios, errors = [], []
    for image, box, pts in test_faces:
        start = roi = gt_roi(box, pts)
        for _ in range(6):
            result = landmarkers[name].fit(image, roi)
            roi = roi_from_landmarks(result.points)
        ratios.append(roi.size / start.size)
        errors.append(nme(result.points, pts))
        assert np.linalg.norm(np.subtract(roi.center, start.center)) < 0.25 * start.size
    assert 0.85 < np.median(ratios) < 1.15, np.median(ratios)  # measured 0.955 / 0.96
    assert np.mean(errors) < {"mesh": 0.055, "dlib": 0.035}[name]


@pytest.mark.parametrize("name", ["mesh", "dlib"])
def test_presence_score(name: str, landmarkers: dict[str, Landmarker], test_faces: list[Face]) -> None:
    """High on real faces, low on background: the tracker drops a face below 0.5."""
    on_faces = [landmarkers[name].fit(i, gt_roi(b, p)).score for i, b, p in test_faces]
    assert np.mean(np.array(on_faces) >= 0.5) >= 0.9, on_faces
    off_faces = []
    for image, box, _ in test_faces[:10]:
        side = float(box[2] - box[0]) * 1.5
        h, w = image.shape[:2]
        for centre in [(side / 2, side / 2), (w - side / 2, h - side / 2)]:  # image corners
            if all(abs(c - m) > side for c, m in zip(centre, ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2), strict=True)):
                off_faces.append(landmarkers[name].fit(image, Roi(centre, side, 0.0)).score)
    assert off_faces and np.mean(np.array(off_faces) < 0.5) >= 0.8, off_faces


def test_roi_conventions() -> None:
    # a face turned clockwise on screen: the subject's left eye lower than the right
    det = Detection(np.array([0, 0, 100, 100]), 1.0, np.array([[30, 40], [70, 60], [50, 60], [50, 80]]))
    roi = roi_from_detection(det)
    assert roi.angle == pytest.approx(math.atan2(20, 40))
    assert roi.size == pytest.approx(150.0) and roi.center == pytest.approx((50.0, 50.0))
    m = roi_to_crop(roi, 192)
    # the ROI centre lands in the crop centre, and the eye line becomes horizontal
    np.testing.assert_allclose(m[:, :2] @ [50, 50] + m[:, 2], [96, 96], atol=1e-9)
    eyes = det.keypoints.astype(np.float64)[:2] @ m[:, :2].T + m[:, 2]
    assert eyes[0, 1] == pytest.approx(eyes[1, 1]) and eyes[0, 0] < eyes[1, 0]
