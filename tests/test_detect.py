"""Face detectors on real footage and photos (/work/shared/data): counts, placement, keypoint order,
rotation, and the registry. Videos are decoded with PyAV directly.

Expected counts were checked by eye on the frames; bounds are what both detectors achieved when
measured (blazeface: 30/30 frames with exactly one face on identity_a, one face per half on every
sampled two_people frame, every group photo exact).
"""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from facesmith.errors import InputError
from facesmith.face.detect import (
    Detection,
    Detector,
    available_detectors,
    create_detector,
    register_detector,
)
from facesmith.face.landmarks import create_landmarker, roi_from_detection

DETECTORS = ["blazeface", "dlib-hog"]


def sample_frames(path: Path, count: int) -> list[np.ndarray]:
    """`count` BGR frames spread evenly over the whole video."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        total = stream.frames
        wanted = set(np.linspace(0, total - 1, count).round().astype(int).tolist())
        frames = [f.to_ndarray(format="bgr24") for i, f in enumerate(container.decode(stream)) if i in wanted]
    assert len(frames) == count
    return frames


@pytest.fixture(scope="module")
def detectors() -> dict[str, Detector]:
    return {name: create_detector(name) for name in DETECTORS}


@pytest.fixture(scope="module")
def identity_a(shared_data: Path) -> list[np.ndarray]:
    return sample_frames(shared_data / "video" / "identity_a.mp4", 30)


@pytest.fixture(scope="module")
def two_people(shared_data: Path) -> list[np.ndarray]:
    return sample_frames(shared_data / "video" / "two_people_720p.mp4", 10)


def test_registry() -> None:
    assert {"blazeface", "dlib-hog", "dlib-cnn"} <= set(available_detectors())
    with pytest.raises(InputError, match="blazeface"):  # the message lists what is available
        create_detector("no-such-detector")
    with pytest.raises(InputError, match="min_score"):  # a wrong option lists the valid ones
        create_detector("blazeface", upsample=1)


def test_register_custom_detector() -> None:
    @register_detector("test-fixed")
    class Fixed:
        name = "test-fixed"

        def __init__(self, score: float = 0.9) -> None:
            self.score = score

        def detect(self, image_bgr: np.ndarray, thorough: bool = True) -> list[Detection]:
            return [Detection(np.array([0, 0, 10, 10]), self.score, np.zeros((4, 2)))]

    det = create_detector("test-fixed", score=0.7)
    assert isinstance(det, Detector)
    assert "test-fixed" in available_detectors()
    assert det.detect(np.zeros((8, 8, 3), np.uint8))[0].score == pytest.approx(0.7)


def check_face(det: Detection, image: np.ndarray) -> None:
    """Types, ranges and the keypoint layout of an upright face."""
    assert det.box.dtype == np.float32 and det.box.shape == (4,)
    assert det.keypoints.dtype == np.float32 and det.keypoints.shape == (4, 2)
    assert 0.0 <= det.score <= 1.0
    x0, y0, x1, y1 = det.box
    assert x1 > x0 and y1 > y0
    right_eye, left_eye, nose, mouth = det.keypoints
    assert right_eye[0] < left_eye[0], "keypoint 0 must be the subject's right eye (image left)"
    eyes_y = (right_eye[1] + left_eye[1]) / 2
    assert eyes_y < nose[1] < mouth[1]
    inside = (det.keypoints >= det.box[:2] - 2) & (det.keypoints <= det.box[2:] + 2)
    assert inside.all(), "keypoints lie in the box"


@pytest.mark.parametrize("name", DETECTORS)
def test_identity_a_one_face_per_frame(name: str, detectors: dict[str, Detector],
                                       identity_a: list[np.ndarray]) -> None:
    counts = []
    for frame in identity_a:
        found = detectors[name].detect(frame)
        counts.append(len(found))
        if found:
            check_face(found[0], frame)
            assert found[0].score >= 0.5
    exact = sum(c == 1 for c in counts)
    # measured: 30/30 for both; HOG gets a little slack for its occasional extra window
    assert exact >= (30 if name == "blazeface" else 28), counts


@pytest.mark.parametrize("name", DETECTORS)
def test_two_people_one_face_each_half(name: str, detectors: dict[str, Detector],
                                       two_people: list[np.ndarray]) -> None:
    for frame in two_people:
        found = detectors[name].detect(frame)
        half = frame.shape[1] / 2
        centres = [(d.box[0] + d.box[2]) / 2 for d in found]
        assert sum(c < half for c in centres) == 1 and sum(c >= half for c in centres) == 1, centres
        scores = [d.score for d in found]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("name", DETECTORS)
@pytest.mark.parametrize(("photo", "faces"), [("two_people.jpg", 2), ("three_people.png", 3), ("multiface.jpg", 6)])
def test_group_photos(name: str, photo: str, faces: int, detectors: dict[str, Detector],
                      shared_data: Path) -> None:
    image = cv2.imread(str(shared_data / "images" / "groups" / photo))
    found = detectors[name].detect(image)
    assert len(found) == faces, [d.score for d in found]
    for d in found:
        check_face(d, image)
    # no two detections of the same face
    for i, a in enumerate(found):
        for b in found[i + 1 :]:
            wh = np.minimum(a.box[2:], b.box[2:]) - np.maximum(a.box[:2], b.box[:2])
            assert np.prod(np.clip(wh, 0, None)) < 0.2 * np.prod(a.box[2:] - a.box[:2])


@pytest.mark.parametrize("name", DETECTORS)
def test_rotated_face_found_with_roll(name: str, detectors: dict[str, Detector],
                                      identity_a: list[np.ndarray]) -> None:
    """A frame turned 20 degrees clockwise on screen: still one face, and its ROI angle (eye line,
    positive = clockwise) reads about +20 degrees."""
    for frame in identity_a[::10]:
        h, w = frame.shape[:2]
        upright = detectors[name].detect(frame)[0]
        rotation = cv2.getRotationMatrix2D((w / 2, h / 2), -20.0, 1.0)  # cv2: positive = counter-clockwise
        found = detectors[name].detect(cv2.warpAffine(frame, rotation, (w, h)))
        assert len(found) == 1
        turned = np.degrees(roi_from_detection(found[0]).angle - roi_from_detection(upright).angle)
        assert 12.0 < turned < 28.0, turned  # measured 16-24 (keypoints are a few degrees noisy)


def test_blazeface_crowd_small_faces(shared_data: Path) -> None:
    """Street crowd at 1080p: faces of 40-100 px. Tiling (on by default above 1400 px) finds more of
    them. Most detections must be confirmed by the face-mesh presence flag: measured 15 of 23; the 8
    it rejects were checked by eye to be real but bowed, blurred-profile or hand-occluded faces."""
    frames = sample_frames(shared_data / "video" / "street_crowd_1080p.mp4", 4)
    tiled, whole = create_detector("blazeface"), create_detector("blazeface", tile_above=0)
    mesh = create_landmarker("mesh")
    n_tiled = n_whole = confirmed = 0
    for frame in frames:
        found = tiled.detect(frame)
        n_tiled += len(found)
        n_whole += len(whole.detect(frame))
        confirmed += sum(mesh.fit(frame, roi_from_detection(d)).score >= 0.5 for d in found)
    assert n_tiled >= 16, n_tiled  # measured 4-6 faces per frame (~20 on these 4 frames)
    assert n_tiled >= n_whole
    assert confirmed >= 0.5 * n_tiled, (confirmed, n_tiled)


def test_detection_mapped() -> None:
    det = Detection(np.array([10, 20, 30, 40]), 0.8, np.array([[12, 25], [28, 25], [20, 30], [20, 35]]))
    moved = det.mapped(2.0, 5.0, -5.0)
    np.testing.assert_allclose(moved.box, [25, 35, 65, 75])
    np.testing.assert_allclose(moved.keypoints[0], [29, 45])
    assert moved.score == pytest.approx(0.8)


def test_ssd_anchors_match_mediapipe_layout() -> None:
    from facesmith.face.blazeface import ssd_anchors

    back = ssd_anchors(256, [16, 32, 32, 32], [2, 2, 2, 2])
    full = ssd_anchors(192, [4], [1])
    assert back.shape == (896, 2) and full.shape == (2304, 2)  # the models' output counts
    # stride 16: 16x16 cells x 2 anchors, row-major; then stride 32: 8x8 cells x 6 anchors
    np.testing.assert_allclose(back[0], back[1])
    np.testing.assert_allclose(back[:4], [[1 / 32, 1 / 32]] * 2 + [[3 / 32, 1 / 32]] * 2)
    np.testing.assert_allclose(back[512:518], [[1 / 16, 1 / 16]] * 6)
    np.testing.assert_allclose(full[[0, 1, 48]], [[1 / 96, 1 / 96], [3 / 96, 1 / 96], [1 / 96, 3 / 96]])


def test_quick_pass_finds_the_faces_of_small_frames(detectors: dict[str, Detector], identity_a: list[np.ndarray],
                                                    two_people: list[np.ndarray]) -> None:
    """thorough=False (the tracker's periodic look for newcomers) runs one model instead of two on
    frames up to 1400 px; it must still find every face there."""
    blaze = detectors["blazeface"]
    for frame in identity_a[::3] + two_people:
        quick, full = blaze.detect(frame, thorough=False), blaze.detect(frame)
        assert len(quick) == len(full)
        for q in quick:
            best = max(full, key=lambda d: _iou(d.box, q.box))
            assert _iou(best.box, q.box) > 0.5


def test_tracker_uses_the_quick_pass_only_while_tracking_one_face(identity_a: list[np.ndarray],
                                                                   two_people: list[np.ndarray]) -> None:

    class Recording:
        name = "recording"

        def __init__(self) -> None:
            self.inner = create_detector("blazeface")
            self.calls: list[bool] = []

        def detect(self, image_bgr: np.ndarray, thorough: bool = True) -> list[Detection]:
            self.calls.append(thorough)
            return self.inner.detect(image_bgr, thorough)

    from facesmith.face import FaceReader

    mesh = create_landmarker("mesh")
    det = Recording()
    tracker = FaceReader(det, mesh, redetect_every=3).tracker()
    frame = identity_a[0]
    for i in range(7):
        assert len(tracker.update(frame, i / 30)) == 1
    assert det.calls == [True, False, False]  # first frame: nothing tracked yet; then every 3rd frame

    det = Recording()
    tracker = FaceReader(det, mesh, redetect_every=3).tracker()
    for i in range(7):
        assert len(tracker.update(two_people[0], i / 30)) == 2
    assert det.calls == [True, True, True]  # several people: always both models


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    wh = np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None)
    inter = float(wh[0] * wh[1])
    return inter / (float(np.prod(a[2:] - a[:2])) + float(np.prod(b[2:] - b[:2])) - inter)
