"""facesmith: offline face swapping for video that marks every output as synthetic.

The public API is one callable per pipeline stage; each stage is also the package that implements it
(`facesmith.extract.pipeline` is a module, `facesmith.extract(...)` runs the stage; see `_stage.py`):

    >>> import facesmith
    >>> summary = facesmith.extract(["clip.mp4"], "faces/clip")
    >>> facesmith.train("faces/a", "faces/b", "models/ab", minutes=30)
    >>> facesmith.convert("clip.mp4", "models/ab", "swapped.mp4")
    >>> facesmith.verify(["swapped.mp4"])

and the building blocks for one picture at a time:

    >>> faces = facesmith.find_faces("photo.jpg")            # list[facesmith.face.Face]
    >>> model = facesmith.load_model("models/ab")
    >>> result = facesmith.swap_image(model, "photo.jpg")    # facesmith.engine.FrameResult

For video frames or a camera, keep a `facesmith.face.FaceReader` and a `facesmith.engine.FrameEngine`
(what these functions make on each call). Importing facesmith loads none of the stages; each is
imported on its first call.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

# OpenMP threads that wait by spinning (libgomp's default) collapse when another busy process shares
# the cores: measured on 2 cores with other jobs running, a `lite` training step took 4.8-5.4 s with 2
# spinning threads against 0.8-1.2 s with 2 sleeping ones (and 0.9 s with 1 thread). libgomp reads
# this once, when torch loads it, so it is set here, before any stage imports torch; a value the user
# set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from . import convert, evaluate, extract, swap, train
from ._version import __version__

if TYPE_CHECKING:
    import numpy as np

    from .engine.blend import BlendSettings
    from .engine.frames import FrameResult
    from .face.tracker import Face
    from .models import SwapModel


class VerifyReport(TypedDict):
    """One file's provenance marks, as `verify()` returns them (provenance/verify.py `verify_file`
    makes them; the type is here while issue 17 reworks that module)."""

    path: str
    kind: str  # image | video
    marked: bool  # any of the three below says facesmith made it
    watermark: dict[str, Any]  # "found", the frames and faces checked, and on a find the payload read
    # and "models": per model named in advance (`models`, or the file's tags) whether its mark was found
    metadata: dict[str, str] | None  # facesmith's synthetic-media tags in the container or image (falsy: none)
    c2pa: dict[str, Any]  # present, valid, trusted, validation_state, errors, assertion


def verify(paths: str | Path | Sequence[str | Path], max_frames: int = 30,
           models: Sequence[str | Path] = ()) -> list[VerifyReport]:
    """Read the provenance marks (watermark, container tag, C2PA manifest) of media files and folders;
    one report per file, as `facesmith verify --json` prints them (`max_frames`: its --frames,
    `models`: its --model, model folders or fingerprints whose mark is tested too)."""
    from .provenance.verify import verify as _verify

    reports: list[Any] = _verify([paths] if isinstance(paths, (str, Path)) else paths, max_frames, models)
    return reports


def find_faces(image: np.ndarray | str | Path, detector: str = "blazeface", landmarker: str = "mesh") -> list[Face]:
    """The faces of one photo (a uint8 BGR array or an image file), left to right."""
    from .face.reader import FaceReader

    return FaceReader(detector, landmarker).find(_image(image))


def load_model(model_dir: str | Path, device: str = "cpu") -> SwapModel:
    """The trained swap model in `model_dir` (its latest checkpoint, checked), ready for `swap_image`
    or a `FrameEngine`; its settings are in `model.config`."""
    from .engine.swapper import load_swap_model

    return load_swap_model(model_dir, device)[0]


def swap_image(model: SwapModel, image: np.ndarray | str | Path, *, direction: str = "b2a",
               faces: list[Face] | None = None, blend: BlendSettings | None = None,
               watermark: bool = True) -> FrameResult:
    """Swap the faces of one photo (array or file; an array is changed in place) with `model`:
    `result.image` is the swapped, blended picture, watermarked unless `watermark=False`;
    `result.faces` says what happened to each face. `faces` default to `find_faces(image)`."""
    from .engine.engine import FrameEngine
    from .provenance import Marker, fingerprint_of

    picture = _image(image)
    if faces is None:
        faces = find_faces(picture)
    marker = Marker(fingerprint_of(model.weights_sha256), enabled=watermark)
    engine = FrameEngine(model, direction=direction, blend=blend, marker=marker, device=_device_of(model))
    return engine.swap_frame(picture, faces, follows_previous=False)


def _image(image: np.ndarray | str | Path) -> np.ndarray:
    if isinstance(image, (str, Path)):
        from .media.images import read_image

        return read_image(image)
    return image


def _device_of(model: Any) -> str:
    return str(next(model.parameters()).device)


__all__ = ["VerifyReport", "__version__", "convert", "evaluate", "extract", "find_faces", "load_model", "swap",
           "swap_image", "train", "verify"]
