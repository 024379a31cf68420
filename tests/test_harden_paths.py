"""Issue 14, classes 1 and 2: no name read from a file reaches outside its folder, and no command writes
onto one of its inputs. On real faces and videos of ../shared/data."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from .harden_helpers import IMAGES, VIDEOS, copy_faceset, digest_tree, one_line_error, run_cli
from .test_convert import trained
from .test_train import extracted_facesets


@pytest.fixture
def faceset(tmp_path: Path) -> Path:
    return copy_faceset(extracted_facesets()[0], tmp_path / "faces")


def truncated_video(tmp_path: Path) -> Path:
    """two_people_720p keeps its index first: its first 30% opens and decodes, then runs out."""
    data = (VIDEOS / "two_people_720p.mp4").read_bytes()
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: len(data) * 3 // 10])
    return path


# --- 1. names from alignments.db, faces import JSON and state.json ----------------------------------

@pytest.mark.parametrize("kind", ["relative", "absolute"])
def test_a_failing_source_never_deletes_a_file_named_by_the_store(tmp_path: Path, kind: str) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    video, out = truncated_video(tmp_path), tmp_path / "faces"
    first = run_cli("extract", video, "-o", out, "--every", "8", "--keep-partial")
    assert first.returncode != 0 and "truncated" in first.stderr  # its readable part is kept
    with sqlite3.connect(out / "alignments.db") as db:
        (sid,) = db.execute("SELECT id FROM sources").fetchone()
        name = "../victim.txt" if kind == "relative" else str(victim)
        db.execute("INSERT INTO faces VALUES (?, 0, 7, ?, ?)", (sid, name, "{}"))
    # without --keep-partial a failing source is forgotten: its faces were unlinked by name
    result = run_cli("extract", video, "-o", out, "--every", "8")
    one_line_error(result, match="not a plain file name")
    assert victim.read_text() == "keep me"


def test_faces_import_refuses_names_that_leave_the_faceset(faceset: Path, tmp_path: Path) -> None:
    export = tmp_path / "a.json"
    assert run_cli("faces", "export", faceset, "-o", export).returncode == 0
    data = json.loads(export.read_text())
    data["sources"][0]["frames"][0]["faces"][0]["file"] = "../../outside.jpg"
    export.write_text(json.dumps(data))
    before = digest_tree(faceset / "alignments.db")
    one_line_error(run_cli("faces", "import", faceset, export), code=2, match="not a plain file name")
    assert digest_tree(faceset / "alignments.db") == before  # nothing imported


def test_model_info_does_not_follow_state_json_out_of_the_checkpoint(tmp_path: Path) -> None:
    model = tmp_path / "model"
    shutil.copytree(trained()[0], model)
    ckpt = next(p for p in (model / "checkpoints").iterdir() if p.name.isdigit())
    secret = tmp_path / "secret.safetensors"
    shutil.copy(ckpt / "model.safetensors", secret)  # a readable file outside the model folder
    state = json.loads((ckpt / "state.json").read_text())
    state["files"] = {"../../../secret.safetensors": hashlib.sha256(secret.read_bytes()).hexdigest()}
    (ckpt / "state.json").write_text(json.dumps(state))
    one_line_error(run_cli("model", "info", model), code=2, match="not a plain .safetensors file name")


def test_faces_tools_never_move_faces_out_through_a_link(faceset: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (faceset / "_rejected").symlink_to(elsewhere)
    faces = sorted(p.name for p in faceset.glob("*.jpg"))
    one_line_error(run_cli("faces", "dedupe", faceset, "--threshold", "32"), match="outside")
    assert sorted(p.name for p in faceset.glob("*.jpg")) == faces and not any(elsewhere.rglob("*.jpg"))


# --- 2. nothing is written onto an input ----------------------------------------------------------

def test_train_refuses_a_model_folder_that_is_a_faceset(faceset: Path, tmp_path: Path) -> None:
    b = copy_faceset(extracted_facesets()[1], tmp_path / "b")
    before = digest_tree(faceset)
    for out in (faceset, faceset / "model"):
        one_line_error(run_cli("train", faceset, b, "-o", out, "--iterations", "2"), code=3,
                       match="would be written onto FACESET A")
    assert digest_tree(faceset) == before and not (faceset / "model").exists()


def test_extract_refuses_to_write_into_its_input_folder(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("img49.jpg", "img46.jpg"):
        shutil.copy(IMAGES / "identities" / name, photos)
    before = digest_tree(photos)
    one_line_error(run_cli("extract", photos, "-o", photos), code=3, match="would be written onto INPUTS")
    one_line_error(run_cli("extract", photos / "img49.jpg", "-o", photos), code=3, match="become part of")
    assert digest_tree(photos) == before


def test_swap_refuses_to_overwrite_its_source(tmp_path: Path) -> None:
    source = tmp_path / "source.mp4"
    shutil.copy(VIDEOS / "identity_a.mp4", source)
    before = digest_tree(source)
    one_line_error(run_cli("swap", source, VIDEOS / "identity_b.mp4", "-o", source, "--overwrite",
                           "--iterations", "1"), code=3, match="would be written onto SOURCE")
    assert digest_tree(source) == before and not (tmp_path / "source.swap-work").exists()


def test_evaluate_refuses_reports_onto_inputs_and_existing_files(faceset: Path, tmp_path: Path) -> None:
    target = tmp_path / "target.mp4"
    shutil.copy(VIDEOS / "identity_a.mp4", target)
    before = digest_tree(target)
    common = ["--swapped", target, "--source", faceset, "--frames", "1", "--every", "200"]
    one_line_error(run_cli("evaluate", "--target", target, *common, "--report", target, "--overwrite"),
                   code=3, match="would be written onto TARGET")
    one_line_error(run_cli("evaluate", "--target", target, *common, "--report", faceset / "r.html"),
                   code=3, match="would be written onto SOURCE_FACESET")
    existing = tmp_path / "old.html"
    existing.write_text("mine")
    one_line_error(run_cli("evaluate", "--target", target, *common, "--report", existing), code=3,
                   match="--overwrite")
    assert digest_tree(target) == before and existing.read_text() == "mine"


def test_faces_export_refuses_the_store_and_existing_files(faceset: Path, tmp_path: Path) -> None:
    before = digest_tree(faceset)
    one_line_error(run_cli("faces", "export", faceset, "-o", faceset / "alignments.db"), code=3,
                   match="part of the faceset")
    existing = tmp_path / "a.json"
    existing.write_text("mine")
    one_line_error(run_cli("faces", "export", faceset, "-o", existing), code=3, match="--overwrite")
    assert existing.read_text() == "mine" and digest_tree(faceset) == before
    assert run_cli("faces", "export", faceset, "-o", existing, "--overwrite").returncode == 0
    assert json.loads(existing.read_text())["format"] == "facesmith-alignments"
