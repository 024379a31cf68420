"""Re-cut a faceset at another size from its alignments store, without detecting again.

Only faces whose files are still in the old faceset are cut again, so faces a user deleted stay gone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .. import progress
from ..atomic import check_writable_dir, sync_filesystem
from ..errors import InputError
from ..faceset.store import AlignmentsStore, FrameRecord
from ..guards import guard_output_folder
from ..media.images import read_image
from ..media.inputs import file_sha256
from ..media.video import iter_frames
from .faces_out import face_name, face_prefix, make_face
from .pipeline import ExtractSummary

# metadata that make_face computes again for the new size
_DERIVED = {"format", "source", "frame", "time", "size", "box", "landmarks", "matrix", "mask", "yaw", "pitch",
            "roll", "blur"}


def _locate(record_path: str, sha256: str, candidates: Sequence[str | Path]) -> Path:
    """The source file: where it was, or among the given inputs (matched by content hash)."""
    for path in [Path(record_path), *map(Path, candidates)]:
        if path.is_file() and file_sha256(path) == sha256:
            return path
    raise InputError(f"source {record_path} is missing or changed; pass the original file as INPUT")


@guard_output_folder("faceset folder", folder="output_dir", inputs=("old_dir",))
def reextract(old_dir: str | Path, output_dir: str | Path, size: int, inputs: Sequence[str | Path] = (),
              image_format: str = "jpg") -> ExtractSummary:
    old_dir = Path(old_dir)
    if not 64 <= size <= 1024:
        raise InputError(f"--size must be between 64 and 1024 pixels, not {size}")
    started = time.monotonic()
    out = check_writable_dir(output_dir)
    if out.resolve() == old_dir.resolve():
        raise InputError("--from-faceset needs a different output folder")
    summary = ExtractSummary(output=str(out))
    suffix = "." + image_format
    with AlignmentsStore.in_folder(old_dir, create=False, readonly=True) as old, AlignmentsStore.in_folder(out) as new:
        settings = dict(old.get_meta("settings") or {}, size=size, image_format=image_format)
        new.set_meta("settings", settings)
        sources = old.sources()
        frames = {s.id: list(old.frames(s.id)) for s in sources}
        # faces the user deleted from the old folder stay deleted
        survivors = {(s.id, fr.frame): [f for f in fr.faces if (old_dir / f[1]).exists()]
                     for s in sources for fr in frames[s.id]}
        total = sum(1 for faces in survivors.values() if faces)
        with progress.bar(total=total, desc="re-extract", unit="frame") as bar:
            for src in sources:
                path = _locate(src.path, src.sha256, inputs)
                record = new.source(src.sha256) or new.add_source(src.sha256, str(path.resolve()), src.kind, src.info)
                prefix = face_prefix(path, src.sha256)
                needed = {fr.frame for fr in frames[src.id] if survivors[src.id, fr.frame]}
                images = ((0, read_image(path)),) if src.kind == "image" else (
                    (f.index, f.image) for f in iter_frames(path) if f.index in needed)
                cut: dict[int, list[tuple[int, str, dict[str, Any]]]] = {}
                for index, image in images:
                    if index not in needed:
                        continue
                    fr = next(f for f in frames[src.id] if f.frame == index)
                    cut[index] = []
                    for face_index, _, data in survivors[src.id, index]:
                        keep = {k: v for k, v in data.items() if k not in _DERIVED}
                        name = face_name(prefix, index, face_index, suffix)
                        meta = make_face(image, np.asarray(data["landmarks"]), size, data["source"], index,
                                         fr.time, keep, out / name, durable=False)
                        cut[index].append((face_index, name, meta))
                    summary.frames_read += 1
                    summary.faces_saved += len(cut[index])
                    bar.update(1)
                records = [FrameRecord(fr.frame, fr.time, cut.get(fr.frame, [])) for fr in frames[src.id]]
                sync_filesystem(out)  # the faces are on disk before the store says they exist (atomic.py)
                new.commit_frames(record.id, records, src.next_frame, None, complete=True)
                summary.sources += 1
                summary.per_source.append({"path": str(path), "faces": sum(len(r.faces) for r in records)})
        summary.faces_in_faceset = new.counts()["faces"]
    summary.seconds = round(time.monotonic() - started, 3)
    summary.frames_per_second = round(summary.frames_read / summary.seconds, 2) if summary.seconds else 0.0
    return summary


