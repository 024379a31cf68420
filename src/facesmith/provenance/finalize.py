"""`finalize_file`: the last step on a finished output, before it is renamed into place."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .. import atomic, progress
from ..errors import OutputError
from . import c2pa_manifest, image_tags
from .metadata import KEY, provenance_text


def finalize_file(path: str | Path, fingerprint: str, title: str | None = None,
                  record: dict[str, Any] | None = None) -> None:
    """Add the image metadata tag (PNG/JPEG) and a signed C2PA manifest to `path`, in place.

    Writes a sibling temporary file and renames it over `path` (atomic), so `path` may itself be a
    temporary name such as "clip.mp4.part": the format is then taken from the content. `title` (the
    manifest's title) defaults to the file name; `record` (`output_record`) adds the ingredients'
    hashes and the model's training-data record to the manifest. Formats c2pa cannot sign get a warning and keep the
    watermark and metadata only.
    """
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head = f.read(16)
        if image_tags.image_format(head):
            atomic.write_bytes(path, image_tags.add_tag(path.read_bytes(), f"{KEY}: {provenance_text(fingerprint)}"))
    except OSError as e:
        raise OutputError(f"cannot finalize {path}: {e.strerror}") from None
    mime = c2pa_manifest.mime_of(path) or _sniffed_mime(head)
    if not mime:
        progress.warn(f"{path.name}: C2PA cannot sign this format; it carries the watermark and metadata only")
        return
    title = title or path.name.removesuffix(".part").lstrip(".")
    with atomic.atomic_path(path) as tmp, open(path, "rb") as src, open(tmp, "w+b") as dst:
        c2pa_manifest.sign_stream(src, dst, mime, title, fingerprint, record)
        dst.flush()
        if os.fstat(dst.fileno()).st_size == 0:  # defensive: never replace an output with an empty file
            raise OutputError(f"C2PA signing wrote nothing for {path}")


def _sniffed_mime(head: bytes) -> str | None:
    fmt = image_tags.image_format(head)
    if fmt:
        return f"image/{fmt}"
    if head[4:8] == b"ftyp":
        return "video/mp4"
    return None




def output_record(model_config: dict[str, Any], ingredients: list[tuple[str, str]]) -> dict[str, Any]:
    """What an output's manifest records besides the fingerprint: its ingredients ((file name,
    SHA-256) of each target file) and the training-data record its model carries (`train.record`),
    None for a model trained before models recorded one."""
    return {"ingredients": [{"title": name, "sha256": digest} for name, digest in ingredients],
            "training_data": model_config.get("training_data")}
