"""Face detection: the `Detection` record, the `Detector` protocol and the backend registry.

Backends live in their own modules and are imported only when first created, so `import
facesmith.face.detect` loads no model library. Adding a backend = one new module whose factory is
decorated with `@register_detector("name")` + one line in `_BUILTIN` below.

All backends report boxes in one convention, BlazeFace's (roughly brows-to-chin, ear-to-ear), so that
`landmarks.roi_from_detection` builds the same crop whichever detector found the face; the dlib
backends convert their boxes (see `dlib_detect.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from ..registry import Registry


@dataclass(frozen=True, eq=False)  # eq=False: `==` on numpy fields would raise, compare by identity
class Detection:
    """One face found in an image, in pixels of the image that was passed to `detect`."""

    box: np.ndarray  # float32 (4,): x0, y0, x1, y1
    score: float  # 0..1
    # float32 (4, 2): the subject's right eye (on the image's left for an upright face), the subject's
    # left eye, nose tip, mouth centre. The eyes give the roll (see landmarks.Roi).
    keypoints: np.ndarray

    def __post_init__(self) -> None:
        box = np.asarray(self.box, dtype=np.float32).reshape(4)
        keypoints = np.asarray(self.keypoints, dtype=np.float32).reshape(4, 2)
        object.__setattr__(self, "box", box)
        object.__setattr__(self, "keypoints", keypoints)
        object.__setattr__(self, "score", float(self.score))

    def mapped(self, scale: float, dx: float = 0.0, dy: float = 0.0) -> Detection:
        """The detection in other pixel coordinates, p' = p * scale + (dx, dy): e.g. from a
        downscaled copy of a frame (scale = 1 / factor) or from a tile back to the whole frame."""
        offset = np.array([dx, dy], dtype=np.float32)
        box = self.box * scale + np.tile(offset, 2)
        return Detection(box, self.score, self.keypoints * scale + offset)


@runtime_checkable
class Detector(Protocol):
    name: str

    def detect(self, image_bgr: np.ndarray, thorough: bool = True) -> list[Detection]:
        """Faces in a uint8 BGR image (H, W, 3), best score first, overlapping boxes merged.
        `thorough=False` asks for a cheaper pass where the backend has one: the tracker uses it for
        its periodic look for newcomers while one face is tracked, when a miss costs a few frames."""
        ...


# name -> module (relative to facesmith.face) whose import registers it
_BUILTIN = {
    "blazeface": ".blazeface",
    "dlib-hog": ".dlib_detect",
    "dlib-cnn": ".dlib_detect",
}
_DETECTORS: Registry[Detector] = Registry("detector", _BUILTIN, __package__)
DEFAULT_DETECTOR = "blazeface"


def register_detector(name: str) -> Callable[[Callable[..., Detector]], Callable[..., Detector]]:
    """Decorator: `@register_detector("mine")` on a class or factory taking keyword options."""
    return _DETECTORS.register(name)


def create_detector(name: str = DEFAULT_DETECTOR, **kwargs: object) -> Detector:
    """A new detector instance; unknown names raise InputError listing the available ones."""
    return _DETECTORS.create(name, **kwargs)


def available_detectors() -> list[str]:
    return _DETECTORS.names()
