"""Provenance pieces: payload, fingerprint, image tags, C2PA manifests, the verify command's errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from facesmith.cli import main
from facesmith.errors import InputError
from facesmith.provenance import c2pa_manifest, finalize_file, image_tags, model_fingerprint, payload, verify
from facesmith.provenance.metadata import container_metadata, parse_tags

from .conftest import IMAGES

FP = "0123456789abcdef"


@pytest.fixture(autouse=True)
def facesmith_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("FACESMITH_HOME", str(tmp_path / "home"))
    yield tmp_path / "home"


def test_payload_round_trip_and_check() -> None:
    bits = payload.encode(FP)
    assert bits.shape == (64,) and payload.decode(bits) == {"identifier": "facesmith", "version": 1,
                                                            "model": FP[:10]}
    for i in range(64):  # any single flipped bit is caught
        flipped = bits.copy()
        flipped[i] ^= 1
        assert payload.decode(flipped) is None
    rng = np.random.default_rng(0)  # random bits (an unmarked face) essentially never pass
    assert not any(payload.decode(rng.integers(0, 2, 64)) for _ in range(20000))


def test_payload_v2_round_trip_check_and_soft_decoding() -> None:
    """Payload v2: 32 fingerprint bits + CRC-32; a single flip fails the check, and Chase decoding of
    summed soft bits repairs the least reliable bits, reporting the candidate's rank as k * 2^-32."""
    from facesmith.provenance import evidence

    bits = payload.encode_v2(FP)
    assert bits.shape == (64,) and payload.decode_v2(bits) == {"identifier": "facesmith", "version": 2,
                                                               "model": FP[:8]}
    for i in range(64):
        flipped = bits.copy()
        flipped[i] ^= 1
        assert payload.decode_v2(flipped) is None
        assert evidence.check_matches(flipped[None])[0] < 32
    sign = 2.0 * bits - 1.0
    soft = sign * np.linspace(1.0, 2.0, 64)
    soft[[3, 40, 61]] *= -0.1  # three wrong bits, all weakly read
    report = evidence.decode_faces([(0, soft)], 1)
    assert report["found"] and report["payload"]["model"] == FP[:8], report
    assert report["candidate"] > 1 and report["p_value"] == report["candidate"] * 2.0 ** -32
    soft[10] = -2.5  # a confidently wrong bit is not among the weak ones: no repair, no false claim
    assert not evidence.decode_faces([(0, soft)], 1)["found"]
    rng = np.random.default_rng(0)  # random soft bits (unmarked faces): the best of 2048 candidates
    matched = [evidence.decode_faces([(0, rng.normal(size=64))], 1) for _ in range(30)]
    assert not any(m["found"] for m in matched)
    assert all(m["false_positive_rate"] < 1e-6 for m in matched)
    assert 20 <= np.mean([m["check_bits_matched"] for m in matched]) <= 28  # max of 2048 Bin(32, 1/2) ~ 25


