"""facesmith: offline face swapping for video that marks every output as synthetic.

The public API is a handful of functions, one per pipeline stage:

    >>> import facesmith
    >>> summary = facesmith.extract(["clip.mp4"], "faces/clip")
"""

from __future__ import annotations

__version__ = "0.1.0"

import os
from typing import TYPE_CHECKING, Any

# OpenMP threads that wait by spinning (libgomp's default) collapse when another busy process shares
# the cores: measured on 2 cores with other jobs running, a `lite` training step took 4.8-5.4 s with 2
# spinning threads against 0.8-1.2 s with 2 sleeping ones (and 0.9 s with 1 thread). libgomp reads
# this once, when torch loads it, so it is set here, before any stage imports torch; a value the user
# set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The stage packages share their names with the API functions below. Importing them first (their
# __init__ files are empty) means the later `import facesmith.extract.pipeline` finds the package
# already loaded and does not rebind `facesmith.extract` from the function to the package.
from . import convert as _convert_stage  # noqa: F401
from . import evaluate as _evaluate_stage  # noqa: F401
from . import extract as _extract_stage  # noqa: F401
from . import swap as _swap_stage  # noqa: F401
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


def convert(target: Any, model_dir: Any, output: Any, **options: Any) -> dict[str, Any]:
    """Swap the faces of a video, photo or folder of photos with a trained model; returns the summary.

    Options are those of `facesmith convert` (direction="auto", color="reinhard", crf=18, ...).
    """
    from .convert.pipeline import convert as _convert

    return _convert(target, model_dir, output, **options)


def swap(source: Any, target: Any, output: Any, **options: Any) -> dict[str, Any]:
    """Put the face of `source` (video or photos) onto the person in `target`: extract, train, convert,
    resuming from `workdir` when it holds earlier progress. Options are those of `facesmith swap`.
    """
    from .swap.runner import swap as _swap

    return _swap(source, target, output, **options)


def evaluate(target: Any, swapped: Any, source: Any, **options: Any) -> dict[str, Any]:
    """Measure a swapped video against its target and the source faceset's identity; returns the summary
    (with per-frame rows) and writes an HTML report. Options are those of `facesmith evaluate`
    (frames=30, every=1, report=None, write_report=True).
    """
    from .evaluate.command import evaluate as _evaluate

    return _evaluate(target, swapped, source, **options)


__all__ = ["__version__", "convert", "evaluate", "extract", "swap", "train"]
