"""The frame engine one frame at a time and batched, its runtime controls, and the public API's
building blocks (find_faces, load_model, swap_image), with the tiny model convert's tests train."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

import facesmith
from facesmith.engine import BlendSettings, FrameEngine, FrameResult
from facesmith.engine.frames import FaceJob, FrameJob
from facesmith.errors import InputError
from facesmith.face import FaceReader
from facesmith.media.video import iter_frames
from facesmith.provenance import Marker

from .test_convert import REPO, VIDEOS, trained

FINGERPRINT = "5ca1ab1e0ddba11c"


@pytest.fixture(scope="module")
def model() -> object:
    return facesmith.load_model(trained()[0])


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return [f.image for f, _ in zip(iter_frames(VIDEOS / "identity_b.mp4", every=10), range(4), strict=False)]


@pytest.fixture(scope="module")
def faces(frames: list[np.ndarray]) -> list[list]:
    reader = FaceReader()
    return [reader.find(image) for image in frames]


def engine_for(model: object, **kwargs: object) -> FrameEngine:
    return FrameEngine(model, direction="b2a", marker=Marker(FINGERPRINT), **kwargs)


def test_swap_frame_changes_only_the_face(model: object, frames: list[np.ndarray], faces: list[list]) -> None:
    image = frames[0].copy()
    result = FrameEngine(model, marker=Marker(FINGERPRINT, enabled=False)).swap_frame(image, faces[0])
    assert isinstance(result, FrameResult) and result.image is image and result.swapped == 1
    (face,) = result.faces
    assert face.swapped and np.array_equal(face.landmarks, faces[0][0].landmarks)
    x0, y0, x1, y1 = face.region
    changed = np.argwhere((image != frames[0]).any(axis=2))
    assert len(changed) > 1000  # the face really is redrawn
    assert changed[:, 1].min() >= x0 and changed[:, 1].max() < x1 and changed[:, 0].min() >= y0 and changed[:, 0].max() < y1
    # with the watermark on, the rest of the frame gets at most its faint pattern (v2: up to 6 chroma
    # levels, 10.6 in blue)
    marked = engine_for(model).swap_frame(frames[0].copy(), faces[0]).image
    outside = np.ones(image.shape[:2], bool)
    outside[y0:y1, x0:x1] = False
    diff = np.abs(marked.astype(int) - frames[0])[outside]
    assert 0 < diff.max() <= 11 and diff.mean() < 0.5


def test_runtime_controls_apply_from_the_next_frame(model: object, frames: list[np.ndarray], faces: list[list]) -> None:
    engine = engine_for(model)
    reinhard = engine.swap_frame(frames[0].copy(), faces[0], follows_previous=False).image
    engine.blend = replace(engine.blend, color="none", feather=2.0)
    plain = engine.swap_frame(frames[0].copy(), faces[0], follows_previous=False).image
    assert engine.blend.color == "none" and not np.array_equal(plain, reinhard)
    with pytest.raises(InputError, match="does not learn a mask"):
        engine.blend = BlendSettings(mask="learned")
    assert engine.blend.mask == "hull"  # a refused change leaves the settings as they were
    engine.enabled = False
    untouched = frames[0].copy()
    result = engine.swap_frame(untouched, faces[0])
    assert np.array_equal(untouched, frames[0]) and result.swapped == 0
    engine.enabled = True
    unmarked = engine_for(model).swap_frame(frames[0].copy(), faces[0], follows_previous=False).image
    no_mark = FrameEngine(model, marker=Marker(FINGERPRINT, enabled=False))
    assert not np.array_equal(no_mark.swap_frame(frames[0].copy(), faces[0]).image, unmarked)  # the watermark is in


def test_batched_and_one_at_a_time_draw_the_same(model: object, frames: list[np.ndarray], faces: list[list]) -> None:
    one = engine_for(model)
    singles = [one.swap_frame(image.copy(), found).image for image, found in zip(frames, faces, strict=True)]
    batched = engine_for(model)
    jobs = [FrameJob(i, i / 3, image.copy(), [FaceJob.of(f) for f in found], len(found))
            for i, (image, found) in enumerate(zip(frames, faces, strict=True))]
    out: list[np.ndarray] = []

    def done(job: FrameJob, marks: list) -> None:
        from facesmith.provenance.pixels import add_to_bgr

        for mark in marks:
            add_to_bgr(job.image, mark)
        out.append(job.image)

    batched.swap_batches([[job] for job in jobs], done, batch_size=1)
    assert len(out) == len(singles) and all(np.array_equal(a, b) for a, b in zip(out, singles, strict=True))
    assert batched.stats.faces_swapped == one.stats.faces_swapped == len(frames)


def test_public_building_blocks(model: object, frames: list[np.ndarray]) -> None:
    photo = REPO.parent / "shared" / "data" / "images" / "groups" / "two_people.jpg"
    assert len(facesmith.find_faces(photo)) == 2
    result = facesmith.swap_image(model, frames[1].copy())
    assert result.swapped == 1 and not np.array_equal(result.image, frames[1])
    with pytest.raises(InputError, match="model folder not found"):
        facesmith.load_model(REPO / "no-such-model")


def test_the_api_shadows_no_package_and_imports_no_stage() -> None:
    code = ("import sys, facesmith\n"
            "loaded = sorted(m for m in sys.modules if m.startswith('facesmith.') and m.count('.') > 1)\n"
            "import facesmith.extract.pipeline\n"
            "assert facesmith.extract.pipeline.ExtractOptions().size == 256\n"
            "assert callable(facesmith.extract) and callable(facesmith.convert)\n"
            "print(loaded)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO / "src")})
    assert out.stdout.strip() == "[]", out.stdout