def test_model_tests_find_a_named_models_mark_beyond_the_blind_decoders_reach(tmp_path: Path) -> None:
    """A model named in advance is one hypothesis: its mark is found where too many bits are wrong for
    the blind decode; clean faces and another model's mark are not taken for it; the odds are
    calibrated (Hoeffding): on random soft bits p <= a happens at most a share a of the time."""
    from facesmith.provenance import evidence, watermark

    target = watermark.V2.target
    sign = 2.0 * payload.encode_v2(FP) - 1.0
    rng = np.random.default_rng(1)
    weak = sign.copy()
    # 10 of 64 bits wrong in every frame (the host wins where the attack left little: weakly), as a
    # 30-minute model's 104 px faces read after CRF 28 + half size + crop; no decode can repair that
    weak[rng.permutation(64)[:10]] *= -0.3
    faces = [(i, {"v2": 0.5 * target * weak + rng.normal(0, target, 64)}) for i in range(40)]
    assert not evidence.decode_faces(faces, 40)["found"]
    (test,) = evidence.model_tests(faces, [FP])
    assert test["found"] and test["false_positive_probability"] <= 1e-6 and test["layer"] == "v2", test
    assert [i for i, _ in test["strength"]] == list(range(40)) and 0.1 < test["signal"] < 0.6
    full = [(i, {"v2": target * sign + rng.normal(0, 0.3 * target, 64)}) for i in range(5)]
    assert 0.85 <= evidence.model_tests(full, [FP])[0]["signal"] <= 1.15  # 1 = as embedded
    mirrored = [(i, {"v2": rng.normal(0, target, 64), "v2-mirrored": f["v2"]}) for i, f in faces]
    assert evidence.model_tests(mirrored, [FP])[0]["layer"] == "v2-mirrored"

    other = payload.encode_v2("0123abcd")
    wrong = [(i, {"v2": target * (2.0 * other - 1.0) + rng.normal(0, target, 64)}) for i in range(40)]
    assert not evidence.model_tests(wrong, [FP])[0]["found"]
    p = [evidence.model_tests([(0, {"v2": rng.normal(size=64)})], [f"{k:08x}"])[0]["false_positive_probability"]
         for k in range(400)]
    assert np.mean(np.array(p) <= 0.05) <= 0.05 and min(p) > 1e-6
    assert evidence.model_tests([], [FP])[0]["false_positive_probability"] == 1.0
    two = evidence.model_tests(faces, [FP, "0123abcd"])  # two models: each p counts both tests
    assert two[0]["false_positive_probability"] == pytest.approx(2 * test["false_positive_probability"])

    from facesmith.provenance import report as readable

    clean = [(i, {"v2": rng.normal(0, target, 64)}) for i in range(0, 40, 4)]
    wm = {**evidence.decode_faces(clean, 40), "models": [{**evidence.model_tests(clean, [FP])[0], "named_by": "tags"}]}
    r = {"path": "x.mp4", "marked": True, "watermark": wm, "metadata": {"model": FP}, "c2pa": {"present": False}}
    line = readable.describe(r)
    assert f"mark of model {FP[:8]} (which the file's tags name): not found" in line, line
    page = tmp_path / "r.html"
    readable.write_report(page, [r])
    assert page.read_text().count("<polyline") == 1 and "tags name" in page.read_text()
    wm["models"] = [{**test, "named_by": "given"}]
    assert "(given with --model): FOUND" in readable.describe({**r, "watermark": wm})
    assert "found: watermark, metadata" in readable.describe({**r, "watermark": wm})


def _v3_faces(rng: np.random.Generator, fingerprint: str | None, strength: float, n: int) -> list:
    """n faces' v3 readings (bits and cell terms) carrying `fingerprint`'s mark at `strength` (in units
    of the per-cell noise), or none."""
    from facesmith.provenance import watermark

    lay = watermark.layout(watermark.V3)
    sign = 2.0 * payload.encode_v3(fingerprint) - 1.0 if fingerprint else np.zeros(payload.V3_NBITS)
    faces = []
    for i in range(n):
        cells = strength * sign[lay.bit_of] + rng.normal(size=len(lay.cells))
        bits = np.bincount(lay.bit_of, cells, payload.V3_NBITS) / np.bincount(lay.bit_of, None, payload.V3_NBITS)
        faces.append((i, {"v3": bits, "v3/cells": cells}))
    return faces


def test_presence_test_finds_any_v3_mark_blind_and_reads_its_fingerprint() -> None:
    """v3: the known presence word is tested over the cells (Hoeffding, calibrated on noise); once it
    is found the fingerprint is read bit by bit with an honest certainty; a named model's test uses its
    own bits only, so another model's mark is not taken for it."""
    from facesmith.provenance import evidence

    rng = np.random.default_rng(3)
    strong = evidence.decode_faces(_v3_faces(rng, FP, 0.5, 30), 30)
    assert strong["found"] and strong["layer"] == "v3" and strong["payload"]["model"] == FP[:8], strong
    assert strong["payload"]["version"] == 3 and strong["payload"]["certainty"] > 0.99
    assert strong["false_positive_probability"] <= evidence.PRESENCE_ALPHA
    # a mark too weak for its 32 fingerprint bits: still found as a facesmith mark; the reading is not
    # trusted, and says so
    weak = evidence.decode_faces(_v3_faces(rng, FP, 0.1, 30), 30)
    assert weak["found"] and weak["payload"]["certainty"] < 0.5, weak
    # clean faces: the presence p is conservative (p <= a at most a share a of the time)
    p = [evidence.presence_test(_v3_faces(rng, None, 0.0, 3))["presence_p"] for _ in range(300)]
    assert np.mean(np.array(p) <= 0.1) <= 0.1 and min(p) > evidence.PRESENCE_ALPHA
    assert evidence.FALSE_POSITIVE_RATE <= 1e-6
    # another model's mark: a facesmith mark, but not this model's
    other = _v3_faces(rng, "89abcdef01234567", 0.5, 30)
    assert evidence.decode_faces(other, 30)["found"]
    mine, theirs = evidence.model_tests(other, [FP, "89abcdef01234567"])
    assert not mine["found"] and theirs["found"] and theirs["layer"] == "v3", (mine, theirs)

    from facesmith.provenance import report as readable

    def said(wm: dict) -> str:
        return readable.describe({"path": "x.mp4", "marked": True, "watermark": wm, "metadata": None,
                                  "c2pa": {"present": False}})

    assert f"format v3, model {FP[:8]} (read with estimated certainty" in said(strong)
    assert "MARKED" in said(weak) and "model unknown: too little of the mark is left" in said(weak)


