"""The occlusion network and `--occlusion`: things in front of a face stay in front of the swapped face.

Measured on faces the shipped network never trained on (scripts/train_occlusion.py holds out
portrait_720x1280.mp4 and occlusion_pen.mp4), with occluders drawn from the street-crowd footage's
pixels, and on real faces with nothing in front of them (glasses, hair, open mouths, teeth must not
read as occluders)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facesmith.engine import BlendSettings, FrameEngine
from facesmith.face import FaceReader
from facesmith.face.align import crop_box
from facesmith.face.occluders import score_occluders
from facesmith.face.occlusion import covered_crops as predict
from facesmith.face.occlusion import face_view, occlusion_record
from facesmith.media.video import iter_frames
from facesmith.provenance import Marker

from .conftest import VIDEOS

SIZE = 64


def views(video: str, every: int, limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(64 px model view, hull mask) of the faces of every `every`th frame."""
    reader = FaceReader()
    return [face_view(frame.image, face) for frame, _ in zip(iter_frames(VIDEOS / video, every=every), range(limit),
                                                             strict=False) for face in reader.find(frame.image)]


@pytest.fixture(scope="module")
def textures() -> list[np.ndarray]:
    return [f.image for f, _ in zip(iter_frames(VIDEOS / "street_crowd_1080p.mp4", every=20), range(6), strict=False)]


def test_held_out_faces_with_something_in_front(textures: list[np.ndarray]) -> None:
    faces = views("portrait_720x1280.mp4", every=12, limit=30)
    assert len(faces) >= 20
    ious, _ = score_occluders(faces, textures, predict, n=150, seed=7)
    means = {k: float(np.mean(v)) for k, v in ious.items()}
    print("IoU inside the face by occluder:", {k: round(v, 3) for k, v in means.items()})
    assert np.mean([v for vs in ious.values() for v in vs]) >= 0.6
    assert min(means.values()) >= 0.4


@pytest.mark.parametrize("video", ["occlusion_pen.mp4", "portrait_720x1280.mp4"])
def test_clean_faces_read_as_uncovered(video: str) -> None:
    """Glasses, hair on the forehead, a wide-open mouth: the face itself, not something in front."""
    faces = views(video, every=6, limit=40)
    p = predict([c for c, _ in faces])
    share = [float((pi[h] > 0.5).mean()) for pi, (_, h) in zip(p, faces, strict=True)]
    print(f"{video}: share of the face read as covered, mean {np.mean(share):.4f} max {np.max(share):.4f}")
    assert np.mean(share) <= 0.02
    assert np.max(share) <= 0.1


def test_the_shipped_network_says_what_trained_it() -> None:
    record = occlusion_record()
    assert record["trained_by"] == "scripts/train_occlusion.py"
    assert "portrait_720x1280.mp4" not in record["media"] and "occlusion_pen.mp4" not in record["media"]
    assert record["held_out"]["portrait_720x1280.mp4"]["iou"] >= 0.6


