"""`EvaluateOptions`: what `facesmith evaluate` and `facesmith.evaluate(...)` take, each default written once;
`EvaluateSummary`: what they return (and `--json` prints)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from ..errors import InputError
from ..options import option


@dataclass(frozen=True)
class EvaluateOptions:
    frames: int = option(30, "evenly spaced frames whose identity is measured (~0.2 s each; default %(default)s)",
                         metavar="N")
    every: int = option(1, "evaluate every Nth frame (default %(default)s)", metavar="N")
    report: str | None = option(None, "HTML report (default SWAPPED.evaluate.html)", metavar="PATH")
    write_report: bool = option(True, "write no HTML report", flag="--no-report")
    overwrite: bool = option(False, "replace the report if it exists")
    crops: str | None = option(None, "also write the target|swapped face crops (100%%) as PNGs in DIR",
                               metavar="DIR")

    def validate(self) -> None:
        if self.frames < 1 or self.every < 1:
            raise InputError("--frames and --every must be at least 1")


class EvaluateSummary(TypedDict, total=False):
    """What `evaluate()` returns. The headline figures first (None where nothing could be measured),
    then each group in detail; `frames` holds one row per evaluated frame."""

    target: str
    swapped: str
    source: str
    frames_evaluated: int
    frames_with_faces: int
    identity_source_nearer_share: float | None  # share of measured frames nearer SOURCE than TARGET
    identity_nearer: str | None  # "source" | "target"
    landmark_error: float | None  # mean, in inter-ocular distances
    sharpness_ratio: float | None  # swapped / target Laplacian variance in the face box
    mouth_correlation: float | None
    eye_correlation: float | None
    flicker_ratio: float | None
    background_psnr: float
    marked: bool
    identity: dict[str, Any]
    expression_pose: dict[str, Any]
    face: dict[str, Any]
    temporal: dict[str, Any]
    background: dict[str, Any]
    provenance: dict[str, Any]
    frames: list[dict[str, Any]]
    crops: list[str]  # with crops=DIR: the PNGs written
    report: str  # with write_report: the HTML report's path
