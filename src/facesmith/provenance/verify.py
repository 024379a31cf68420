"""`verify`: which facesmith marks a file carries (watermark, container metadata, C2PA manifest).

A file is *marked* when any of the three is found. The watermark is read from up to `max_frames`
evenly spaced frames (all faces in each) and decided over the whole file (evidence.py: readings
summed over faces; v3's known word tested, older formats soft-decoded; a false-positive probability
<= 9e-7 for the whole test). The mark of a model named in advance (`models`: given by the caller, or
named by the file's own tags) is also tested on its own (`evidence.model_tests`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from . import c2pa_manifest, image_tags, payload, watermark
from .evidence import decode_faces, model_tests, watermark_found

__all__ = ["MarkReader", "decode_faces", "read_marks", "verify", "verify_file"]
from .metadata import parse_tags

MAX_FRAMES = 30
REFITS = 2  # extra landmark fits per face (MarkReader.read)
PAD = 0.15  # border added round a frame where no face was found, in parts of its longer side


class MarkReader:
    """Finds faces (a `face.FaceReader`: BlazeFace + face mesh, as extract does) and reads their soft
    payload bits."""

    def __init__(self) -> None:
        from ..face.reader import FaceReader

        self.faces = FaceReader("blazeface", "mesh")

    def read(self, image: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Soft bits of each face found, per layer (`watermark.read_layers`); of a few landmark fits
        per face, the one reading strongest in each layer.

        The marker fits the mesh from an ROI built from landmarks; here the first fit starts from a
        detection. On a clear face both agree within ~0.5 px, on a blurred or half-formed swap they
        can differ by several pixels, so the fit is repeated from its own landmarks (as the marker
        did) and the candidate with the strongest signal is kept. Picking by strength does not favour
        any payload, so the false-positive rate per decode stays that of the payload check.
        """
        out = []
        grey = None
        faces = self.faces.find(image)
        if not faces:
            # a face that fills a cropped frame and is cut by its edges is often missed by the detector
            # (a blurred swap after a 10% crop: 0 of 30 frames); with a border round the frame it is found
            pad = round(PAD * max(image.shape[:2]))
            image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=(0, 0, 0))
            faces = self.faces.find(image)
        for face in faces:
            points = np.asarray(face.landmarks, np.float64)
            best = watermark.read_layers(image, points)
            grey = watermark.luma_only(image) if grey is None else grey  # as the marker fits (v2)
            for _ in range(REFITS):
                points = self.faces.refit(grey, points).points.astype(np.float64)
                again = watermark.read_layers(image, points)
                for layer, _, _ in watermark.LAYERS:
                    if np.abs(again[layer]).mean() > np.abs(best[layer]).mean():
                        best[layer] = again[layer]
                        if layer + watermark.CELLS in again:
                            best[layer + watermark.CELLS] = again[layer + watermark.CELLS]
            out.append(best)
        return out


def verify(paths: Sequence[str | Path], max_frames: int = MAX_FRAMES,
           models: Sequence[str | Path] = ()) -> list[dict[str, Any]]:
    """One report per media file (folders expand to the media inside them); InputError on a path that
    is missing or not an image or video. `models`: model folders or fingerprints whose mark is tested
    on every file (`evidence.model_tests`)."""
    from ..media.inputs import expand_inputs

    named = list(dict.fromkeys(model_to_test(m) for m in models))
    sources = expand_inputs(list(paths))
    reader = MarkReader()
    return [verify_file(s.path, s.kind, reader, max_frames, named) for s in sources]


def model_to_test(value: str | Path) -> str:
    """The payload fingerprint (8 hex digits) of a model folder, or of a fingerprint as written."""
    path = Path(value)
    if path.is_dir():
        from .fingerprint import model_fingerprint

        return model_fingerprint(path)[:payload.V2_FP_HEX]
    fingerprint = _fingerprint(str(value))
    if fingerprint is None:
        raise InputError(f"--model {value}: give a model folder, or a model fingerprint (8 or more hex "
                         "digits: the model= that verify reports for the model's outputs)")
    return fingerprint


def verify_file(path: Path, kind: str, reader: MarkReader | None = None,
                max_frames: int = MAX_FRAMES, models: Sequence[str] = ()) -> dict[str, Any]:
    faces, frames = read_marks(path, kind, reader, max_frames)
    mark = decode_faces(faces, frames)
    metadata = _read_metadata(path, kind)
    manifest = c2pa_manifest.read(path)
    ours = manifest.get("generator") == "facesmith" or "assertion" in manifest
    claimed = _claimed_model(metadata, manifest)
    named = [(m, "given") for m in models] + ([(claimed, "tags")] if claimed and claimed not in models else [])
    if named:
        tests = model_tests(faces, [m for m, _ in named])
        mark["models"] = [{**t, "named_by": by} for t, (_, by) in zip(tests, named, strict=True)]
    return {
        "path": str(path),
        "kind": kind,
        "marked": bool(watermark_found(mark) or metadata or (manifest["present"] and ours)),
        "watermark": mark,
        "metadata": metadata,
        "c2pa": manifest,
    }


def _claimed_model(metadata: dict[str, str] | None, manifest: dict[str, Any]) -> str | None:
    """The payload fingerprint of the model the file's metadata or C2PA manifest names, if it names one."""
    named = (metadata or {}).get("model") or (manifest.get("assertion") or {}).get("model_fingerprint")
    return _fingerprint(named) if isinstance(named, str) else None


def _fingerprint(text: str) -> str | None:
    text = text.strip().lower()
    if len(text) >= payload.V2_FP_HEX and all(c in "0123456789abcdef" for c in text):
        return text[:payload.V2_FP_HEX]
    return None


def read_marks(path: Path, kind: str, reader: MarkReader | None = None,
               max_frames: int = MAX_FRAMES) -> tuple[list[tuple[int, dict[str, np.ndarray]]], int]:
    """(frame number, soft bits) of every face found in up to `max_frames` evenly spaced frames, and
    the number of frames read."""
    reader = reader or MarkReader()
    faces: list[tuple[int, dict[str, np.ndarray]]] = []
    frames = 0
    for index, image in _sample_frames(path, kind, max_frames):
        frames += 1
        faces += [(index, soft) for soft in reader.read(image)]
    return faces, frames


def _sample_frames(path: Path, kind: str, max_frames: int) -> Iterator[tuple[int, np.ndarray]]:
    if kind == "image":
        from ..media.images import read_image

        yield 0, read_image(path)
        return
    from ..media.video import VideoDamagedError, iter_frames, probe_video

    info = probe_video(path)
    every = max(1, -(-info.frame_count // max_frames))
    try:
        for n, frame in enumerate(iter_frames(path, every=every)):
            if n >= max_frames:
                return
            yield frame.index, frame.image
    except VideoDamagedError as e:
        if e.last_index < 0:
            raise InputError(str(e)) from None  # nothing decodable; frames read so far are kept otherwise


def _read_metadata(path: Path, kind: str) -> dict[str, str] | None:
    if kind == "image":
        return parse_tags(image_tags.read_tags(path))
    import av

    try:
        with av.open(str(path)) as container:
            tags = dict(container.metadata)
            for stream in container.streams:
                tags.update({f"stream:{k}" if k in tags else k: v for k, v in stream.metadata.items()})
    except av.FFmpegError:
        return None
    return parse_tags(tags)
