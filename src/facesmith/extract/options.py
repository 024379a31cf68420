"""`ExtractOptions`: what `facesmith extract` and `facesmith.extract(...)` take, each default written once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..face.options import ReferenceOptions
from ..options import option, parse_time, same_as


@dataclass(frozen=True)
class ExtractOptions:
    size: int = option(256, "side of the aligned face in pixels, 64..1024 (default %(default)s)")
    every: int = option(1, "process every Nth frame (default %(default)s)", metavar="N")
    start: float | None = option(None, "start time in a video (seconds or M:S)", type=parse_time)
    end: float | None = option(None, "end time in a video (seconds or M:S)", type=parse_time)
    min_size: int = option(0, "skip faces smaller than PX pixels", metavar="PX")
    max_faces: int = option(0, "keep at most the N largest faces per frame", metavar="N")
    ref: tuple[str, ...] = same_as(ReferenceOptions, "ref")  # the face library's, shared with `faces filter`
    threshold: float = same_as(ReferenceOptions, "threshold")
    detector: str = option("blazeface", "face detector (see --list-detectors; default %(default)s)")
    landmarker: str = option("mesh", "68-point landmark model: mesh or dlib (default %(default)s)")
    smooth: bool = option(True, "no temporal smoothing of landmarks", flag="--no-smooth")
    rotations: bool = option(True, "do not retry on rotated copies of frames where no face is found",
                             flag="--no-rotations")
    redetect_every: int = 15
    image_format: str = option("jpg", "face image format", flag="--format", choices=["jpg", "png"])
    quality: int = 95
    keep_partial: bool = option(False, "keep the faces read from a truncated or corrupt video instead of "
                                       "discarding them")

    def settings(self, ref_hashes: list[str]) -> dict[str, Any]:
        """What decides the faces a frame gives: a resumed run must use the same."""
        s = dataclasses.asdict(self)
        s.pop("keep_partial")
        s["ref"] = sorted(ref_hashes)
        return s

    def validate(self) -> None:
        if not 64 <= self.size <= 1024:
            raise InputError(f"--size must be between 64 and 1024 pixels, not {self.size}")
        if self.every < 1:
            raise InputError("--every must be 1 or more")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise InputError("--end must be after --start")
        if self.image_format not in ("jpg", "png"):
            raise InputError("--format must be jpg or png")
