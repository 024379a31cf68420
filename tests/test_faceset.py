"""Faceset format, alignments store and alignment geometry (no face models needed)."""

from __future__ import annotations

import sqlite3

import cv2
import numpy as np
import pytest

from facesmith.errors import InputError
from facesmith.face.align import (
    FLIP_68,
    MEAN_FACE_68,
    aligned_mean_face,
    alignment_matrix,
    invert_matrix,
    mask_polygon,
    rasterize_mask,
    transform_points,
    umeyama,
)
from facesmith.faceset import (
    encode_face,
    face_landmarks,
    face_mask,
    list_faces,
    load_face,
    read_face,
    write_face,
)
from facesmith.faceset.face_file import read_meta_bytes
from facesmith.faceset.store import AlignmentsStore, FrameRecord


def _similarity(angle: float, scale: float, tx: float, ty: float) -> np.ndarray:
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return np.array([[c, -s, tx], [s, c, ty]])


def test_umeyama_recovers_a_similarity_transform():
    m = _similarity(0.4, 2.5, 30.0, -12.0)
    dst = transform_points(MEAN_FACE_68, m)
    np.testing.assert_allclose(umeyama(MEAN_FACE_68, dst), m, atol=1e-9)
    np.testing.assert_allclose(transform_points(dst, invert_matrix(m)), MEAN_FACE_68, atol=1e-9)


def test_umeyama_is_the_least_squares_similarity_of_noisy_and_mirrored_points():
    """Against an independent solve: the similarity [[a, -b, tx], [b, a, ty]] as a linear least-squares
    problem in (a, b, tx, ty)."""
    rng = np.random.default_rng(3)
    for src in (MEAN_FACE_68 * 90 + rng.normal(0, 4, (68, 2)), MEAN_FACE_68 * [-90, 90]):
        dst = transform_points(MEAN_FACE_68, _similarity(0.7, 1.8, -5.0, 40.0)) + rng.normal(0, 2, (68, 2))
        rows = np.zeros((2 * len(src), 4))
        rows[0::2] = np.column_stack([src[:, 0], -src[:, 1], np.ones(len(src)), np.zeros(len(src))])
        rows[1::2] = np.column_stack([src[:, 1], src[:, 0], np.zeros(len(src)), np.ones(len(src))])
        (a, b, tx, ty), *_ = np.linalg.lstsq(rows, dst.ravel(), rcond=None)
        np.testing.assert_allclose(umeyama(src, dst), [[a, -b, tx], [b, a, ty]], atol=1e-9)


def test_alignment_puts_a_face_onto_the_mean_face():
    frame_points = transform_points(MEAN_FACE_68, _similarity(-0.3, 120.0, 400.0, 260.0))
    m = alignment_matrix(frame_points, 256)
    np.testing.assert_allclose(transform_points(frame_points, m), aligned_mean_face(256), atol=1e-6)
    # the whole face, jaw and forehead included, lands inside the crop
    poly = mask_polygon(aligned_mean_face(256))
    assert poly.min() > 0 and poly.max() < 256


def test_mean_face_is_mirror_symmetric():
    mirrored = MEAN_FACE_68[FLIP_68] * (-1, 1) + (1, 0)
    np.testing.assert_allclose(mirrored, MEAN_FACE_68, atol=1e-3)
    assert sorted(FLIP_68) == list(range(68))


