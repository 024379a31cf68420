"""The frame engine: swap, blend and watermark the faces of a frame with a trained model.

`FrameEngine` (engine.py) is what every front end that draws swapped frames uses: convert (batched,
`swap_batches`), `facesmith live` and previews (one frame at a time, `swap_frame`). Its parts:
`swapper.py` (the model's view of a face, batched inference), `blend.py` (masks, erode/feather,
colour matchers: a registry, one function and a decorator per matcher), `frames.py` (FrameJob /
FaceJob in, FrameResult / FaceResult out).

It sits above the face library, media, models and provenance, and below the stages.
`FrameEngine`, `BlendSettings`, `FrameResult` and `FaceResult` are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .blend import BlendSettings
    from .engine import FrameEngine
    from .frames import FaceResult, FrameResult

__all__ = ["BlendSettings", "FaceResult", "FrameEngine", "FrameResult"]
_WHERE = {"FrameEngine": ".engine", "BlendSettings": ".blend", "FrameResult": ".frames", "FaceResult": ".frames"}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
