"""FaceReader / Face, the face library's front door, on the shared photos and clips."""

from __future__ import annotations

import numpy as np
import pytest

from facesmith.face import Face, FaceReader
from facesmith.face.align import alignment_matrix, mask_polygon, transform_points
from facesmith.face.identity import SAME_PERSON_THRESHOLD, face_distance
from facesmith.face.pose import head_pose
from facesmith.media.images import read_image
from facesmith.media.video import iter_frames

from .conftest import IMAGES, VIDEOS


@pytest.fixture(scope="module")
def reader() -> FaceReader:
    return FaceReader(detector="blazeface", landmarker="mesh")


def test_find_gives_every_face_of_a_photo_left_to_right(reader: FaceReader) -> None:
    image = read_image(IMAGES / "groups" / "two_people.jpg")
    faces = reader.find(image)
    assert len(faces) == 2 and all(isinstance(f, Face) for f in faces)
    assert faces[0].box[0] < faces[1].box[0]
    for face in faces:
        assert face.landmarks.shape == (68, 2) and face.score >= 0.5 and 0 < face.detector_score <= 1
        x0, y0, x1, y1 = face.box
        assert 0 <= x0 < x1 <= image.shape[1] and 0 <= y0 < y1 <= image.shape[0]
        # the derived geometry is the library's own, computed from the landmarks
        assert np.array_equal(face.matrix, alignment_matrix(face.landmarks, 1))
        assert np.array_equal(face.mask, mask_polygon(transform_points(face.landmarks, face.matrix)))
        assert face.pose == head_pose(face.landmarks, (image.shape[1], image.shape[0]))
        assert face.embedding is None
    blank = np.full_like(image, 127)
    assert reader.find(blank) == []


def test_track_keeps_one_id_and_the_online_tracker_gives_the_same(reader: FaceReader) -> None:
    frames = [f for f, _ in zip(iter_frames(VIDEOS / "identity_a.mp4"), range(12), strict=False)]
    tracked = list(reader.track(frames))
    assert [len(faces) for faces in tracked] == [1] * len(frames)
    assert {faces[0].track_id for faces in tracked} == {0}
    assert [faces[0].age for faces in tracked] == list(range(1, len(frames) + 1))
    online = reader.tracker()
    for frame, faces in zip(frames, tracked, strict=True):
        (face,) = online.update(frame.image, frame.time)
        assert np.array_equal(face.landmarks, faces[0].landmarks)
    # smoothing moves the landmarks off the model's own (raw) fit, but only a little
    last = tracked[-1][0]
    assert 0 < np.abs(last.landmarks - last.raw_landmarks).max() < 5


def test_embedding_tells_the_same_person_from_another(reader: FaceReader) -> None:
    embedding_reader = FaceReader(reader.detector, reader.landmarker, embed=True)
    a = [f.image for f, _ in zip(iter_frames(VIDEOS / "identity_a.mp4", every=20), range(2), strict=False)]
    b = next(iter(iter_frames(VIDEOS / "identity_b.mp4"))).image
    (a0,), (a1,), (b0,) = (embedding_reader.find(image) for image in (*a, b))
    assert a0.embedding is not None and a0.embedding.shape == (128,)
    assert face_distance(a0.embedding, a1.embedding) < SAME_PERSON_THRESHOLD < face_distance(a0.embedding, b0.embedding)
