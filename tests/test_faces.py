"""`facesmith faces`: sort, filter, dedupe, inspect, sync, export/import on a real faceset.

The faceset is extracted once from the images/identities photos (one face each, 13 labelled people);
every test works on its own copy.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import cv2
import pytest

import facesmith
from facesmith.cli import main
from facesmith.faceset import list_faces, read_face, read_face_meta, write_face
from facesmith.faceset.store import AlignmentsStore

from .conftest import IMAGES

IDENTITIES = IMAGES / "identities"


@pytest.fixture(scope="module")
def identity_faceset(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> Path:
    out = tmp_path_factory.mktemp("faces") / "identities"
    facesmith.extract(sorted(IDENTITIES.glob("img*.jpg")), out, size=128)
    return out


@pytest.fixture
def faceset(identity_faceset: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "faceset"
    shutil.copytree(identity_faceset, copy)
    return copy


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main([*argv, "--json", "-q"])
    lines = capsys.readouterr().out.strip().splitlines()
    return code, json.loads(lines[-1])


def _source_name(path: Path) -> str:
    return Path(read_face_meta(path)["source"]["path"]).name


def test_filter_keeps_exactly_the_reference_person(faceset: Path, capsys: pytest.CaptureFixture[str]):
    with open(IDENTITIES / "identity_labels.csv") as f:
        labels = {r["file"]: r["identity"] for r in csv.DictReader(f)}
    before = list_faces(faceset)
    person = labels["img26.jpg"]
    code, summary = _cli(capsys, "faces", "filter", str(faceset), "--ref", str(IDENTITIES / "img26.jpg"))
    assert code == 0 and summary["ok"]
    kept = {_source_name(p) for p in list_faces(faceset)}
    rejected_dir = faceset / "_rejected" / "other_identity"
    rejected = {_source_name(p) for p in rejected_dir.iterdir()}
    assert len(kept) + len(rejected) == len(before)  # moved aside, nothing deleted
    labelled_kept = [f for f in kept if labels.get(f, "unlabelled") != "unlabelled"]
    truth = {f for f, identity in labels.items() if identity == person}
    precision = sum(f in truth for f in labelled_kept) / max(len(labelled_kept), 1)
    recall = len(truth & kept) / len(truth)
    print(f"\nfilter --ref img26.jpg ({person}, {len(truth)} photos): precision {precision:.3f} recall {recall:.3f}")
    # measured: 1.0 / 1.0 (same-person distances <= 0.56, other people >= 0.66)
    assert precision == 1.0
    assert recall >= 0.875
    assert summary["kept"] == len(kept)


def test_dedupe_moves_exactly_the_planted_duplicates(faceset: Path, capsys: pytest.CaptureFixture[str]):
    files = list_faces(faceset)
    planted = set()
    for i, src in enumerate(files[:3]):  # byte copies
        name = f"zz_copy_{i}.jpg"
        shutil.copy(src, faceset / name)
        planted.add(name)
    for i, src in enumerate(files[10:12]):  # re-encoded at a lower quality, same metadata
        image, meta = read_face(src)
        meta.pop("format")
        name = f"zz_reencoded_{i}.jpg"
        write_face(faceset / name, image, meta, quality=60)
        planted.add(name)
    code, summary = _cli(capsys, "faces", "dedupe", str(faceset))
    assert code == 0
    moved = {p.name for p in (faceset / "_rejected" / "duplicates").iterdir()}
    assert moved == planted
    assert summary["duplicates"] == len(planted)
    assert {p.name for p in list_faces(faceset)} == {p.name for p in files}


def test_sort_by_blur_orders_by_stored_blur_and_undo_restores(faceset: Path, capsys: pytest.CaptureFixture[str]):
    before = {p.name for p in list_faces(faceset)}
    code, summary = _cli(capsys, "faces", "sort", str(faceset), "--by", "blur")
    assert code == 0
    files = list_faces(faceset)  # sorted by name = the new order
    blur = [read_face_meta(p)["blur"] for p in files]
    assert blur == sorted(blur, reverse=True)
    assert [p.name for p in files] == [row["file"] for row in summary["order"]]
    assert files[0].name.startswith("0001__")
    with AlignmentsStore.in_folder(faceset) as store:  # the store follows the renames
        assert set(store.face_files()) == {p.name for p in files}
    code, summary = _cli(capsys, "faces", "sort", str(faceset), "--undo")
    assert code == 0 and summary["restored"] == len(before)
    assert {p.name for p in list_faces(faceset)} == before
    with AlignmentsStore.in_folder(faceset) as store:
        assert set(store.face_files()) == before


def test_sync_drops_deleted_faces_and_relists_restored_ones(faceset: Path, capsys: pytest.CaptureFixture[str]):
    files = list_faces(faceset)
    deleted, aside = files[0], files[1]
    deleted.unlink()
    (faceset / "_rejected").mkdir()
    aside.rename(faceset / "_rejected" / aside.name)
    code, summary = _cli(capsys, "faces", "sync", str(faceset))
    assert code == 0 and summary["removed"] == 2 and summary["faces_in_store"] == len(files) - 2
    with AlignmentsStore.in_folder(faceset) as store:
        assert set(store.face_files()) == {p.name for p in files[2:]}
        source = next(s for s in store.sources() if s.sha256 == read_face_meta(files[2])["source"]["sha256"])
        assert store.counts(source.id)["faces"] == 1
        frames_without = store.counts()["frames_without_face"]
    assert frames_without >= 2  # the frames stay, without faces: convert leaves them untouched
    (faceset / "_rejected" / aside.name).rename(aside)  # moved back
    code, summary = _cli(capsys, "faces", "sync", str(faceset))
    assert summary["relisted"] == 1 and summary["removed"] == 0
    with AlignmentsStore.in_folder(faceset) as store:
        assert aside.name in store.face_files()


def test_export_import_round_trip(faceset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    exported = tmp_path / "alignments.json"
    code, summary = _cli(capsys, "faces", "export", str(faceset), "-o", str(exported))
    assert code == 0 and summary["faces"] == len(list_faces(faceset))
    other = tmp_path / "other"
    other.mkdir()
    code, summary = _cli(capsys, "faces", "import", str(other), str(exported))
    assert code == 0 and summary["faces_in_store"] == len(list_faces(faceset))
    with AlignmentsStore.in_folder(faceset) as a, AlignmentsStore.in_folder(other) as b:
        assert a.export_dict() == b.export_dict()
    # importing again replaces the same sources instead of doubling them
    code, summary = _cli(capsys, "faces", "import", str(other), str(exported))
    assert summary["faces_in_store"] == len(list_faces(faceset))
    exported.write_text('{"format": "something else"}')
    assert main(["faces", "import", str(other), str(exported), "-q"]) != 0


def test_inspect_writes_a_contact_sheet_and_stats(faceset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    sheet = tmp_path / "sheet.png"
    code, stats = _cli(capsys, "faces", "inspect", str(faceset), "--sheet", str(sheet), "--identity-sample", "16")
    assert code == 0
    image = cv2.imread(str(sheet))
    assert image is not None and image.shape[1] > 12 * 96
    n = len(list_faces(faceset))
    assert stats["faces"] == n == stats["faces_on_sheet"] and stats["sources"] == n
    assert stats["crop_size"] == [128]
    assert 20 < stats["face_size_px"]["median"] < 2000
    assert stats["yaw"]["min"] < 0 < stats["yaw"]["max"] and stats["yaw"]["std"] > 1
    assert stats["blur"]["min"] > 0
    # 16 evenly spaced photos of 13 people: several people, not one per face
    assert 4 <= stats["identities"] <= 15 and sum(stats["identity_cluster_sizes"]) == 16


def test_bad_input_is_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["faces", "dedupe", str(tmp_path / "missing"), "-q"]) != 0
    assert "faceset folder not found" in capsys.readouterr().err
    assert main(["faces", "sort", str(tmp_path), "-q"]) != 0
    assert main(["faces", "sync", str(tmp_path), "-q"]) != 0
    assert "no alignments store" in capsys.readouterr().err