def test_mask_covers_the_face_and_forehead_not_the_corners():
    mask = rasterize_mask(mask_polygon(aligned_mean_face(256)), 256)
    assert mask[128, 128] == 255 and mask[0, 0] == 0 and mask[255, 255] == 0
    brow_y = int(aligned_mean_face(256)[19, 1])
    assert mask[brow_y - 20, 128] == 255  # forehead above the brows is in the mask
    assert 0.25 < (mask > 0).mean() < 0.6


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_face_file_round_trip(tmp_path, suffix):
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)
    aligned = aligned_mean_face(64)
    meta = {"size": 64, "landmarks": aligned.tolist(), "matrix": np.eye(2, 3).tolist(),
            "mask": (mask_polygon(aligned) / 64).tolist(), "box": [0, 0, 64, 64], "frame": 7, "name": "ünï"}
    path = tmp_path / f"face{suffix}"
    write_face(path, image, meta)
    pixels, got = read_face(path)
    assert got["frame"] == 7 and got["name"] == "ünï" and got["format"] == 1
    assert pixels.shape == (64, 64, 3)
    if suffix == ".png":
        assert np.array_equal(pixels, image)
    # the file is an ordinary image that other tools open
    assert cv2.imread(str(path)).shape == (64, 64, 3)
    np.testing.assert_allclose(face_landmarks(got), aligned, atol=1e-6)
    np.testing.assert_allclose(face_landmarks(got, 128), aligned * 2, atol=1e-6)
    assert face_mask(got, 32).shape == (32, 32)
    face = load_face(path, size=32)
    assert face.image.shape == (32, 32, 3) and face.mask.shape == (32, 32)
    assert list_faces(tmp_path) == [path]


def test_plain_images_are_not_faces(tmp_path):
    _, buf = cv2.imencode(".jpg", np.zeros((8, 8, 3), np.uint8))
    assert read_meta_bytes(buf.tobytes()) is None
    (tmp_path / "x.jpg").write_bytes(buf.tobytes())
    with pytest.raises(InputError, match="not a facesmith face"):
        read_face(tmp_path / "x.jpg")
    assert read_meta_bytes(encode_face(np.zeros((8, 8, 3), np.uint8), {"a": 1})) == {"format": 1, "a": 1}


# the least a face record holds (the store checks every record it reads back: store_check.py)
FACE_RECORD = {"size": 64, "landmarks": [[1.0, 2.0]] * 68, "matrix": [[1, 0, 0], [0, 1, 0]],
               "mask": [[0, 0], [1, 0], [0, 1]], "box": [0, 0, 10, 10]}


def test_store_commits_atomically_and_resumes(tmp_path):
    with AlignmentsStore.in_folder(tmp_path) as store:
        src = store.add_source("ab" * 32, "/v.mp4", "video", {"fps": 30})
        store.commit_frames(src.id, [FrameRecord(0, 0.0, [(0, "f0.jpg", FACE_RECORD)]), FrameRecord(1, 0.033, [])],
                            next_frame=2, state={"tracker": {"n": 1}})
        with pytest.raises(RuntimeError), store._transaction():
            store.db.execute("UPDATE sources SET next_frame = 99")
            raise RuntimeError
    with AlignmentsStore.in_folder(tmp_path, create=False) as store:
        rec = store.source("ab" * 32)
        assert rec.next_frame == 2 and rec.state == {"tracker": {"n": 1}} and not rec.complete
        frames = list(store.frames(rec.id))
        assert [f.frame for f in frames] == [0, 1] and frames[0].faces == [(0, "f0.jpg", FACE_RECORD)]
        assert store.counts() == {"frames": 2, "frames_without_face": 1, "faces": 1}


def test_store_refuses_other_files_and_versions(tmp_path):
    (tmp_path / "alignments.db").write_bytes(b"\x80\x04not a database" * 100)
    with pytest.raises(InputError, match="not a facesmith alignments store"):
        AlignmentsStore.in_folder(tmp_path)
    with pytest.raises(InputError, match="no alignments store"):
        AlignmentsStore.in_folder(tmp_path / "missing", create=False)
    other = tmp_path / "v2"
    other.mkdir()
    AlignmentsStore.in_folder(other).close()
    db = sqlite3.connect(other / "alignments.db")
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(InputError, match="schema 99"):
        AlignmentsStore.in_folder(other)


def test_faces_written_without_fsync_are_still_atomic(tmp_path):
    """Extraction skips the per-face fsync and flushes the filesystem once per commit instead."""
    from facesmith import atomic

    target = tmp_path / "face.jpg"
    atomic.write_bytes(target, b"x" * 1000, durable=False)
    atomic.sync_filesystem(tmp_path)
    assert target.read_bytes() == b"x" * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face.jpg"]  # no temporary file left behind
