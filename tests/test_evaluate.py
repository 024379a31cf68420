"""`facesmith evaluate` on real footage: an unswapped video against itself, and a real swap made here.

The swap comes from a tiny `lite` model trained for 150 iterations at one thread (~10 s) on identity_a
(every 8th frame) and the first 4 s of identity_b, then converted: blurry, but its faces move identity.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import torch

import facesmith
from facesmith.cli import main
from facesmith.errors import InputError

from .test_convert import TINY, VIDEOS, cut_clip


@functools.cache
def prepared() -> tuple[Path, Path, Path, Path]:
    """(faceset A, 4 s clip of identity_b, its swap with A's face, work folder)."""
    if not VIDEOS.is_dir():
        pytest.fail(f"shared test videos not found at {VIDEOS}")
    root = Path(tempfile.mkdtemp(prefix="facesmith-evaluate-test-"))
    import atexit

    atexit.register(shutil.rmtree, root, True)
    clip = cut_clip(VIDEOS / "identity_b.mp4", root / "clip.mp4", 4.0)
    facesmith.extract([VIDEOS / "identity_a.mp4"], root / "a", every=8)
    facesmith.extract([clip], root / "b")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        facesmith.train(root / "a", root / "b", root / "model", model="lite", model_options=TINY,
                        batch_size=8, lr=2e-3, warmup=5, iterations=150, save_every=150, preview_every=100000)
    finally:
        torch.set_num_threads(threads)
    swapped = root / "swapped.mp4"
    facesmith.convert(clip, root / "model", swapped)
    return root / "a", clip, swapped, root


def run_cli(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, dict, str]:
    code = main([*map(str, args), "--json", "--quiet"])
    out, err = capsys.readouterr()
    return code, json.loads(out.strip().splitlines()[-1]) if out.strip() else {}, err


def test_unswapped_video_against_itself(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    faces_a = prepared()[0]
    video = VIDEOS / "identity_b.mp4"
    report = tmp_path / "self.html"
    code, s, err = run_cli(capsys, "evaluate", "--target", video, "--swapped", video, "--source", faces_a,
                           "--report", report)
    assert code == 0, err
    print({k: v for k, v in s.items() if k != "frames"})
    assert s["frames_evaluated"] == len(s["frames"]) == 587 and s["frames_with_faces"] > 550
    assert s["identity_nearer"] == "target" and s["identity_source_nearer_share"] == 0.0
    assert s["identity"]["frames_measured"] == 30
    assert s["identity"]["target_distance"]["max"] < 0.45 < s["identity"]["source_distance"]["mean"]
    assert s["landmark_error"] < 1e-6 and s["expression_pose"]["yaw_diff"]["max"] < 1e-6
    assert s["background_psnr"] >= 99  # identical pixels: capped "infinite"
    assert s["temporal"]["landmark_jitter_target"] == s["temporal"]["landmark_jitter_swapped"] > 0
    assert s["marked"] is False  # the original is not a facesmith output
    # the face itself: as detailed as itself, follows its own expression, identical in the face box
    assert s["sharpness_ratio"] == 1.0 and s["face"]["sharpness_target"] > 50
    assert s["mouth_correlation"] == 1.0 and s["eye_correlation"] == 1.0 and s["flicker_ratio"] == 1.0
    assert s["face"]["face_psnr"] == 100.0 and s["face"]["face_ssim"] == 1.0 and s["face"]["frames"] > 550
    assert s["face"]["eye_range_target"] > 0.005  # the target blinks: there is an expression to follow
    text = report.read_text()
    assert len(re.findall(r'src="data:image/png;base64,', text)) == 8 + 4  # plots + crops at 100%
    assert len(re.findall(r'<img class="crop"', text)) == 4
    assert "http://" not in text and "https://" not in text  # self-contained


def test_real_swap_moves_identity_towards_the_source(capsys: pytest.CaptureFixture[str]) -> None:
    faces_a, clip, swapped, _ = prepared()
    plain = facesmith.evaluate(clip, clip, faces_a, write_report=False)
    code, s, err = run_cli(capsys, "evaluate", "--target", clip, "--swapped", swapped, "--source", faces_a)
    assert code == 0, err
    print("unswapped:", plain["identity_source_nearer_share"], plain["identity"]["source_distance"],
          "swapped:", s["identity_source_nearer_share"], s["identity"], "landmark error", s["landmark_error"],
          "pose", s["expression_pose"], "psnr", s["background_psnr"], "temporal", s["temporal"])
    assert s["identity_source_nearer_share"] > plain["identity_source_nearer_share"]
    assert s["identity"]["source_distance"]["mean"] < plain["identity"]["source_distance"]["mean"]
    # the swap keeps expression, pose and background, and says it is synthetic
    assert 0 < s["landmark_error"] < 0.3 and s["expression_pose"]["yaw_diff"]["mean"] < 10
    assert 35 < s["background_psnr"] < 99
    assert s["marked"] and s["provenance"]["watermark"]
    # a 150-iteration model draws a smeared patch: less detail than the target, and the face box changed
    assert 0 < s["sharpness_ratio"] < 0.8, s["face"]
    assert s["face"]["face_psnr"] < 35 and s["face"]["face_ssim"] < 0.95
    assert s["mouth_correlation"] is None or -1 <= s["mouth_correlation"] <= 1
    assert s["flicker_ratio"] > 0
    rows = [r for r in s["frames"] if "source_distance" in r]
    assert len(rows) == 30 and all("target_distance" in r for r in rows)
    assert Path(s["report"]) == swapped.with_name("swapped.mp4.evaluate.html") and Path(s["report"]).is_file()


def test_crops_are_written_at_full_size(tmp_path: Path) -> None:
    faces_a, clip, swapped, _ = prepared()
    s = facesmith.evaluate(clip, swapped, faces_a, frames=3, every=3, write_report=False, crops=tmp_path / "crops")
    import cv2

    assert len(s["crops"]) == 4
    for path in s["crops"]:
        pair = cv2.imread(path)
        half = (pair.shape[1] - 4) // 2
        assert pair.shape[0] > 100 and half > 100  # the face at its size in the 512x480 frame, not a thumbnail
        assert not (pair[:, :half] == pair[:, half + 4:]).all()  # the swapped side differs from the target


def test_bad_inputs_are_one_line_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    faces_a, clip, _, _ = prepared()
    code, s, err = run_cli(capsys, "evaluate", "--target", clip, "--swapped", VIDEOS / "identity_a.mp4",
                           "--source", faces_a, "--no-report")
    assert code == 2 and "SWAPPED must be converted from TARGET" in err and s["ok"] is False
    assert len(err.strip().splitlines()) == 1
    with pytest.raises(InputError, match="not a faceset"):
        facesmith.evaluate(clip, clip, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no face files"):
        facesmith.evaluate(clip, clip, tmp_path / "empty")
    with pytest.raises(InputError, match="not found"):
        facesmith.evaluate(tmp_path / "nope.mp4", clip, faces_a)
