"""Issue 14, classes 4, 5 and 8: every structure read from a file is checked before it is used, images
are sized from their headers before decoding, and every failure is one line saying what is wrong."""

from __future__ import annotations

import json
import shlex
import shutil
import sqlite3
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from facesmith.faceset import encode_face, list_faces, read_face

from .harden_helpers import (
    ENV,
    IMAGES,
    VIDEOS,
    copy_faceset,
    needs_namespaces,
    one_line_error,
    read_only,
    run_cli,
    run_cli_mounted,
    small_disk,
)
from .test_convert import trained
from .test_train import extracted_facesets

PHOTO = IMAGES / "identities" / "img12.jpg"


@pytest.fixture
def faceset(tmp_path: Path) -> Path:
    return copy_faceset(extracted_facesets()[0], tmp_path / "faces")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    shutil.copytree(trained()[0], tmp_path / "model")
    return tmp_path / "model"


def state_path(model: Path) -> Path:
    return next(p for p in (model / "checkpoints").iterdir() if p.name.isdigit()) / "state.json"


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def jpeg_with_payload(jpeg: bytes, payload: bytes) -> bytes:
    """A JPEG with `payload` as its facesmith APP15 segment (any bytes: the forged kind too)."""
    body = b"facesmith\0" + payload
    return jpeg[:2] + b"\xff\xef" + struct.pack(">H", len(body) + 2) + body + jpeg[2:]


def forge(faceset: Path, edit: Callable[[dict[str, Any]], Any]) -> Path:
    """Replace the first face of `faceset` by its pixels with edited metadata."""
    path = list_faces(faceset)[0]
    image, meta = read_face(path)
    meta.pop("format")
    edit(meta)
    path.write_bytes(encode_face(image, meta, path.suffix))
    return path


# --- 4. sizes from headers, before decoding; model size from its config, before building ----------

def test_a_face_claiming_a_huge_picture_is_refused_unread(faceset: Path) -> None:
    face = list_faces(faceset)[0]
    _, meta = read_face(face)
    ihdr = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
            + png_chunk(b"iTXt", b"facesmith\0\0\0\0\0" + json.dumps(meta).encode())
            + png_chunk(b"IDAT", zlib.compress(bytes(30001 * 64))) + png_chunk(b"IEND", b""))
    face.unlink()
    (faceset / "bomb.png").write_bytes(bomb)
    for args in (("faces", "dedupe", faceset), ("faces", "inspect", faceset, "--no-identities")):
        one_line_error(run_cli(*args), code=2, match="30000x30000 pixels but its metadata says 256x256")
    b = extracted_facesets()[1]
    one_line_error(run_cli("train", faceset, b, "-o", faceset.parent / "m", "--iterations", "1"), code=2,
                   match="30000x30000")
    assert not (faceset.parent / "m").exists()  # the refusal leaves no empty model folder


def test_a_face_file_resized_behind_its_metadata_is_refused(faceset: Path) -> None:
    import cv2

    path = list_faces(faceset)[0]
    image, meta = read_face(path)
    meta.pop("format")
    path.write_bytes(encode_face(cv2.resize(image, (1024, 1024)), meta, path.suffix))
    one_line_error(run_cli("faces", "dedupe", faceset), code=2, match="1024x1024 pixels but its metadata says 256x256")


def test_a_decompression_bomb_photo_is_refused_before_extract_writes(tmp_path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 19999, 19999, 8, 2, 0, 0, 0)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
                     + png_chunk(b"IDAT", zlib.compress(bytes(20000 * 64))) + png_chunk(b"IEND", b""))
    one_line_error(run_cli("extract", bomb, "-o", tmp_path / "faces"), code=2, match="400 MP")
    assert not (tmp_path / "faces").exists()


@pytest.mark.parametrize("options", [{"enc": [16384] * 4, "latent": 16384}, {"latent": 16384, "dec": [16384] * 4}])
def test_absurd_model_configs_are_refused_before_building(model: Path, tmp_path: Path, options: dict) -> None:
    path = state_path(model)
    state = json.loads(path.read_text())
    state["config"]["model_options"].update(options)
    path.write_text(json.dumps(state))
    one_line_error(run_cli("convert", PHOTO, "-m", model, "-o", tmp_path / "out.png"), code=2,
                   match="G parameters")
    a, b = extracted_facesets()
    one_line_error(run_cli("train", a, b, "-o", model, "--iterations", "100"), code=2, match="G parameters")


