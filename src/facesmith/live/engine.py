"""The one place where live reaches into faces, the model, blending and the watermark, one frame at a time.

Written against the face library's online tracker (`face.FaceReader().tracker()`: landmarks tracked
from the previous frame) and the frame engine (`engine.FrameEngine.swap_frame`: cut, model, blend,
invisible watermark), the same parts convert uses, so that live swaps, blends and marks exactly as
convert does; the identity gate is the face library's, on the model's faceset, as convert's. What
convert does and live does not:
the centred alignment average over +-N frames (`--smooth`): it needs future frames, i.e. latency; the
tracker's One Euro filter, which looks only backwards, still steadies the landmarks.

`find` (on the face thread) picks a frame's faces; `swap` (on the frame loop) changes the frame in
place: the swapped faces blended in, then their watermarks added to the BGR pixels, so that every
output (virtual camera, file, stream, preview) carries them.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import progress
from ..engine.blend import BlendSettings
from ..engine.engine import FrameEngine
from ..engine.frames import FaceJob
from ..engine.names import MASKS
from ..engine.swapper import load_swap_model
from ..face import SAME_PERSON_THRESHOLD
from ..face.identity_gate import IdentityGate
from ..face.reader import FaceReader
from ..faceset.reference import faceset_gate
from ..models.checkpoint import trained_facesets
from .controls import Settings


class LiveEngine:
    def __init__(self, model_dir: str | Path, *, direction: str = "b2a", device: str = "cpu",
                 precision: str = "auto", watermark: bool = True, detector: str = "blazeface",
                 threshold: float = SAME_PERSON_THRESHOLD):
        from .. import provenance

        model, config = load_swap_model(model_dir, device)
        self.learns_mask = bool(model.config.get("learns_mask"))
        self.fingerprint = provenance.fingerprint_of(model.weights_sha256)
        self.training_data = config.get("training_data")  # carried into recordings' manifests
        self.engine = FrameEngine(model, direction=direction, device=device, precision=precision,
                                  marker=provenance.Marker(self.fingerprint, enabled=watermark))
        self.watermark = watermark
        self.tracker = FaceReader(detector, "mesh").tracker()
        self.reference = trained_facesets(config, Path(model_dir)).get(direction[0])  # the faces being replaced
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

    @property
    def has_occlusion(self) -> bool:
        return self.engine.swapper.occlusion is not None

    def warm_up(self, identity: bool = False, shape: tuple[int, int] = (480, 640)) -> None:
        """Run every step once on a made-up face in a grey frame, so that the first real frames do not
        pay for loading the detector, the mesh the watermark re-fits and PyTorch's first call (they
        cost ~0.3 s: a dozen frames dropped at the start). `identity`: also embed the faceset's
        reference faces now (~0.5 s) rather than on the first face."""
        if identity:
            _ = self._identity_gate().refs
        from ..engine.swapper import SwapStats
        from ..face.align import aligned_mean_face, alignment_matrix, mask_polygon, transform_points

        frame = np.full((*shape, 3), 128, np.uint8)
        self.tracker.update(frame, 0.0)  # the detector's first run (a grey frame: no track starts)
        points = aligned_mean_face(min(shape) // 2) + np.array([shape[1] / 4, shape[0] / 4])
        unit = alignment_matrix(points, 1)
        face = FaceJob(-1, points, unit, mask_polygon(transform_points(points, unit)))
        self.engine.swap_frame(frame, [face], follows_previous=False)  # model, blend, watermark re-fit
        marker = self.engine.marker
        marker.plan(frame, [])  # forget the made-up face
        self.engine.swapper.stats = SwapStats()
        marker.faces_marked = 0

    def _blend(self, settings: Settings) -> None:
        if settings != self._blend_from:
            self.engine.blend = BlendSettings(settings.mask, settings.erode, settings.feather, settings.color,
                                              mouth=settings.mouth, occlusion=settings.occlusion,
                                              unseen_pose=settings.unseen_pose)
            self._blend_from = settings

    def _chosen(self, image: np.ndarray, found: list[FaceJob], which: str) -> list[FaceJob]:
        if which == "all" or (len(found) <= 1 and which == "largest"):
            return found
        if which == "largest":
            return [max(found, key=lambda f: float(np.ptp(f.points[:, 0]) * np.ptp(f.points[:, 1])))]
        return self._identity_gate().keep_tracked(image, found)

    def _identity_gate(self) -> IdentityGate:
        if self._gate is None:
            assert self.reference is not None  # Controls refuses "identity" without a faceset
            progress.log(f"live: comparing faces with {self.reference} (identity)")
            self._gate = faceset_gate(self.reference, self.threshold)
        return self._gate

    def find(self, index: int, time_s: float, image: np.ndarray, settings: Settings,
             stages: dict[str, float]) -> list[FaceJob]:
        """The faces of one frame to swap (tracked from the previous frame), by `settings.faces`."""
        if not settings.swap:
            return []
        t0 = time.perf_counter()
        found = [FaceJob.of(face) for face in self.tracker.update(image, time_s)]
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
        stats = self.engine.stats
        before = (stats.model_seconds, stats.blend_seconds, stats.mark_seconds)
        result = self.engine.swap_frame(image, faces)  # frames come in order: follows_previous
        after = (stats.model_seconds, stats.blend_seconds, stats.mark_seconds)
        for name, b, a in zip(("model", "blend", "mark"), before, after, strict=True):
            stages[name] = stages.get(name, 0.0) + a - b
        return result.swapped
