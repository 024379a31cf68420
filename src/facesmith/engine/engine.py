"""`FrameEngine`: a loaded model, blend settings and a watermark marker, turning frames and their
faces into swapped, blended, watermarked frames.

    engine = FrameEngine(model, direction="b2a", blend=BlendSettings(color="reinhard"), marker=marker)
    result = engine.swap_frame(frame_bgr, faces)   # one frame now (live, previews): FrameResult
    result.image, result.faces                     # the frame (changed in place), each face's FaceResult
    engine.blend = replace(engine.blend, feather=12)   # between frames: mask, colour, erode, feather
    engine.enabled = False                         # frames pass through untouched until switched back
    engine.swap_batches(groups, done, batch_size=16)   # a caller that can wait (convert): 2 threads

`faces` are `face.Face`s (from `FaceReader`) or `FaceJob`s (convert's stored alignments). In
`swap_frame` the watermarks are added to the BGR frame; in `swap_batches` they are planned and handed
to `done(job, marks)`, which adds them where it writes the frame (convert's video writer puts them
into the encoded frame's chroma planes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..media.threads import Worker
from ..provenance import pixels, watermark
from ..provenance.marker import Marker
from .blend import BlendSettings
from .frames import FaceJob, FaceResult, FrameJob, FrameResult
from .swapper import FaceSwapper, Inferred, SwapStats

Done = Callable[[FrameJob, list[watermark.FaceMark]], None]


class FrameEngine:
    """Swap, blend and watermark frames with one loaded model.

    `model`: a swap model (`facesmith.load_model` / `models.load_model`); `direction`: "a2b" or
    "b2a"; `blend`: the starting `BlendSettings`; `marker`: the `provenance.Marker` whose payload goes
    into every swapped face (default: one for the model's own fingerprint, watermark on); `device`,
    `precision`: as convert's --device / --precision. Not thread-safe: one caller at a time (the
    batched path runs its own two threads).
    """

    def __init__(self, model: Any, *, direction: str = "b2a", blend: BlendSettings | None = None,
                 marker: Marker | None = None, device: str = "cpu", precision: str = "auto"):
        self.swapper = FaceSwapper(model, direction, blend or BlendSettings(), device, precision)
        if marker is None:
            from ..provenance import fingerprint_of

            marker = Marker(fingerprint_of(model.weights_sha256))
        self.marker = marker
        self.enabled = True  # False: frames pass through untouched (no swap, no mark)

    @property
    def blend(self) -> BlendSettings:
        """The blend settings in use ("auto" mask resolved for this model)."""
        return self.swapper.blend

    @blend.setter
    def blend(self, settings: BlendSettings) -> None:
        """Change mask mode, colour mode, erode, feather or sharpening; the next frame uses them
        (InputError, settings unchanged, when they do not fit the model)."""
        self.swapper.blend = settings.validate(self.swapper.learns_mask)

    @property
    def stats(self) -> SwapStats:
        return self.swapper.stats

    @property
    def device(self) -> Any:
        return self.swapper.device

    # --- one frame at a time -----------------------------------------------------------------
    def swap_frame(self, image: np.ndarray, faces: Sequence[Any], *, follows_previous: bool = True) -> FrameResult:
        """Swap the `faces` of one uint8 BGR frame, in place, and watermark them. `follows_previous`:
        this frame comes right after the last one (a video or a camera in order), so the watermark
        may reuse its last landmark re-fit; False for unrelated frames."""
        jobs = [f if isinstance(f, FaceJob) else FaceJob.of(f) for f in faces]
        return self.swap_job(FrameJob(0, 0.0, image, jobs, len(jobs)), follows_previous=follows_previous)

    def swap_job(self, job: FrameJob, *, follows_previous: bool = True) -> FrameResult:
        """`swap_frame` for a prepared FrameJob."""
        out: list[FrameResult] = []

        def done(frame: FrameJob, results: list[FaceResult]) -> None:
            marks = self._plan_marks(frame, results, follows_previous)
            for mark in marks:
                pixels.add_to_bgr(frame.image, mark)
            out.append(FrameResult(frame.image, results))

        self.swapper.paste(self._infer([job]), done)
        return out[0]

    # --- batched -----------------------------------------------------------------------------
    def swap_batches(self, groups: Iterable[Sequence[FrameJob]], done: Done, batch_size: int = 16) -> None:
        """Swap a stream of frames in order, batching faces for the model. `groups`: the frames in
        order, in groups of those that became ready together (a temporal smoother hands over 0 or 1
        frames a step and the rest at the end; a group is never split between batches). The model
        runs on one thread, blending and watermark planning on another, and `done(job, marks)` is
        called on that second thread for each frame, in order, with the frame blended and its
        watermarks planned (not yet added). An error in either thread stops both and is raised here."""

        def finish(job: FrameJob, results: list[FaceResult]) -> None:
            done(job, self._plan_marks(job, results, follows_previous=True))  # frames come in order

        # Each frame's watermark is planned right after its faces are blended, on the same thread,
        # while the face regions are still in that core's cache (measured: ~8% more frames/s than a
        # separate watermark thread, which read them back from memory).
        blend = Worker(lambda inferred: self.swapper.paste(inferred, finish), "blend")
        model = Worker(lambda batch: blend.put(self._infer(batch)), "model")
        workers = (model, blend)
        batch: list[FrameJob] = []
        faces = 0
        # the first batches are small so the blending and encoding threads start early; then full size
        size = min(2, batch_size)
        try:
            for group in groups:
                batch.extend(group)
                faces += sum(len(job.faces) for job in group)
                if group and (faces >= size or len(batch) >= 2 * size):
                    model.put(batch)
                    batch, faces = [], 0
                    size = min(2 * size, batch_size)
            if batch:
                model.put(batch)
            for worker in workers:
                worker.close()
        except BaseException:
            for worker in reversed(workers):
                worker.abort()
            raise

    # --- steps -------------------------------------------------------------------------------
    def _infer(self, frames: list[FrameJob]) -> Inferred:
        if not self.enabled:
            return Inferred(frames, [], [], None, None, [])
        return self.swapper.infer(frames)

    def _plan_marks(self, job: FrameJob, results: list[FaceResult],
                    follows_previous: bool) -> list[watermark.FaceMark]:
        t0 = time.perf_counter()
        marks = self.marker.plan(job.image, [r.landmarks for r in results if r.swapped], follows_previous)
        self.stats.mark_seconds += time.perf_counter() - t0
        return marks
