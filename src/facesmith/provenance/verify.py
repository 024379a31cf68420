"""`verify`: which facesmith marks a file carries (watermark, container metadata, C2PA manifest).

A file is *marked* when any of the three is found. The watermark is read from up to `max_frames`
evenly spaced frames (all faces in each), the faces' soft bits are summed and the payload accepted only
when its identifier, version and 12-bit check all match (payload.py: ~6e-8 chance per attempt on
unmarked faces; at most two attempts per file).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from . import c2pa_manifest, image_tags, payload, watermark
from .metadata import parse_tags

MAX_FRAMES = 30
# A frame "carries" the mark when one of its faces reads >= 80% of the payload's bits right:
# P(>= 52 of 64 by chance) ~ 3e-7, so an unmarked face in a marked video is not counted.
CARRY_AGREEMENT = 0.8
REFITS = 2  # extra landmark fits per face (MarkReader.read)


class MarkReader:
    """Finds faces (a `face.FaceReader`: BlazeFace + face mesh, as extract does) and reads their soft
    payload bits."""

    def __init__(self) -> None:
        from ..face.reader import FaceReader

        self.faces = FaceReader("blazeface", "mesh")

    def read(self, image: np.ndarray) -> list[np.ndarray]:
        """Soft bits of each face found; of a few landmark fits per face, the one reading strongest.

        The marker fits the mesh from an ROI built from landmarks; here the first fit starts from a
        detection. On a clear face both agree within ~0.5 px, on a blurred or half-formed swap they
        can differ by several pixels, so the fit is repeated from its own landmarks (as the marker
        did) and the candidate with the strongest signal is kept. Picking by strength does not favour
        any payload, so the false-positive rate per decode stays that of the payload check.
        """
        out = []
        for face in self.faces.find(image):
            points = np.asarray(face.landmarks, np.float64)
            best = watermark.read_face(image, points)
            for _ in range(REFITS):
                points = self.faces.refit(image, points).points.astype(np.float64)
                soft = watermark.read_face(image, points)
                if np.abs(soft).mean() > np.abs(best).mean():
                    best = soft
            out.append(best)
        return out


def verify(paths: Sequence[str | Path], max_frames: int = MAX_FRAMES) -> list[dict[str, Any]]:
    """One report per media file (folders expand to the media inside them); InputError on a path that
    is missing or not an image or video."""
    from ..media.inputs import expand_inputs

    sources = expand_inputs(list(paths))
    reader = MarkReader()
    return [verify_file(s.path, s.kind, reader, max_frames) for s in sources]


def verify_file(path: Path, kind: str, reader: MarkReader | None = None,
                max_frames: int = MAX_FRAMES) -> dict[str, Any]:
    reader = reader or MarkReader()
    faces: list[tuple[int, np.ndarray]] = []  # (frame number, soft bits)
    frames = 0
    for index, image in _sample_frames(path, kind, max_frames):
        frames += 1
        faces += [(index, soft) for soft in reader.read(image)]
    mark = decode_faces(faces, frames)
    metadata = _read_metadata(path, kind)
    manifest = c2pa_manifest.read(path)
    ours = manifest.get("generator") == "facesmith" or "assertion" in manifest
    return {
        "path": str(path),
        "kind": kind,
        "marked": bool(mark["found"] or metadata or (manifest["present"] and ours)),
        "watermark": mark,
        "metadata": metadata,
        "c2pa": manifest,
    }


def decode_faces(faces: list[tuple[int, np.ndarray]], frames: int) -> dict[str, Any]:
    """Combine the faces' soft bits into one payload decision, with a confidence."""
    result: dict[str, Any] = {"found": False, "frames_checked": frames, "faces_checked": len(faces)}
    if not faces:
        return result
    softs = np.stack([s for _, s in faces])
    strength = np.abs(softs).mean(1)
    attempts = [np.ones(len(faces), bool)]
    if len(faces) > 1:  # a marked face among unmarked ones (other people, other shots): the strong half
        attempts.append(strength >= np.median(strength))
    for use in attempts:
        bits = softs[use].sum(0) > 0
        decoded = payload.decode(bits)
        if decoded is None:
            continue
        agree = ((softs > 0) == bits).mean(1)
        best: dict[int, float] = {}
        for (index, _), a in zip(faces, agree, strict=True):
            best[index] = max(best.get(index, 0.0), float(a))
        carried = [a for a in best.values() if a >= CARRY_AGREEMENT]
        result.update(
            found=True, payload=decoded, bits="".join("1" if b else "0" for b in bits),
            frames_marked=len(carried),
            # mean, over the frames that carried the mark, of the share of payload bits their best
            # face read right on its own (1.0 = every bit of every such frame)
            bit_accuracy=round(float(np.mean(carried)) if carried else 0.0, 4),
            signal=round(float(strength[use].mean() / watermark.TARGET), 3),
        )
        return result
    return result


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
