"""The readers fuzzed by tests/test_fuzz.py (a short run) and scripts/fuzz_readers.py (a long one).

Each target feeds one generated input to a reader of files facesmith reads back and accepts only two
outcomes: a value, or a FacesmithError (one line for the user). Anything else - RecursionError,
KeyError, TypeError, a crash in a parser - is a finding.
"""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from facesmith.errors import FacesmithError

REPO = Path(__file__).resolve().parents[1]
IMAGES = REPO.parent / "shared" / "data" / "images"

json_scalars = st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=30)


def _real_face_meta() -> dict[str, Any]:
    """The metadata of a real face, cut from a shared photo with the real extractor once."""
    import facesmith
    from facesmith.faceset import list_faces, read_face_meta

    folder = Path(tempfile.mkdtemp(prefix="facesmith-fuzz-"))
    facesmith.extract([IMAGES / "identities" / "img12.jpg"], folder / "faces", size=64)
    face = list_faces(folder / "faces")[0]
    return {"file": face, "meta": read_face_meta(face), "store": folder / "faces" / "alignments.db"}


_REAL: dict[str, Any] = {}


def real() -> dict[str, Any]:
    if not _REAL:
        _REAL.update(_real_face_meta())
    return _REAL


def mutated_meta(draw: st.DrawFn) -> dict[str, Any]:
    """A real face record with some fields replaced, dropped or added."""
    meta = json.loads(json.dumps(real()["meta"]))
    for _ in range(draw(st.integers(1, 4))):
        key = draw(st.sampled_from([*meta, "extra"]))
        action = draw(st.sampled_from(["replace", "drop", "nest"]))
        if action == "drop":
            meta.pop(key, None)
        elif action == "nest":
            meta[key] = [meta.get(key)] * draw(st.integers(0, 3))
        else:
            meta[key] = draw(json_values)
    return meta


face_metas = st.composite(mutated_meta)() | json_values


def expect_clean(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except FacesmithError:
        return None


def _checkpoint_module() -> Any:
    try:
        from facesmith.models import checkpoint
    except ImportError:  # scripts/fuzz_readers.py --src on a tree from before the face/ re-layout
        from facesmith.train import checkpoint  # type: ignore[no-redef]
    return checkpoint


# --- targets -----------------------------------------------------------------------------------------

def face_meta_target(meta: Any) -> None:
    """check_face_meta, then what every reader does with an accepted record."""
    from facesmith.faceset import face_landmarks, face_mask
    from facesmith.faceset.face_schema import check_face_meta

    ok = expect_clean(check_face_meta, meta, "fuzz")
    if ok is not None:
        face_landmarks(ok)
        face_mask(ok, 64)
        assert np.isfinite(face_landmarks(ok)).all()


def face_file_target(data: bytes) -> None:
    """The face-file readers on arbitrary bytes and on a real face's bytes with a forged segment."""
    from facesmith.faceset import read_face
    from facesmith.faceset.face_file import read_meta_bytes

    expect_clean(read_meta_bytes, data)
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(data)
        f.flush()
        expect_clean(read_face, f.name)


def face_file_payload_target(payload: bytes, as_png: bool) -> None:
    """A real face image carrying `payload` as its metadata segment (JPEG APP15 or PNG iTXt)."""
    import zlib

    import cv2

    from facesmith.faceset import read_face

    image = np.zeros((64, 64, 3), np.uint8)
    if as_png:
        data = cv2.imencode(".png", image)[1].tobytes()
        body = b"facesmith\0\0\0\0\0" + payload
        chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body))
        data = data[:33] + chunk + data[33:]
    else:
        data = cv2.imencode(".jpg", image)[1].tobytes()
        body = (b"facesmith\0" + payload)[:65000]
        data = data[:2] + b"\xff\xef" + struct.pack(">H", len(body) + 2) + body + data[2:]
    with tempfile.NamedTemporaryFile(suffix=".png" if as_png else ".jpg") as f:
        f.write(data)
        f.flush()
        expect_clean(read_face, f.name)


def import_target(data: Any) -> None:
    """`faces import` on a copy of a real store."""
    import shutil

    from facesmith.faceset.store import AlignmentsStore

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(real()["store"], Path(tmp) / "alignments.db")
        with AlignmentsStore.in_folder(tmp) as store:
            expect_clean(store.import_dict, data)
            expect_clean(lambda: [list(store.frames(s.id)) for s in store.sources()])


def export_with(draw: st.DrawFn) -> Any:
    """A real export with one value somewhere replaced by generated JSON."""
    from facesmith.faceset.store import AlignmentsStore

    with AlignmentsStore(real()["store"], create=False) as store:
        data = store.export_dict()
    node: Any = data
    for _ in range(draw(st.integers(1, 7))):
        if isinstance(node, dict) and node:
            key = draw(st.sampled_from(sorted(node)))
        elif isinstance(node, list) and node:
            key = draw(st.integers(0, len(node) - 1))
        else:
            break
        if draw(st.booleans()) or not isinstance(node[key], (dict, list)):
            node[key] = draw(json_values)
            break
        node = node[key]
    return data


exports = st.composite(export_with)() | json_values


def state_target(state: Any) -> None:
    """load_checkpoint on a folder whose state.json is `state` (real safetensors beside it)."""
    ckpt_io = _checkpoint_module()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "checkpoints" / "00000001"
        folder.mkdir(parents=True)
        (folder / "state.json").write_text(json.dumps(state))
        ckpt = expect_clean(ckpt_io.load_checkpoint, folder)
        if ckpt is not None:
            expect_clean(ckpt_io.describe, Path(tmp))


def model_options_target(name: Any, options: Any) -> None:
    """A checkpoint config's model and options, checked and sized (on the meta device, never built)."""
    from facesmith.models import budget, model_class

    if not isinstance(options, dict):
        return
    cls = expect_clean(model_class, str(name))
    if cls is None:
        return
    checked = expect_clean(budget.check_options, str(name), cls.DEFAULTS, options)
    if checked is not None:
        count = expect_clean(budget.parameter_count, lambda: cls(**checked))
        if count is not None:
            expect_clean(budget.check_parameters, str(name), count)


def safetensors_target(data: bytes) -> None:
    ckpt_io = _checkpoint_module()

    with tempfile.NamedTemporaryFile(suffix=".safetensors") as f:
        f.write(data)
        f.flush()
        expect_clean(ckpt_io.read_safetensors, Path(f.name))


def verify_target(data: bytes, suffix: str) -> None:
    from facesmith.provenance import verify

    with tempfile.NamedTemporaryFile(suffix=suffix) as f:
        f.write(data)
        f.flush()
        expect_clean(verify, [f.name], 2)


safetensors_bytes = st.binary(max_size=256) | st.builds(
    lambda n, body: struct.pack("<Q", n) + body, st.integers(0, 2**64 - 1), st.binary(max_size=200)) | st.builds(
    lambda header, tail: struct.pack("<Q", len(header)) + header + tail,
    json_values.map(lambda v: json.dumps(v).encode()), st.binary(max_size=64))
media_prefixes = st.sampled_from([b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"\x00\x00\x00\x18ftypmp42",
                                  b"RIFF\x00\x00\x00\x00WEBP", b"\x1a\x45\xdf\xa3"])
media_bytes = st.builds(lambda p, b: p + b, media_prefixes, st.binary(min_size=1, max_size=2000))
