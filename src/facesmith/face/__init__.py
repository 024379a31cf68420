"""The face-vision library: detectors, 68-point landmarkers, alignment, tracking, identity, pose.

It sits on the ground floor beside `media`: the stages (extract, convert, train, evaluate,
provenance, faceset tools) use it, and it imports none of them. Its front door is `FaceReader`
(reader.py): `FaceReader().find(image) -> list[Face]`, `.track(frames)`, `.tracker().update(frame)`.
Detectors and landmarkers are registries (`detect.py`, `landmarks.py`): a new backend is one module
plus one registration line.

`FaceReader` and `Face` are loaded on first use, so `import facesmith.face.align` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .reader import FaceReader
    from .tracker import Face

# dlib descriptor distance under which two faces are the same person (its authors' threshold)
SAME_PERSON_THRESHOLD = 0.6

__all__ = ["SAME_PERSON_THRESHOLD", "Face", "FaceReader"]


_WHERE = {"FaceReader": ".reader", "Face": ".tracker"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
