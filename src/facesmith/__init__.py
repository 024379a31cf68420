"""facesmith: offline face swapping for video that marks every output as synthetic.

The public API is a handful of functions, one per pipeline stage:

    >>> import facesmith
    >>> summary = facesmith.extract(["clip.mp4"], "faces/clip")
"""

from __future__ import annotations

__version__ = "0.1.0"

from typing import TYPE_CHECKING, Any

# The stage packages share their names with the API functions below. Importing them first (their
# __init__ files are empty) means the later `import facesmith.extract.pipeline` finds the package
# already loaded and does not rebind `facesmith.extract` from the function to the package.
from . import convert as _convert_stage  # noqa: F401
from . import extract as _extract_stage  # noqa: F401
from . import train as _train_stage  # noqa: F401

if TYPE_CHECKING:
    from .extract.pipeline import ExtractSummary


def extract(inputs: Any, output_dir: Any, **options: Any) -> ExtractSummary:
    """Detect, align and save every face of videos, images or folders into a faceset folder.

    Options are those of `facesmith extract` (size=256, every=1, detector="blazeface", ...).
    """
    from .extract.pipeline import extract as _extract

    return _extract(inputs, output_dir, **options)


def train(faceset_a: Any, faceset_b: Any, model_dir: Any, **options: Any) -> dict[str, Any]:
    """Train (or resume) a face-swap model on two facesets; returns the summary dict.

    Options are those of `facesmith train` (model="lite", iterations=None, minutes=None, seed=0, ...).
    """
    from .train.loop import train as _train

    return _train(faceset_a, faceset_b, model_dir, **options)


__all__ = ["__version__", "extract", "train"]
