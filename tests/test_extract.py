"""`facesmith extract` end to end on real footage and photos from ../shared/data."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

import facesmith
from facesmith.face.smoothing import landmark_jitter
from facesmith.faceset import list_faces, read_face, read_face_meta
from facesmith.faceset.store import AlignmentsStore

from .conftest import IMAGES, VIDEOS

FACESMITH = [sys.executable, "-m", "facesmith.cli"]


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*FACESMITH, *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"facesmith {' '.join(args)} failed: {proc.stderr[-2000:]}")
    return proc


def faces_per_frame(folder: Path) -> dict[int, list[dict]]:
    with AlignmentsStore.in_folder(folder, create=False) as store:
        (src,) = store.sources()
        return {fr.frame: [data for _, _, data in fr.faces] for fr in store.frames(src.id)}


@pytest.fixture(scope="module")
def identity_a_faces(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("faces_a")
    proc = run_cli("extract", str(VIDEOS / "identity_a.mp4"), "-o", str(out), "--json", "--quiet")
    return out, json.loads(proc.stdout)


def test_one_face_on_nearly_every_frame_of_identity_a(identity_a_faces):
    out, summary = identity_a_faces
    frames = faces_per_frame(out)
    assert len(frames) == 1008 == summary["frames_read"]
    one = sum(len(f) == 1 for f in frames.values())
    assert one / len(frames) >= 0.99, f"one face on {one}/{len(frames)} frames"
    assert summary["faces_saved"] == len(list_faces(out)) == summary["faces_in_faceset"]
    assert summary["frames_without_face"] == sum(not f for f in frames.values())
    # tracking means the detector ran on a small share of the frames
    assert summary["detector_runs"] < 0.2 * len(frames)


def test_faces_carry_their_metadata(identity_a_faces):
    out, _ = identity_a_faces
    path = list_faces(out)[100]
    image, meta = read_face(path)
    assert image.shape == (256, 256, 3)
    for key in ("source", "frame", "time", "box", "landmarks", "matrix", "mask", "score", "blur",
                "yaw", "pitch", "roll", "size"):
        assert key in meta, key
    assert meta["source"]["sha256"] and len(meta["landmarks"]) == 68
    assert abs(meta["time"] - meta["frame"] / 30) < 1e-3
    # landmarks and matrix agree with the pixels: the nose tip lands at the mean face's nose tip
    from facesmith.face.align import aligned_mean_face, transform_points

    nose = transform_points(np.array(meta["landmarks"]), np.array(meta["matrix"]))[30]
    assert np.linalg.norm(nose - aligned_mean_face(256)[30]) < 20


def test_temporal_smoothing_reduces_jitter(tmp_path):
    """Measured on identity_b (a talking head): jitter is high-frequency landmark motion."""
    runs = {}
    for name, flags in (("smooth", []), ("raw", ["--no-smooth"])):
        out = tmp_path / name
        run_cli("extract", str(VIDEOS / "identity_b.mp4"), "-o", str(out), "--end", "6", "--quiet", *flags)
        frames = faces_per_frame(out)
        runs[name] = np.array([f[0]["landmarks"] for f in frames.values() if len(f) == 1])
    jitter = {k: landmark_jitter([v]) for k, v in runs.items()}
    iod = np.linalg.norm(runs["raw"][:, 36] - runs["raw"][:, 45], axis=1)[:, None]
    lag = float((np.linalg.norm(runs["smooth"] - runs["raw"], axis=2) / iod).mean())
    print(f"jitter raw {jitter['raw']:.4f} smoothed {jitter['smooth']:.4f} IOD/frame^2; mean shift {lag:.4f} IOD")
    assert jitter["smooth"] < 0.7 * jitter["raw"]
    assert lag < 0.03  # smoothing must not drag the landmarks off the face


def test_two_people_and_reference_filter(tmp_path):
    video = VIDEOS / "two_people_720p.mp4"
    out = tmp_path / "both"
    run_cli("extract", str(video), "-o", str(out), "--every", "4", "--quiet")
    frames = faces_per_frame(out)
    two = sum(len(f) == 2 for f in frames.values())
    assert two / len(frames) >= 0.95, f"two faces on {two}/{len(frames)} sampled frames"
    # a "photo" of the person on the right: the right half of a frame the extraction did not sample
    with av.open(str(video)) as c:
        frame = next(f for i, f in enumerate(c.decode(video=0)) if i == 2).to_ndarray(format="bgr24")
    ref = tmp_path / "ref person.jpg"
    cv2.imwrite(str(ref), frame[:, frame.shape[1] // 2 :])
    only = tmp_path / "right"
    proc = run_cli("extract", str(video), "-o", str(only), "--every", "4", "--ref", str(ref), "--json", "--quiet")
    kept = [face for f in faces_per_frame(only).values() for face in f]
    centres = [(face["box"][0] + face["box"][2]) / 2 for face in kept]
    assert len(kept) >= 0.9 * len(frames), f"kept {len(kept)} of {len(frames)} frames"
    assert min(centres) > frame.shape[1] / 2, "a face from the left half was kept"
    assert all(face["identity_distance"] < 0.6 for face in kept)
    assert json.loads(proc.stdout)["faces_saved"] == len(kept)


def test_killed_run_resumes_to_the_same_faceset(tmp_path):
    video = str(VIDEOS / "identity_b.mp4")
    whole = tmp_path / "whole"
    run_cli("extract", video, "-o", str(whole), "--every", "2", "--quiet")
    killed = tmp_path / "killed"
    proc = subprocess.Popen([*FACESMITH, "extract", video, "-o", str(killed), "--every", "2", "--quiet"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(killed.glob("*.jpg"))) < 60:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = len(list(killed.glob("*.jpg")))
    assert 0 < partial < len(list_faces(whole)), "the run should have been killed half-way"
    run_cli("extract", video, "-o", str(killed), "--every", "2", "--quiet")
    names = [p.name for p in list_faces(whole)]
    assert [p.name for p in list_faces(killed)] == names
    for name in names[::7]:
        a, b = read_face_meta(whole / name), read_face_meta(killed / name)
        assert a["landmarks"] == b["landmarks"] and a["matrix"] == b["matrix"]
    assert faces_per_frame(whole).keys() == faces_per_frame(killed).keys()
    # and a third run finds everything done
    proc = run_cli("extract", video, "-o", str(killed), "--every", "2", "--json", "--quiet")
    summary = json.loads(proc.stdout)
    assert summary["sources_already_done"] == 1 and summary["faces_saved"] == 0


def test_reextract_at_another_size_without_detecting(identity_a_faces, tmp_path):
    out, _ = identity_a_faces
    old = tmp_path / "old"
    old.mkdir()
    # a small copy of the faceset: the store plus the first 40 faces, one of which the user deleted
    (old / "alignments.db").write_bytes((out / "alignments.db").read_bytes())
    faces = list_faces(out)
    for p in faces[:40]:
        (old / p.name).write_bytes(p.read_bytes())
    (old / faces[3].name).unlink()
    new = tmp_path / "new"
    proc = run_cli("extract", "--from-faceset", str(old), "-o", str(new), "--size", "128", "--json", "--quiet")
    assert json.loads(proc.stdout)["faces_saved"] == 39
    got = list_faces(new)
    assert [p.name for p in got] == [p.name for p in faces[:40] if p != faces[3]]
    image, meta = read_face(got[0])
    assert image.shape == (128, 128, 3) and meta["size"] == 128
    assert meta["landmarks"] == read_face_meta(faces[0])["landmarks"]
    # every processed frame stays on record for convert, also those whose faces were not cut again
    assert len(faces_per_frame(new)) == 1008 and sum(map(len, faces_per_frame(new).values())) == 39


def test_rotated_photo_is_found_by_the_rotation_retry(tmp_path):
    image = cv2.imread(str(IMAGES / "groups" / "two_people.jpg"))
    cv2.imwrite(str(tmp_path / "lying.jpg"), cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE))
    summary = facesmith.extract([tmp_path / "lying.jpg"], tmp_path / "faces")
    assert summary.faces_saved >= 1
    rolls = [read_face_meta(p)["roll"] for p in list_faces(tmp_path / "faces")]
    assert all(abs(abs(r) - 90) < 25 for r in rolls), rolls


def _one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("facesmith: error: "), proc.stderr
    return lines[0]


def test_bad_inputs_give_one_line_errors_and_write_nothing(tmp_path):
    from .media_variants import make_bad_inputs

    bad = make_bad_inputs(tmp_path / "bad")
    for name, path in bad.items():
        out = tmp_path / f"out_{name}"
        proc = run_cli("extract", str(path), "-o", str(out), check=False)
        _one_line_error(proc)
        assert not out.exists() or not list_faces(out), f"{name} left faces behind"
    blocker = tmp_path / "a file"
    blocker.write_text("x")
    proc = run_cli("extract", str(VIDEOS / "identity_b.mp4"), "-o", str(blocker / "faces"), check=False)
    assert "output" in _one_line_error(proc)
    _one_line_error(run_cli("extract", str(VIDEOS / "identity_b.mp4"), "-o", str(tmp_path / "x"), "--size", "20", check=False))
    _one_line_error(run_cli("extract", str(VIDEOS / "identity_b.mp4"), "-o", str(tmp_path / "x"), "--detector", "nope", check=False))


def test_every_image_mode_extracts_a_face(tmp_path):
    from .media_variants import make_image_variants

    variants = make_image_variants(tmp_path / "in")
    for name, path in variants.items():
        summary = facesmith.extract([path], tmp_path / f"out_{name}")
        assert summary.faces_saved >= 1, f"no face in the {name} image"
        _, meta = read_face(list_faces(tmp_path / f"out_{name}")[0])
        assert abs(meta["roll"]) < 30, f"{name}: face not upright (roll {meta['roll']})"


def test_folder_of_images_and_json_summary(tmp_path):
    folder = tmp_path / "photos ünï"
    folder.mkdir()
    for name in ("img1.jpg", "img2.jpg", "img3.jpg"):
        (folder / name).write_bytes((IMAGES / "identities" / name).read_bytes())
    proc = run_cli("extract", str(folder), "-o", str(tmp_path / "f"), "--json", "--quiet")
    summary = json.loads(proc.stdout)
    assert summary["ok"] and summary["sources"] == 3 and summary["frames_read"] == 3
    assert summary["faces_saved"] >= 3
    assert os.path.exists(tmp_path / "f" / "alignments.db")


@pytest.mark.parametrize("degrees", [90, 270])
def test_phone_video_with_rotation_metadata_gives_upright_faces(tmp_path, degrees):
    from .media_variants import make_rotated_video

    video = make_rotated_video(tmp_path, degrees)
    summary = facesmith.extract([video], tmp_path / "faces")
    assert summary.faces_saved >= 0.9 * summary.frames_read > 0
    for path in list_faces(tmp_path / "faces")[::5]:
        assert abs(read_face_meta(path)["roll"]) < 20  # upright, as the viewer sees it


def test_time_range_max_faces_and_min_size(tmp_path):
    video = str(VIDEOS / "two_people_720p.mp4")
    out = tmp_path / "one"
    proc = run_cli("extract", video, "-o", str(out), "--start", "2", "--end", "0:04", "--every", "3",
                   "--max-faces", "1", "--json", "--quiet")
    frames = faces_per_frame(out)
    with AlignmentsStore.in_folder(out, create=False) as store:
        times = [fr.time for fr in store.frames(store.sources()[0].id)]
    assert times and min(times) >= 2.0 - 1e-6 and max(times) < 4.0
    assert all(i % 3 == 0 for i in frames)
    assert all(len(f) == 1 for f in frames.values())
    assert json.loads(proc.stdout)["frames_read"] == len(frames)
    huge = tmp_path / "none"
    proc = run_cli("extract", video, "-o", str(huge), "--end", "1", "--min-size", "5000", "--json", "--quiet")
    summary = json.loads(proc.stdout)
    assert summary["faces_saved"] == 0 and summary["frames_without_face"] == summary["frames_read"] > 0
