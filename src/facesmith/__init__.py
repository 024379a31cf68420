"""facesmith: offline face swapping for video that marks every output as synthetic.

The public API is one callable per pipeline stage; each stage is also the package that implements it
(`facesmith.extract.pipeline` is a module, `facesmith.extract(...)` runs the stage; see `_stage.py`):

    >>> import facesmith
    >>> summary = facesmith.extract(["clip.mp4"], "faces/clip")
    >>> facesmith.train("faces/a", "faces/b", "models/ab", minutes=30)
    >>> facesmith.convert("clip.mp4", "models/ab", "swapped.mp4")
    >>> facesmith.verify(["swapped.mp4"])

Importing facesmith loads none of the stages; each is imported on its first call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# OpenMP threads that wait by spinning (libgomp's default) collapse when another busy process shares
# the cores: measured on 2 cores with other jobs running, a `lite` training step took 4.8-5.4 s with 2
# spinning threads against 0.8-1.2 s with 2 sleeping ones (and 0.9 s with 1 thread). libgomp reads
# this once, when torch loads it, so it is set here, before any stage imports torch; a value the user
# set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import convert, evaluate, extract, swap, train
from ._version import __version__


def verify(paths: str | Path | Sequence[str | Path], max_frames: int = 30) -> list[dict[str, Any]]:
    """Read the provenance marks (watermark, container tag, C2PA manifest) of media files and folders;
    one report per file, as `facesmith verify --json` prints them (`max_frames`: its --frames)."""
    from .provenance.verify import verify as _verify

    return _verify([paths] if isinstance(paths, (str, Path)) else paths, max_frames)


__all__ = ["__version__", "convert", "evaluate", "extract", "swap", "train", "verify"]
