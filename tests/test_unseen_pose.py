"""--unseen-pose: a face at a head pose the model never saw its source at is swapped anyway, faded
back to the target's own face, or left alone, and convert says how many there were.

The test model's source is identity_a (a frontal face, looking a little down); two_people_720p's faces
turn 15-40 degrees sideways and look up, 25-35 degrees from its poses, while identity_b's are within
6 degrees of them in 90% of its frames (at most 16)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import facesmith
from facesmith.engine import BlendSettings, FrameEngine
from facesmith.engine.frames import FaceJob
from facesmith.engine.names import FAMILIAR_POSE, KEEP_POSE, UNSEEN_POSE
from facesmith.face import FaceReader
from facesmith.face.pose import PoseRange, head_pose, pose_cells
from facesmith.faceset import list_faces, read_face_meta
from facesmith.media.video import iter_frames
from facesmith.models.checkpoint import describe
from facesmith.provenance import Marker
from facesmith.train.data import balanced_weights

from .test_convert import VIDEOS, run_cli, trained


def test_pose_range_measures_how_far_outside_the_trained_poses() -> None:
    rng = np.random.default_rng(0)
    poses = np.concatenate([rng.uniform(-5, 5, (400, 2)), [[40, 0], [41, 1]]])  # two stray faces far right
    cells = pose_cells(poses)
    assert sum(c[2] for c in cells) == len(poses) and len(cells) < 50
    near = PoseRange(cells)
    assert near.distance(0, 0) <= 2
    assert 13 <= near.distance(20, 0) <= 17
    assert near.distance(40, 0) >= 33  # two faces there are not a pose the model has learned
    assert PoseRange([]).distance(50, 50) == 0  # nothing known: nothing is called unseen
    # a crafted model's record: counts below zero or fractional count as nothing, never as an error
    odd = PoseRange([[0, 0, -1e9], [3, 0, 2.4], [80, 0, 1e12], [0, 50, 0]])
    assert odd.distance(0, 0) == 80 and PoseRange([[0, 0, -5]]).distance(9, 9) == 0


def test_pose_balance_draws_the_rare_poses_more() -> None:
    """identity_b looks up (chin raised, pitch above 0) in a few of its frames: --pose-balance 1 draws them
    several times as often as plain epochs do."""
    poses = np.array([[read_face_meta(p)["yaw"], read_face_meta(p)["pitch"]] for p in list_faces(trained()[2])])
    rare = poses[:, 1] > 0
    assert 0 < rare.mean() < 0.15
    weights = balanced_weights(poses, 1.0)
    print(f"faces looking up: {rare.mean():.3f} of the faceset, drawn {weights[rare].sum():.3f} of the time")
    assert weights[rare].sum() > 2 * rare.mean()
    assert np.allclose(balanced_weights(poses, 0.0), 1 / len(poses))


def _engine(mode: str) -> FrameEngine:
    model = facesmith.load_model(trained()[0])
    return FrameEngine(model, direction="b2a", blend=BlendSettings(unseen_pose=mode),
                       marker=Marker("5ca1ab1e0ddba11c", enabled=False))


def _frame(video: str, index: int = 0) -> np.ndarray:
    return next(f.image for i, f in enumerate(iter_frames(VIDEOS / video)) if i == index)


def test_the_model_records_the_poses_it_was_trained_at() -> None:
    model_dir, a, _ = trained()
    info = facesmith.load_model(model_dir).poses
    assert set(info) == {"a", "b"}
    yaws = [read_face_meta(p)["yaw"] for p in list_faces(a)]
    assert info["a"].faces == len(yaws)  # the test model holds nothing out
    shown = describe(model_dir)["poses"]["a"]
    assert shown["faces"] == len(yaws)
    assert abs(shown["yaw"][0] - min(yaws)) <= 1 and abs(shown["yaw"][1] - max(yaws)) <= 1


def test_faces_far_outside_are_left_alone_unless_asked() -> None:
    frame = _frame("two_people_720p.mp4", 40)  # both faces 29-31 degrees from the source's poses
    faces = FaceReader().find(frame)
    assert len(faces) == 2
    far = _engine("swap").swapper.pose_range
    assert far is not None
    assert all(far.distance(*head_pose(f.landmarks, frame.shape[1::-1])[:2]) >= UNSEEN_POSE for f in faces)
    swapped = _engine("swap").swap_frame(frame.copy(), faces)
    assert swapped.swapped == 2 and np.abs(swapped.image.astype(int) - frame).max() > 50
    for mode in ("fade", "keep"):
        engine = _engine(mode)
        got = engine.swap_frame(frame.copy(), faces)
        assert got.swapped == 0 and np.array_equal(got.image, frame)
        assert engine.stats.faces_at_unseen_pose == 2 and engine.stats.faces_left_alone == 2


def test_familiar_poses_are_swapped_as_before() -> None:
    frame = _frame("identity_b.mp4")
    (face,) = FaceReader().find(frame)
    engine = _engine("fade")
    assert engine.swapper.unseen(frame, FaceJob.of(face)) <= FAMILIAR_POSE
    plain = _engine("swap").swap_frame(frame.copy(), [face]).image
    faded = engine.swap_frame(frame.copy(), [face]).image
    assert np.array_equal(plain, faded) and engine.stats.faces_at_unseen_pose == 0


@pytest.mark.parametrize("part", [0.25, 0.5, 0.75])
def test_between_the_limits_the_swap_fades_in_proportion(part: float) -> None:
    """The drawn identity's poses moved so the face lies `part` of the way from FAMILIAR_POSE to
    UNSEEN_POSE outside them: the change to the frame is 1 - `part` of the full swap's."""
    distance = FAMILIAR_POSE + part * (UNSEEN_POSE - FAMILIAR_POSE)
    frame = _frame("identity_b.mp4")
    (face,) = FaceReader().find(frame)
    yaw, pitch, _ = head_pose(face.landmarks, frame.shape[1::-1])
    ring = [[yaw + distance * np.cos(t), pitch + distance * np.sin(t), 5] for t in np.linspace(0, 2 * np.pi, 90)]
    changes = {}
    for mode in ("swap", "fade", "keep"):
        engine = _engine(mode)
        engine.swapper.pose_range = PoseRange(ring)
        out = engine.swap_frame(frame.copy(), [face]).image
        changes[mode] = float(np.abs(out.astype(np.float64) - frame).sum())
    share = changes["fade"] / changes["swap"]
    want = 1 - part
    print(f"{distance} degrees: the fade changes {share:.3f} of what the swap does (expected {want:.3f})")
    assert share == pytest.approx(want, abs=0.08)
    assert changes["keep"] == (changes["swap"] if distance <= KEEP_POSE else 0)


def test_convert_reports_unseen_poses_and_refuses_an_empty_output(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    photo = tmp_path / "two.png"
    cv2.imwrite(str(photo), _frame("two_people_720p.mp4", 50))
    model = trained()[0]
    code, summary, err = run_cli(capsys, "convert", photo, "-m", model, "-o", tmp_path / "out.png", "--all-faces")
    assert code == 0, err
    seen = summary["unseen_pose"]
    assert seen["mode"] == "swap" and seen["faces"] == 2 and seen["left_alone"] == 0
    assert seen["farthest_degrees"] >= UNSEEN_POSE and summary["faces_swapped"] == 2
    code, _, err = run_cli(capsys, "convert", photo, "-m", model, "-o", tmp_path / "kept.png", "--all-faces",
                           "--unseen-pose", "keep")
    assert code != 0 and "--unseen-pose" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "kept.png").exists()