def _occluder(kind: str, landmarks: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """uint8 mask of a thing in front of the face in frame pixels: a pen from eye to past the chin, a
    card over the nose, mouth and chin, a hand (palm and fingers) over the cheek and mouth."""
    m = np.zeros(shape[:2], np.uint8)
    eye, mouth, nose = landmarks[37], landmarks[57], landmarks[30]
    if kind == "pen":
        cv2.line(m, tuple(map(int, eye)), tuple(map(int, mouth + (mouth - eye) * 0.3)), 255, 14, cv2.LINE_AA)
    elif kind == "card":
        cv2.rectangle(m, tuple(map(int, nose - (10, 10))), tuple(map(int, nose + np.array([60, 150]))), 255, -1, cv2.LINE_AA)
    else:
        palm = landmarks[48]
        cv2.ellipse(m, tuple(map(int, palm)), (45, 30), 30, 0, 360, 255, -1, cv2.LINE_AA)
        for dx in (-20, 0, 20, 40):
            cv2.line(m, tuple(map(int, palm)), tuple(map(int, palm + np.array([dx, -70]))), 255, 16, cv2.LINE_AA)
    return m


@pytest.fixture(scope="module")
def skin() -> np.ndarray:
    """Another person's skin (identity_a's cheek), for a hand."""
    frame = next(iter(iter_frames(VIDEOS / "identity_a.mp4"))).image
    (face,) = FaceReader().find(frame)
    x, y = face.landmarks[[2, 31]].mean(0).astype(int)
    return frame[y - 12:y + 12, x - 12:x + 12]


@pytest.mark.parametrize(("kind", "least"), [
    ("pen", 0.45), ("card", 0.95),
    pytest.param("hand", 0.5, marks=pytest.mark.xfail(strict=True, reason="a flat hand of skin the colour of the "
                                                                           "face is not found (its own issue)"))])
def test_an_occluder_stays_in_front_of_the_swapped_face(kind: str, least: float, textures: list[np.ndarray],
                                                        skin: np.ndarray) -> None:
    import facesmith

    from .test_convert import trained

    model = facesmith.load_model(trained()[0])
    frame = next(iter(iter_frames(VIDEOS / "identity_b.mp4"))).image
    (face,) = FaceReader().find(frame)
    thing = _occluder(kind, face.landmarks, frame.shape)
    source = cv2.resize(skin if kind == "hand" else textures[0][300:600, 800:1100], frame.shape[1::-1])
    a = (cv2.GaussianBlur(thing, (0, 0), 1).astype(np.float32) / 255)[..., None]
    scene = (frame * (1 - a) + source * a).astype(np.uint8)
    (face,) = FaceReader().find(scene)
    core = cv2.erode(thing, np.ones((5, 5), np.uint8)) > 200  # clear of its antialiased edge
    kept = {}
    for occlusion in (False, True):
        engine = FrameEngine(model, direction="b2a", blend=BlendSettings(occlusion=occlusion),
                             marker=Marker("5ca1ab1e0ddba11c", enabled=False))
        out = engine.swap_frame(scene.copy(), [face]).image
        changed = np.abs(out.astype(int) - scene).max(2) > 3
        kept[occlusion] = 1 - float(changed[core].mean())
        if occlusion:
            assert changed.sum() > 3000  # the rest of the face is still swapped
    print(f"{kind}: share left as it was, without --occlusion {kept[False]:.3f}, with {kept[True]:.3f}")
    assert kept[False] < 0.5  # the swap draws over it
    assert kept[True] >= least


def test_training_leaves_what_covers_a_source_face_out_of_its_mask(tmp_path, textures: list[np.ndarray]) -> None:
    """train --occlusion: hair across a face or a hand weighs as background, so it is not learned as face."""
    import facesmith
    from facesmith.faceset import list_faces
    from facesmith.faceset.face_file import read_face, write_face
    from facesmith.train.data import load_faceset, prepare_face

    facesmith.extract([VIDEOS / "portrait_720x1280.mp4"], tmp_path / "faces", every=40)
    paths = list_faces(tmp_path / "faces")
    assert len(paths) >= 5
    image, meta = read_face(paths[0])
    stick = np.zeros(image.shape[:2], np.uint8)
    side = image.shape[0]
    cv2.line(stick, (int(0.3 * side), 0), (int(0.6 * side), side), 255, int(0.08 * side), cv2.LINE_AA)
    tex = cv2.resize(textures[1][200:500, 900:1200], (side, side))
    a = (stick.astype(np.float32) / 255)[..., None]
    write_face(tmp_path / "covered.png", (image * (1 - a) + tex * a).astype(np.uint8), meta)
    _, plain, _ = prepare_face(tmp_path / "covered.png", 64, 0.875)
    _, aware, _ = prepare_face(tmp_path / "covered.png", 64, 0.875, occlusion=True)
    inside = plain > 127
    gone = inside & (aware < 128)
    # the stick's part of the face: where the stick is, in the model's view of the crop
    off, view = crop_box(side, 0.875)
    stick_view = cv2.resize(stick[off:off + view, off:off + view], (64, 64), interpolation=cv2.INTER_AREA) > 200
    assert (gone & stick_view).sum() >= 0.7 * (inside & stick_view).sum()
    assert (gone & ~cv2.dilate(stick_view.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)).sum() \
        <= 0.03 * inside.sum()
    # clean faces keep (nearly) all of their mask, in the cached and the per-batch path alike
    full, _ = load_faceset(tmp_path / "faces", "A", 64, 0.875, occlusion=True)
    base, _ = load_faceset(tmp_path / "faces", "A", 64, 0.875)
    kept = (full.masks > 127).sum() / max((base.masks > 127).sum(), 1)
    assert kept >= 0.97
    cached = full.masks[[0, 1]]
    full.images = None
    assert np.array_equal(full.get([0, 1])[1], cached)


def test_swap_occlusion_also_trains_with_it() -> None:
    from facesmith.swap.runner import _split_options

    _, train, convert = _split_options({"occlusion": True, "expression_weight": 0.3})
    assert train == {"expression_weight": 0.3, "occlusion": True} and convert == {"occlusion": True}
    _, train, convert = _split_options({})
    assert "occlusion" not in train and convert == {}
