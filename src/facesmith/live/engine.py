"""The one place where live reaches into faces, the model, blending and the watermark, one frame at a time.

Written against convert's parts (`DetectedFaces`: the extractor's tracker, landmarks tracked from the
previous frame; `IdentityGate`; `FaceSwapper`: cut, model, blend; `Marker`: the invisible watermark),
so that live swaps, blends and marks exactly as convert does. What convert does and live does not:
the centred alignment average over +-N frames (`--smooth`): it needs future frames, i.e. latency; the
tracker's One Euro filter, which looks only backwards, still steadies the landmarks.

`find` (on the face thread) picks a frame's faces; `swap` (on the frame loop) changes the frame in
place: the swapped faces blended in, then their watermarks added to the BGR pixels, so that every
output (virtual camera, file, stream, preview) carries them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from .. import progress
from ..convert.blend import BlendSettings
from ..convert.faces import DetectedFaces, FaceJob, FrameJob, IdentityGate
from ..convert.names import MASKS
from ..convert.swapper import FaceSwapper, load_swap_model
from ..face.identity import SAME_PERSON_THRESHOLD
from .controls import Settings


def _facesets(config: dict[str, Any], model_dir: Path) -> dict[str, Path]:
    from ..convert.pipeline import _facesets as model_facesets  # convert's reading of the model's record

    return model_facesets(config, model_dir)


class LiveEngine:
    def __init__(self, model_dir: str | Path, *, direction: str = "b2a", device: str = "cpu",
                 precision: str = "auto", watermark: bool = True, detector: str = "blazeface",
                 threshold: float = SAME_PERSON_THRESHOLD):
        from .. import provenance

        model, config = load_swap_model(model_dir, device)
        self.learns_mask = bool(model.config.get("learns_mask"))
        self.swapper = FaceSwapper(model, direction, BlendSettings(), device, precision)
        self.fingerprint = provenance.fingerprint_of(model.weights_sha256)
        self.marker = provenance.Marker(self.fingerprint, enabled=watermark)
        self.watermark = watermark
        self.faces = DetectedFaces(video=True, detector=detector)
        self.reference = _facesets(config, Path(model_dir)).get(direction[0])  # the faces being replaced
        self.threshold = threshold
        self._gate: IdentityGate | None = None
        self._blend_from: Settings | None = None
        self.faces_found = 0

    @property
    def masks(self) -> tuple[str, ...]:
        """The masks this model can blend with."""
        return MASKS if self.learns_mask else ("auto", "hull")

    @property
    def has_identity(self) -> bool:
        return self.reference is not None

    def warm_up(self, identity: bool = False, shape: tuple[int, int] = (480, 640)) -> None:
        """Run every step once on a made-up face in a grey frame, so that the first real frames do not
        pay for loading the detector, the mesh the watermark re-fits and PyTorch's first call (they
        cost ~0.3 s: a dozen frames dropped at the start). `identity`: also embed the faceset's
        reference faces now (~0.5 s) rather than on the first face."""
        if identity:
            _ = self._identity_gate().refs
        from ..convert.swapper import SwapStats
        from ..face.align import aligned_mean_face, alignment_matrix, mask_polygon, transform_points

        frame = np.full((*shape, 3), 128, np.uint8)
        self.faces(0, frame, 0.0)  # the detector's first run
        points = aligned_mean_face(min(shape) // 2) + np.array([shape[1] / 4, shape[0] / 4])
        unit = alignment_matrix(points, 1)
        face = FaceJob(-1, points, unit, mask_polygon(transform_points(points, unit)))
        (landmarks,) = self.swapper.paste(self.swapper.infer([FrameJob(0, 0.0, frame, [face], 1)]))
        self.marker.plan(frame, landmarks)
        self.marker.plan(frame, [])  # forget the made-up face
        self.swapper.stats = SwapStats()
        self.marker.faces_marked = 0

    def _blend(self, settings: Settings) -> None:
        if settings != self._blend_from:
            self.swapper.blend = BlendSettings(settings.mask, settings.erode, settings.feather,
                                               settings.color).validate(self.learns_mask)
            self._blend_from = settings

    def _chosen(self, image: np.ndarray, found: list[FaceJob], which: str) -> list[FaceJob]:
        if which == "all" or (len(found) <= 1 and which == "largest"):
            return found
        if which == "largest":
            return [max(found, key=lambda f: float(np.ptp(f.points[:, 0]) * np.ptp(f.points[:, 1])))]
        return self._identity_gate().keep(image, found)

    def _identity_gate(self) -> IdentityGate:
        if self._gate is None:
            assert self.reference is not None  # Controls refuses "identity" without a faceset
            progress.log(f"live: comparing faces with {self.reference} (identity)")
            self._gate = IdentityGate(self.reference, self.threshold)
        return self._gate

    def find(self, index: int, time_s: float, image: np.ndarray, settings: Settings,
             stages: dict[str, float]) -> list[FaceJob]:
        """The faces of one frame to swap (tracked from the previous frame), by `settings.faces`."""
        if not settings.swap:
            return []
        t0 = time.perf_counter()
        found = self.faces(index, image, time_s)
        self.faces_found += len(found)
        chosen = self._chosen(image, found, settings.faces) if found else []
        stages["faces"] = stages.get("faces", 0.0) + time.perf_counter() - t0
        return chosen

    def swap(self, index: int, time_s: float, image: np.ndarray, faces: list[FaceJob], settings: Settings,
             stages: dict[str, float]) -> int:
        """Swap, blend and mark `faces` in the frame, in place; returns the faces swapped and adds
        each stage's seconds to `stages`."""
        if not faces or not settings.swap:
            return 0
        self._blend(settings)
        t1 = time.perf_counter()
        inferred = self.swapper.infer([FrameJob(index, time_s, image, faces, len(faces))])
        t2 = time.perf_counter()
        (landmarks,) = self.swapper.paste(inferred)
        t3 = time.perf_counter()
        if landmarks and self.watermark:
            from ..provenance.watermark import add_to_bgr

            for mark in self.marker.plan(image, landmarks, follows_previous=True):
                add_to_bgr(image, mark)
        t4 = time.perf_counter()
        for name, seconds in (("model", t2 - t1), ("blend", t3 - t2), ("mark", t4 - t3)):
            stages[name] = stages.get(name, 0.0) + seconds
        return len(landmarks)