# --- 5. malformed structures: one line each ------------------------------------------------------

FACE_EDITS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "box missing": lambda m: m.pop("box"),
    "box a string": lambda m: m.update(box="0,0,1,1"),
    "size a string": lambda m: m.update(size="256"),
    "blur a list": lambda m: m.update(blur=[1]),
    "frame negative": lambda m: m.update(frame=-3),
    "landmarks short": lambda m: m.update(landmarks=m["landmarks"][:5]),
    "matrix nested": lambda m: m.update(matrix=[[[1]]]),
    "mask of strings": lambda m: m.update(mask=[["a", "b"]] * 3),
}


@pytest.mark.parametrize("case", sorted(FACE_EDITS))
def test_malformed_face_metadata(faceset: Path, case: str) -> None:
    forge(faceset, FACE_EDITS[case])
    one_line_error(run_cli("faces", "sort", faceset, "--by", "blur"), code=2, match="face metadata is malformed")


def test_deeply_nested_face_metadata(faceset: Path) -> None:
    path = list_faces(faceset)[0]
    # 30000 levels (RecursionError in Python's JSON parser at ~1000), in front of the face's own segment
    path.write_bytes(jpeg_with_payload(path.read_bytes(), b'{"size": 256, "x": ' + b"[" * 30000 + b"]" * 30000 + b"}"))
    for args in (("faces", "sort", faceset, "--by", "size"), ("faces", "inspect", faceset, "--no-identities")):
        one_line_error(run_cli(*args), code=2, match="nested")


STORE_EDITS = {
    "source info not JSON": "UPDATE sources SET info = '{oops'",
    "settings a list": "UPDATE meta SET value = '[1, 2]' WHERE key = 'settings'",
    "face data not JSON": "UPDATE faces SET data = 'not json' WHERE rowid = (SELECT MIN(rowid) FROM faces)",
    "face data a list": "UPDATE faces SET data = '[]' WHERE rowid = (SELECT MIN(rowid) FROM faces)",
    "frame a string": "UPDATE faces SET frame = 'x' WHERE rowid = (SELECT MIN(rowid) FROM faces)",
    "foreign faces table": "DROP TABLE faces; CREATE TABLE faces (id INTEGER, name TEXT)",
}


@pytest.mark.parametrize("case", sorted(STORE_EDITS))
def test_malformed_alignments_store(faceset: Path, tmp_path: Path, case: str) -> None:
    with sqlite3.connect(faceset / "alignments.db") as db:
        db.executescript(STORE_EDITS[case])
    one_line_error(run_cli("faces", "export", faceset, "-o", tmp_path / "a.json"), code=2)
    one_line_error(run_cli("extract", "--from-faceset", faceset, "-o", tmp_path / "recut", "--size", "64",
                           VIDEOS / "identity_a.mp4"), code=2)


@pytest.mark.parametrize("case", ["meta a list", "meta deeply nested", "frames an object", "index a string"])
def test_malformed_faces_import(faceset: Path, tmp_path: Path, case: str) -> None:
    export = tmp_path / "a.json"
    assert run_cli("faces", "export", faceset, "-o", export).returncode == 0
    data = json.loads(export.read_text())
    text = None
    if case == "meta a list":
        data["meta"] = [1, 2]
    elif case == "frames an object":
        data["sources"][0]["frames"] = {"0": 1}
    elif case == "index a string":
        data["sources"][0]["frames"][0]["faces"][0]["index"] = "zero"
    else:
        text = json.dumps(data).replace('"meta": {', '"meta": {"deep": ' + "[" * 100000 + "]" * 100000 + ", ", 1)
    export.write_text(text or json.dumps(data))
    one_line_error(run_cli("faces", "import", faceset, export), code=2, match="alignments export")


STATE_EDITS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "options a list": lambda s: s["config"].update(model_options=[1, 2]),
    "iteration a string": lambda s: s.update(iteration="many"),
    "size negative": lambda s: s["config"]["model_options"].update(size=-64),
    "unknown architecture": lambda s: s["config"].update(model="resnet9000"),
    "hires arch": lambda s: s["config"].update(model="hires", model_options={"arch": "zz"}),
    "files a list": lambda s: s.update(files=["model.safetensors"]),
    "config missing": lambda s: s.pop("config"),
}


