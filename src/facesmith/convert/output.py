"""What convert writes and how: every output is staged under a temporary name beside OUT and renamed
onto it only once it is complete and finalized (provenance), so OUT is never half-written.

Kinds: "video" (.mp4/.mov/.mkv), "image" (one photo in, one out), "frames" (a folder: the frames of
a video as PNGs, or the converted photos of a folder), "preview" (a PNG sheet).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import check_writable_dir, make_temp, remove_stale_parts
from ..errors import OutputError
from ..media.inputs import MediaSource
from ..media.writer import CONTAINERS, ImageSequenceWriter, write_image_file

IMAGE_OUT = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
FOLDER_MARK = ".facesmith-output"  # a folder convert wrote (and may therefore replace)


@dataclass
class OutputPlan:
    path: Path
    kind: str
    overwrite: bool

    @contextlib.contextmanager
    def staging(self) -> Iterator[Staging]:
        parent = self.path.parent
        remove_stale_parts(self.path)  # what a killed convert of this OUT left behind
        try:
            if self.kind == "frames":
                tmp = make_temp(self.path, ".part", folder=True)
            else:  # keep the real suffix last: encoders and taggers look at it
                tmp = make_temp(self.path, ".part" + self.path.suffix)
        except OSError as e:
            raise OutputError(f"cannot write in {parent}: {e.strerror or e}") from None
        staging = Staging(self, tmp)
        try:
            yield staging
        finally:
            if tmp.is_dir():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                tmp.unlink(missing_ok=True)


@dataclass
class Staging:
    plan: OutputPlan
    path: Path
    files: list[Path] = field(default_factory=list)

    def image_writer(self, source: MediaSource) -> ImageSequenceWriter:
        return ImageSequenceWriter(self.path, source.path.stem, ".png")

    def write_image(self, writer: ImageSequenceWriter, job: Any, image: np.ndarray) -> None:
        if self.plan.kind == "image":
            write_image_file(self.path, image, self.plan.path.suffix)
            writer.frames += 1
        elif job.name:  # a photo of a folder keeps its name (and JPEG/PNG format; others become PNG)
            suffix = Path(job.name).suffix.lower()
            name = job.name if suffix in (".png", ".jpg", ".jpeg") else Path(job.name).stem + ".png"
            writer.write_named(image, name)
        else:
            writer.write(image, job.time, job.index)

    def finalize(self, finalize_file: Callable[[Path], None]) -> None:
        """Finalize every file (provenance), then move the result onto OUT."""
        if self.path.is_dir():
            for file in sorted(self.path.iterdir()):
                finalize_file(file)
            (self.path / FOLDER_MARK).write_text("written by facesmith convert; may be replaced by it\n")
        else:
            finalize_file(self.path)
            with open(self.path, "rb+") as f:
                os.fsync(f.fileno())
        self._commit()

    def _commit(self) -> None:
        out = self.plan.path
        try:
            if self.path.is_dir() and out.exists():
                old = make_temp(out, ".old", folder=True)
                os.replace(out, old / out.name)
                os.replace(self.path, out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(self.path, out)
        except OSError as e:
            raise OutputError(f"cannot move the finished output onto {out}: {e.strerror or e}") from None


def plan_output(target: Path, sources: list[MediaSource], output: Path, overwrite: bool, preview: int) -> OutputPlan:
    """Decide the output kind and refuse, before any work, every output that cannot or must not be written."""
    output = Path(os.path.abspath(output.expanduser()))
    parent = output.parent
    if not parent.is_dir():
        raise OutputError(f"the folder {parent} does not exist; create it first or choose another output path")
    check_writable_dir(parent, create=False)
    _refuse_writing_onto_the_target(target, sources, output)
    kind = _output_kind(target, sources, output, preview)
    if output.exists():
        _refuse_replacing(output, kind, overwrite)
    return OutputPlan(output, kind, overwrite)


def _refuse_writing_onto_the_target(target: Path, sources: list[MediaSource], output: Path) -> None:
    resolved_target = Path(os.path.realpath(target))
    if Path(os.path.realpath(output)) == resolved_target or any(
            Path(os.path.realpath(output)) == Path(os.path.realpath(s.path)) for s in sources):
        raise OutputError(f"the output {output} is the target itself; choose another output path")
    if target.is_dir() and resolved_target in Path(os.path.realpath(output)).parents:
        raise OutputError("the output must not be inside the target folder")


def _output_kind(target: Path, sources: list[MediaSource], output: Path, preview: int) -> str:
    """preview | frames | video | image, from the target and the output's name."""
    suffix = output.suffix.lower()
    as_folder = output.is_dir() or suffix == ""
    if preview:
        if suffix != ".png":
            raise OutputError("--preview writes a PNG sheet: give -o SHEET.png")
        return "preview"
    if target.is_dir():
        if not as_folder:
            raise OutputError(f"a folder of photos converts to a folder: give -o FOLDER (not {output.name})")
        return "frames"
    if as_folder:
        return "frames"
    if sources[0].kind == "video":
        if suffix in CONTAINERS:
            return "video"
        raise OutputError(f"cannot write a video as {output.name}: use .mp4, .mov or .mkv, or a folder "
                          "for PNG frames")
    if suffix in IMAGE_OUT:
        return "image"
    raise OutputError(f"cannot write a photo as {output.name}: use one of {', '.join(IMAGE_OUT)}")


def _refuse_replacing(output: Path, kind: str, overwrite: bool) -> None:
    if not overwrite:
        raise OutputError(f"{output} already exists; pass --overwrite to replace it")
    if kind == "frames":
        if not output.is_dir():
            raise OutputError(f"{output} exists and is not a folder; remove it or choose another output")
        if any(output.iterdir()) and not (output / FOLDER_MARK).is_file():
            raise OutputError(f"{output} is a folder facesmith did not write; it will not be replaced, "
                              "choose an empty or new folder")
    elif output.is_dir():
        raise OutputError(f"{output} is a folder; give a file name")