def test_model_fingerprint_hashes_latest_weights(tmp_path: Path) -> None:
    model = tmp_path / "model"
    for name, data in (("00000010", b"old"), ("00000020", b"new weights")):
        ckpt = model / "checkpoints" / name
        ckpt.mkdir(parents=True)
        (ckpt / "model.safetensors").write_bytes(data)
        (ckpt / "state.json").write_text("{}")
    (model / "checkpoints" / "latest").write_text("00000020\n")
    expected = hashlib.sha256(b"new weights").hexdigest()[:16]
    assert model_fingerprint(model) == expected
    assert model_fingerprint(model / "checkpoints" / "00000020" / "model.safetensors") == expected
    with pytest.raises(InputError):
        model_fingerprint(tmp_path / "empty")


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_finalized_image_has_tag_and_trusted_manifest_and_same_pixels(tmp_path: Path, ext: str) -> None:
    src = next((IMAGES / "identities").glob("*.jpg"))
    image = cv2.imread(str(src))
    path = tmp_path / f"out{ext}"
    cv2.imwrite(str(path), image)
    before = cv2.imread(str(path))
    finalize_file(path, FP)
    assert np.array_equal(cv2.imread(str(path)), before)  # tags and manifest never touch pixels
    tags = parse_tags(image_tags.read_tags(path))
    assert tags and tags["model"] == FP
    manifest = c2pa_manifest.read(path)
    assert manifest["present"] and manifest["valid"] and manifest["trusted"], manifest
    assert manifest["assertion"]["model_fingerprint"] == FP
    (report,) = verify([path])
    assert report["marked"] and not report["watermark"]["found"]  # no face was marked in it


def test_manifest_detects_tampering_and_foreign_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "out.png"
    cv2.imwrite(str(path), np.random.default_rng(1).integers(0, 255, (64, 64, 3), np.uint8))
    finalize_file(path, FP)
    monkeypatch.setenv("FACESMITH_HOME", str(tmp_path / "someone-else"))  # another installation's CA
    other = c2pa_manifest.read(path)
    assert other["present"] and other["valid"] and not other["trusted"]
    data = bytearray(path.read_bytes())
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0xFF  # change compressed pixel data, keep the chunk structure
    path.write_bytes(bytes(data))
    assert not c2pa_manifest.read(path)["valid"]


def test_container_metadata_statement() -> None:
    tags = container_metadata(FP)
    assert "face swapping" in tags["comment"] and FP in tags["facesmith"]
    assert parse_tags({"comment": tags["comment"]})["model"] == FP
    assert parse_tags({"comment": "holiday video"}) is None


def test_verify_cli_errors_and_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(tmp_path / "missing.mp4")]) == 2
    assert "no such file" in capsys.readouterr().err
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    assert main(["verify", str(text)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("facesmith: error:") and len(err.strip().splitlines()) == 1
    assert main(["verify", "--model", "not-a-model", str(text)]) == 2
    err = capsys.readouterr().err
    assert "--model not-a-model: give a model folder" in err and len(err.strip().splitlines()) == 1
    photo = next((IMAGES / "identities").glob("*.jpg"))
    assert main(["verify", "--json", str(photo)]) == 1  # a real photo: not marked
    summary = json.loads(capsys.readouterr().out)
    assert summary["marked_files"] == 0 and summary["results"][0]["watermark"]["faces_checked"] >= 1