@pytest.mark.parametrize("case", sorted(STATE_EDITS))
def test_malformed_checkpoint_state(model: Path, tmp_path: Path, case: str) -> None:
    path = state_path(model)
    state = json.loads(path.read_text())
    STATE_EDITS[case](state)
    path.write_text(json.dumps(state))
    one_line_error(run_cli("convert", PHOTO, "-m", model, "-o", tmp_path / "out.png"), code=2)
    info = run_cli("model", "info", model)
    assert info.returncode == 0 or one_line_error(info, code=2)


def test_malformed_training_state_on_resume(model: Path) -> None:
    path = state_path(model)
    state = json.loads(path.read_text())
    state["config"]["loss"] = {"bogus": 1.0}
    state["rng"] = {"torch": "x"}
    path.write_text(json.dumps(state))
    a, b = trained()[1:]
    one_line_error(run_cli("train", a, b, "-o", model, "--iterations", "100"), code=2, match="malformed")


@needs_namespaces
def test_disk_full_during_extract(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    result = run_cli_mounted(small_disk(disk, "400k"), "extract", VIDEOS / "identity_a.mp4", "-o", disk / "faces",
                             "--every", "3")
    one_line_error(result, code=3, match="disk is full")


@needs_namespaces
def test_read_only_outputs_are_one_line(faceset: Path, tmp_path: Path) -> None:
    for args in (("faces", "sort", faceset, "--by", "blur"), ("faces", "dedupe", faceset),
                 ("faces", "sync", faceset)):
        one_line_error(run_cli_mounted(read_only(faceset), *args), code=3, match="read-only")
    # reading a read-only faceset works
    export = tmp_path / "a.json"
    assert run_cli_mounted(read_only(faceset), "faces", "export", faceset, "-o", export).returncode == 0
    assert json.loads(export.read_text())["sources"]
    # evaluate refuses an unwritable report before any work
    reports = tmp_path / "reports"
    reports.mkdir()
    clip = VIDEOS / "identity_a.mp4"
    result = run_cli_mounted(read_only(reports), "evaluate", "--target", clip, "--swapped", clip, "--source", faceset,
                             "--report", reports / "r.html")
    one_line_error(result, code=3, match="not writable")
    # and an unwritable crops folder (with no report), before any work too
    result = run_cli_mounted(read_only(reports), "evaluate", "--target", clip, "--swapped", clip, "--source", faceset,
                             "--no-report", "--crops", reports / "crops")
    one_line_error(result, code=3, match="not writable")
    assert not (reports / "crops").exists()


# --- 8. messages that say what is wrong ----------------------------------------------------------

def test_a_truncated_safetensors_is_not_called_a_pickle(model: Path) -> None:
    weights = state_path(model).parent / "model.safetensors"
    data = weights.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = data[8:8 + n].rstrip(b" ")
    pad = (0x80 - len(header)) % 256 or 256  # a header length whose first byte is 0x80
    header += b" " * pad
    assert len(header) & 0xFF == 0x80
    weights.write_bytes((struct.pack("<Q", len(header)) + header + data[8 + n:])[: len(header) // 2])
    one_line_error(run_cli("model", "info", model), code=2, match="truncated")


def test_evaluate_target_folder_says_folder(faceset: Path) -> None:
    one_line_error(run_cli("evaluate", "--target", faceset, "--swapped", VIDEOS / "identity_a.mp4",
                           "--source", faceset), code=2, match="is a folder")


@needs_namespaces
def test_disk_full_while_signing_says_disk_full(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    script = ("import sys\nfrom facesmith.errors import FacesmithError\nfrom facesmith.provenance import c2pa_manifest\n"
              "try:\n    with open(sys.argv[1], 'rb') as s, open(sys.argv[2], 'w+b') as d:\n"
              "        c2pa_manifest.sign_stream(s, d, 'image/jpeg', 'out.jpg', 'ab' * 32)\n"
              "except FacesmithError as e:\n    print(e)\n")
    photo = IMAGES / "identities" / "img49.jpg"  # 0.7 MB: its signed copy cannot fit in 200 KB
    command = (f"{small_disk(disk, '200k')} && exec {shlex.quote(sys.executable)} -c {shlex.quote(script)} "
               f"{shlex.quote(str(photo))} {shlex.quote(str(disk / 'out.jpg'))}")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", command], capture_output=True, text=True, env=ENV)
    assert "disk is full" in result.stdout, result.stdout + result.stderr[-2000:]
