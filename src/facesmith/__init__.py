"""facesmith: offline face swapping for video that marks every output as synthetic.

The public API is a handful of functions, one per pipeline stage:

    >>> import facesmith
    >>> summary = facesmith.extract(["clip.mp4"], "faces/clip")
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .extract.pipeline import ExtractSummary


def extract(inputs: Any, output_dir: Any, **options: Any) -> ExtractSummary:
    """Detect, align and save every face of videos, images or folders into a faceset folder.

    Options are those of `facesmith extract` (size=256, every=1, detector="blazeface", ...).
    """
    from .extract.pipeline import extract as _extract

    return _extract(inputs, output_dir, **options)


__all__ = ["__version__", "extract"]
