"""The watermark against what platforms do to video (provenance.attacks): a marked clip still verifies,
as a whole file and face by face, after each attack, and the verdict's false-positive probability
stays <= 1e-6. benchmarks/watermark_attacks.py prints the full table.

The clips are marked as convert marks them (faces from the extractor's detector + landmarks,
`Marker.mark` with its landmark re-fit) and written at H.264 CRF 18, every 3rd frame of the source
(a 10 fps clip of its whole length: verify's 30 evenly spaced frames see different poses).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facesmith.face import FaceReader
from facesmith.media.images import read_image
from facesmith.media.video import iter_frames
from facesmith.provenance import Marker, evidence, payload, watermark
from facesmith.provenance.attacks import Attack, by_name, encode
from facesmith.provenance.report import MODEL_SURE
from facesmith.provenance.verify import MarkReader, decode_faces, read_marks

from .conftest import VIDEOS

FINGERPRINT = "5ca1ab1e0ddba11c"
FPS = 10.0
WRITTEN = watermark.WRITTEN.version


@pytest.fixture(scope="module", autouse=True)
def facesmith_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FACESMITH_HOME", str(tmp_path_factory.mktemp("home")))
        yield Path()


def _marked(clip: str, frames: int, folder: Path) -> list[np.ndarray]:
    reader, marker = FaceReader(), Marker(FINGERPRINT)
    marked = []
    for frame in iter_frames(VIDEOS / clip, every=3):
        marked.append(marker.mark(frame.image, [f.landmarks for f in reader.find(frame.image)],
                                  follows_previous=True))
        if len(marked) == frames:
            break
    out = encode(marked, folder / "marked.mp4", FPS, 18)
    return [f.image for f in iter_frames(out)]


@pytest.fixture(scope="module")
def identity_b(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    return _marked("identity_b.mp4", 60, tmp_path_factory.mktemp("b"))


@pytest.fixture(scope="module")
def two_people(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    return _marked("two_people_720p.mp4", 60, tmp_path_factory.mktemp("two"))


@pytest.fixture(scope="module")
def reader() -> MarkReader:
    return MarkReader()


def _read(attack: Attack, frames: list[np.ndarray], folder: Path, reader: MarkReader) -> tuple[dict, np.ndarray]:
    """verify's whole-file verdict after the attack, and each face's own bit accuracy in its layer."""
    path = attack.apply(frames, FPS, folder)
    if path.is_dir():
        faces = [(n, s) for n, p in enumerate(sorted(path.glob("*.jpg"))[::3]) for s in reader.read(read_image(p))]
        count = len({n for n, _ in faces})
    else:
        faces, count = read_marks(path, "video", reader)
    mark = decode_faces(faces, count)
    expected = payload.encode_for(WRITTEN, FINGERPRINT)
    layer = mark.get("layer", f"v{WRITTEN}")
    accuracy = np.array([((f[layer] > 0) == expected).mean() for _, f in faces])
    return mark, accuracy


def _assert_marked(mark: dict, model_named: bool = True) -> None:
    """Found blind, at <= 1e-6. `model_named`: the model read is right and said to be sure; otherwise
    it may be unsure (too little of the mark is left to name it), but a wrong model is never called sure."""
    assert mark["found"] and mark["false_positive_probability"] <= 1e-6 and mark["false_positive_rate"] <= 1e-6, mark
    read, sure = mark["payload"]["model"], mark["payload"].get("certainty", 1.0) >= MODEL_SURE
    if model_named:
        assert read == FINGERPRINT[:8] and sure, mark
    else:
        assert read == FINGERPRINT[:8] or not sure, mark


@pytest.mark.parametrize("name", ["CRF28+half+crop10", "CRF28+half+crop10 FFmpeg", "H.264 CRF 35", "H.265 CRF 28",
                                  "quarter size", "brightness -10%", "contrast +10%", "JPEG q50 frames", "30->25 fps", "mirrored"])
def test_mark_survives_on_190px_faces(identity_b: list[np.ndarray], reader: MarkReader, name: str,
                                      tmp_path: Path) -> None:
    mark, accuracy = _read(by_name(name), identity_b, tmp_path, reader)
    # the model is named surely after the milder attacks; after the others it may be unsure, never wrong
    _assert_marked(mark, model_named=not name.startswith(("quarter size", "CRF28+half+crop10", "H.264 CRF 35",
                                                           "mirrored")))
    assert mark["layer"] == f"v{WRITTEN}" + ("-mirrored" if name == "mirrored" else "")
    # faces >= 128 px after the attack: each face on its own. Not after FFmpeg's bicubic half size, which
    # leaves less of the mark than OpenCV's area filter (the benchmark on 90 frames: 0.948, 50% of faces)
    if name not in ("quarter size", "H.264 CRF 35", "CRF28+half+crop10 FFmpeg"):
        # (v3's bits have ~3.4 cells where v2's had ~5: after CRF 28 + half + crop ~3/4 of the faces read
        # >= 95% of their bits, the mean ~0.97)
        assert np.mean(accuracy >= 0.95) >= 0.6 and accuracy.mean() >= 0.95, (accuracy.mean(), np.mean(accuracy >= 0.95))


@pytest.mark.parametrize("name", ["CRF28+half+crop10", "CRF28+half+crop10 FFmpeg", "H.264 CRF 28", "half size"])
def test_mark_survives_on_104px_faces(two_people: list[np.ndarray], reader: MarkReader, name: str,
                                      tmp_path: Path) -> None:
    """Found blind (the presence word), also after CRF 28 + half size + crop, where ~50-px faces keep
    too little of the mark to name the model surely: then it says so."""
    mark, _ = _read(by_name(name), two_people, tmp_path, reader)
    _assert_marked(mark, model_named=False)


@pytest.mark.parametrize("name", ["H.264 CRF 28", "half size", "CRF28+half+crop10", "quarter size"])
def test_named_model_test_on_104px_faces(two_people: list[np.ndarray], reader: MarkReader, name: str,
                                         tmp_path: Path) -> None:
    """The mark of a model named in advance (verify --model) is found from its own fingerprint bits
    where the blind reading cannot name it surely (half size), and a model that did not make it is
    never found, however little of the mark is left."""
    path = by_name(name).apply(two_people, FPS, tmp_path)
    faces, _ = read_marks(path, "video", reader)
    right, other = evidence.model_tests(faces, [FINGERPRINT, "0badc0de"])
    if name in ("H.264 CRF 28", "half size"):
        assert right["found"] and right["false_positive_probability"] <= 1e-6, right
    assert not other["found"] and other["false_positive_probability"] > 1e-3, other


@pytest.mark.parametrize("name", ["brightness -10%", "brightness +10%", "contrast +10%", "contrast -10%"])
def test_photometric_attacks_saturate_like_an_editors_levels(name: str) -> None:
    """Levels pushed past black or white stop there, as in an editor or a platform's filter: on
    two_people's dark first frame (over half its pixels have a channel below 26), every value is the
    rounded, saturated linear map, never its mirror image below 0 (which wrecked the chroma the mark
    lives in, and so the attack's figures)."""
    frame = next(iter_frames(VIDEOS / "two_people_720p.mp4")).image
    attack = by_name(name)
    expected = np.clip(frame.astype(np.float64) * attack.contrast
                       + 128.0 * (1.0 - attack.contrast) + 255.0 * attack.brightness, 0, 255)
    assert np.abs(attack.frame(frame).astype(np.float64) - expected).max() <= 0.5 + 1e-6
