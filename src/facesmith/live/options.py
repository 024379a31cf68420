"""`LiveOptions`: what `facesmith live` and `live()` take besides the source, the outputs and the
`Settings` that change while running (controls.py); each default written once. Options that mean
what convert's do are convert's (`same_as`), worded for live where the context differs."""

from __future__ import annotations

from dataclasses import dataclass

from ..convert.options import ConvertOptions
from ..options import option, same_as


@dataclass(frozen=True)
class LiveOptions:
    direction: str = option("b2a", "b2a draws faces of B as A (default)", choices=["a2b", "b2a"])
    device: str = option("cpu", "where the model runs (default %(default)s)", choices=["cpu", "cuda"])
    precision: str = same_as(ConvertOptions, "precision")
    threads: int = same_as(ConvertOptions, "threads", help="model threads (default: half the cores)")
    watermark: bool = same_as(ConvertOptions, "watermark", help="do not watermark the swapped faces (recordings "
                                                                "are still tagged as synthetic)")
    detector: str = same_as(ConvertOptions, "detector", help="face detector (default %(default)s)")
    threshold: float = same_as(ConvertOptions, "threshold", help="identity distance under which a face counts as "
                                                                 "the trained person, for --faces identity "
                                                                 "(default %(default)s)")
    crf: float = option(20, "H.264 quality of a recording: 0 lossless .. 51 worst (default %(default)s)")
    preset: str = same_as(ConvertOptions, "preset", help="x264 speed preset of a recording (default %(default)s)")
    reconnect: int = option(0, "when the source fails or stalls, open it again up to N times in a row, with "
                               "back-off 0.5, 1, 2 .. 8 s (default 0: stop)", metavar="N")
    duration: float | None = option(None, "stop after S seconds of output", metavar="S")
    vcam_backend: str | None = option(None, "pyvirtualcam backend (default: the first that works)", metavar="NAME")
    keys: bool = option(True, "do not read keys from the terminal", flag="--no-keys")  # only when stdin is one
