"""Property tests over the readers of files facesmith reads back (issue 14): whatever the bytes or the
JSON, each gives a value or one FacesmithError, never another exception. A short, derandomized run
(~30 s on 2 busy cores); scripts/fuzz_readers.py runs the same targets for longer, randomly."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from . import fuzz_targets as t

SHORT = settings(max_examples=150, deadline=None, database=None, derandomize=True)


@SHORT
@given(t.face_metas)
def test_face_metadata(meta: object) -> None:
    t.face_meta_target(meta)


@SHORT
@given(st.binary(max_size=600) | t.media_bytes)
def test_face_file_bytes(data: bytes) -> None:
    t.face_file_target(data)


@SHORT
@given(t.face_metas.map(lambda m: json.dumps(m).encode()) | st.binary(max_size=300)
       | st.integers(1, 3000).map(lambda n: b'{"size":64,"x":' + b"[" * n + b"]" * n + b"}"), st.booleans())
def test_face_file_metadata_segment(payload: bytes, as_png: bool) -> None:
    t.face_file_payload_target(payload, as_png)


@settings(SHORT, max_examples=60)
@given(t.exports)
def test_faces_import_json(data: object) -> None:
    t.import_target(data)


@SHORT
@given(t.json_values | st.fixed_dictionaries({
    "format": st.just("facesmith-checkpoint"), "iteration": t.json_values,
    "files": st.dictionaries(st.text(max_size=30), st.text(max_size=70), max_size=3), "config": t.json_values}))
def test_checkpoint_state(state: object) -> None:
    t.state_target(state)


@SHORT
@given(st.sampled_from(["lite", "original", "hires", "nope"]),
       st.dictionaries(st.sampled_from(["size", "enc", "dec", "latent", "e_dims", "ae_dims", "d_dims", "arch",
                                        "coverage", "lr", "learns_mask", "batch_size"]), t.json_values
                       | st.lists(st.integers(-5, 40000), max_size=5), max_size=4))
def test_model_config(name: str, options: object) -> None:
    t.model_options_target(name, options)


@SHORT
@given(t.safetensors_bytes)
def test_safetensors_header(data: bytes) -> None:
    t.safetensors_target(data)


@settings(SHORT, max_examples=40)
@given(t.media_bytes, st.sampled_from([".jpg", ".png", ".mp4", ".bin"]))
def test_verify_arbitrary_bytes(data: bytes, suffix: str) -> None:
    t.verify_target(data, suffix)
