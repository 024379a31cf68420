"""`facesmith convert TARGET -m MODEL -o OUT`: swap the faces of a video, a photo or a folder of photos.

    facesmith.convert("clip.mp4", "models/ab", "swapped.mp4", direction="b2a")

Per frame: faces (stored alignments, else detected) -> identity check -> temporal smoothing (a few
frames of delay) -> batched model -> blend -> watermark -> writer. Decoding and encoding run in their
own threads; the model and the blending run here. Output goes to a temporary file that is renamed
onto OUT only when everything succeeded (see output.py).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import progress
from ..errors import InputError
from ..extract.identity import SAME_PERSON_THRESHOLD
from ..media.images import read_image
from ..media.inputs import MediaSource, expand_inputs, file_sha256
from ..media.video import iter_frames, probe_video
from .blend import BlendSettings
from .faces import DetectedFaces, FrameJob, IdentityGate, Smoother, StoredFaces, usable_alignments
from .output import OutputPlan, plan_output
from .swapper import FaceSwapper, load_swap_model
from .writer import PRESETS, VideoWriter, writer_summary


@dataclass(frozen=True)
class ConvertOptions:
    direction: str = "auto"  # a2b | b2a | auto (the side whose faceset holds TARGET, else b2a)
    alignments: str | None = None  # faceset folder holding TARGET's alignments (default: the model's)
    detect: bool = False  # ignore stored alignments, detect faces again
    all_faces: bool = False
    threshold: float = SAME_PERSON_THRESHOLD
    mask: str = "auto"
    erode: float | None = None
    feather: float | None = None
    color: str = "reinhard"
    sharpen: float = 0.0
    smooth: int = 2
    batch_size: int = 16
    crf: float = 18
    preset: str = "veryfast"
    overwrite: bool = False
    allow_empty: bool = False
    preview: int = 0
    watermark: bool = True
    device: str = "auto"
    detector: str = "blazeface"

    def validate(self) -> None:
        if self.direction not in ("auto", "a2b", "b2a"):
            raise InputError(f"--direction must be a2b, b2a or auto, not {self.direction!r}")
        if not 1 <= self.batch_size <= 512:
            raise InputError("--batch-size must be between 1 and 512")
        if not 0 <= self.smooth <= 30:
            raise InputError("--smooth must be between 0 and 30 frames")
        if self.preset not in PRESETS:
            raise InputError(f"--preset must be one of {', '.join(PRESETS)}")
        if not 0 <= self.crf <= 51:
            raise InputError("--crf must be between 0 and 51")
        if self.preview < 0:
            raise InputError("--preview must be a number of frames (1 or more)")
        if not 0 < self.threshold < 2:
            raise InputError("--threshold must be between 0 and 2")

    def blend(self) -> BlendSettings:
        return BlendSettings(self.mask, self.erode, self.feather, self.color, self.sharpen)


def _target_sources(target: Path) -> list[MediaSource]:
    sources = expand_inputs([target])
    if target.is_dir():
        videos = [s.path.name for s in sources if s.kind == "video"]
        if videos:
            raise InputError(f"{target} holds videos ({', '.join(videos[:3])}); convert one video at a time, "
                             "or a folder of photos")
    elif sources[0].kind == "video":
        probe_video(sources[0].path)  # no video stream, no frames, damaged: one clear line now
    return sources


def _device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("--device cuda: no CUDA GPU is available to PyTorch")
    return device


def _facesets(config: dict[str, Any]) -> dict[str, Path]:
    out = {}
    for side in ("a", "b"):
        value = config.get(f"faceset_{side}")
        if value and Path(value).is_dir():
            out[side] = Path(value)
    return out


def _threaded(frames: Iterator[Any]) -> Iterator[Any]:
    from ..extract.pipeline import _threaded as threaded  # the extractor's decode-ahead thread

    return threaded(frames, depth=32)


class _Run:
    """One convert: the faces source per target file, the gate, the batches, the writer."""

    def __init__(self, opt: ConvertOptions, swapper: FaceSwapper, marker: Any, gate: IdentityGate | None,
                 candidates: list[Path], explicit: bool):
        self.opt, self.swapper, self.marker, self.gate = opt, swapper, marker, gate
        self.candidates, self.explicit = candidates, explicit
        self.frames = self.found = 0
        self.alignments_used: list[str] = []

    def faces_for(self, source: MediaSource, sha: str) -> Any:
        for folder in [] if self.opt.detect else self.candidates:
            hit = usable_alignments(folder, sha)
            if hit is not None:
                self.alignments_used.append(hit[1])
                return StoredFaces(hit[0])
        if self.explicit and not self.opt.detect:
            raise InputError(f"{self.candidates[0]} has no complete alignments for {source.path.name}; extract it "
                             f"(`facesmith extract {source.path} -o {self.candidates[0]}`) or leave out --alignments")
        self.alignments_used.append("detected")
        return DetectedFaces(video=source.kind == "video", detector=self.opt.detector)

    def frame_jobs(self, source: MediaSource, faces: Any) -> Iterator[FrameJob]:
        if self.gate:
            self.gate.reset()
        if source.kind == "image":
            image = read_image(source.path)
            yield self._job(0, 0.0, image, faces, source.path.name)
            return
        for fr in _threaded(iter_frames(source.path)):
            yield self._job(fr.index, fr.time, fr.image, faces, "")

    def _job(self, index: int, time_s: float, image: Any, faces: Any, name: str) -> FrameJob:
        found = faces(index, image, time_s)
        kept = self.gate.keep(image, found) if self.gate and not self.opt.all_faces else found
        self.found += len(found)
        return FrameJob(index, time_s, image, kept, len(found), name)

    def run(self, jobs: Iterator[FrameJob], write: Any, bar: Any) -> None:
        smoother = Smoother(self.opt.smooth)
        batch: list[FrameJob] = []

        def flush() -> None:
            marks = self.swapper.process(batch)
            for job, faces in zip(batch, marks, strict=True):
                write(job, self.marker.mark(job.image, faces))
                self.frames += 1
                bar.update(1)
            bar.set_postfix_str(f"{self.swapper.stats.faces_swapped} faces swapped", refresh=False)
            batch.clear()

        for job in jobs:
            for ready in smoother.push(job):
                batch.append(ready)
                if sum(len(j.faces) for j in batch) >= self.opt.batch_size or len(batch) >= 2 * self.opt.batch_size:
                    flush()
        batch.extend(smoother.flush())
        flush()


def convert(target: str | Path, model_dir: str | Path, output: str | Path, **options: Any) -> dict[str, Any]:
    """Swap the faces of `target` with the model in `model_dir`; write `output`. Returns a summary."""
    from .. import provenance

    opt = ConvertOptions(**options)
    opt.validate()
    started = time.monotonic()
    target = Path(target)
    sources = _target_sources(target)
    plan: OutputPlan = plan_output(target, sources, Path(output), opt.overwrite, opt.preview)
    device = _device(opt.device)
    model, config = load_swap_model(model_dir, device)
    facesets = _facesets(config)
    hashes = [file_sha256(s.path) for s in sources]
    direction = opt.direction
    if direction == "auto":
        direction = _auto_direction(facesets, hashes)
    swapper = FaceSwapper(model, direction, opt.blend(), device)
    fingerprint = provenance.model_fingerprint(model_dir)
    marker = provenance.Marker(fingerprint, enabled=opt.watermark)
    target_side, other = direction[0], direction[-1]
    candidates = [Path(opt.alignments)] if opt.alignments else [
        facesets[s] for s in (target_side, other) if s in facesets]
    if opt.alignments and not Path(opt.alignments).is_dir():
        raise InputError(f"--alignments: no such faceset folder: {opt.alignments}")
    gate = None
    if not opt.all_faces:
        reference = facesets.get(target_side) or (Path(opt.alignments) if opt.alignments else None)
        try:
            gate = IdentityGate(reference, opt.threshold) if reference else None
        except ValueError:
            gate = None
        if gate is None:
            progress.warn("the faceset the model was trained on is not available to check identities; "
                          "every face found is swapped (pass --alignments FACESET or --all-faces)")
    run = _Run(opt, swapper, marker, gate, candidates, explicit=bool(opt.alignments))

    if opt.preview:
        from .preview import write_preview

        summary = write_preview(run, sources, hashes, plan, opt.preview, fingerprint)
    else:
        summary = _convert_all(run, sources, hashes, plan, fingerprint, opt)
    stats = swapper.stats
    elapsed = time.monotonic() - started
    return {
        "output": str(plan.path), "kind": plan.kind, "direction": direction, "frames": run.frames,
        "faces_found": run.found, "faces_swapped": stats.faces_swapped, "frames_with_swap": stats.frames_with_swap,
        "alignments": run.alignments_used, "identity_check": gate is not None,
        "blend": dataclasses.asdict(swapper.blend), "model_fingerprint": fingerprint, "watermark": opt.watermark,
        "seconds": round(elapsed, 2), "frames_per_second": round(run.frames / elapsed, 2) if elapsed else 0.0,
        "model_seconds": round(stats.model_seconds, 2), "blend_seconds": round(stats.blend_seconds, 2),
        **summary,
    }


def _auto_direction(facesets: dict[str, Path], hashes: list[str]) -> str:
    from ..faceset.store import AlignmentsStore

    for side, direction in (("b", "b2a"), ("a", "a2b")):
        db = facesets[side] / "alignments.db" if side in facesets else None
        if db is not None and db.is_file():
            with AlignmentsStore(db, create=False) as store:
                if any(store.source(h) for h in hashes):
                    return direction
    return "b2a"


def _convert_all(run: _Run, sources: list[MediaSource], hashes: list[str], plan: OutputPlan,
                 fingerprint: str, opt: ConvertOptions) -> dict[str, Any]:
    from .. import provenance

    total = probe_video(sources[0].path).frame_count if sources[0].kind == "video" else len(sources)
    with plan.staging() as staging, progress.bar(total=total, desc="convert", unit="frame") as bar:
        if plan.kind == "video":
            writer: Any = VideoWriter(staging.path, sources[0].path, crf=opt.crf, preset=opt.preset,
                                      metadata=provenance.container_metadata(fingerprint),
                                      container_options=provenance.container_options())
            write = lambda job, image: writer.write(image, job.time)  # noqa: E731
        else:
            writer = staging.image_writer(sources[0])
            write = lambda job, image: staging.write_image(writer, job, image)  # noqa: E731
        try:
            for source, sha in zip(sources, hashes, strict=True):
                faces = run.faces_for(source, sha)
                run.run(run.frame_jobs(source, faces), write, bar)
            writer.close()
        except BaseException:
            writer.abort()
            raise
        _check_not_empty(run, sources, opt)
        staging.finalize(lambda path: provenance.finalize_file(path, fingerprint))
    return writer_summary(writer)


def _check_not_empty(run: _Run, sources: list[MediaSource], opt: ConvertOptions) -> None:
    if run.swapper.stats.faces_swapped or opt.allow_empty:
        return
    what = sources[0].path.name if len(sources) == 1 else f"{len(sources)} images"
    if run.found == 0:
        raise InputError(f"no face was found in {what}; nothing was written (--allow-empty writes the "
                         "unchanged frames anyway)")
    raise InputError(f"{run.found} faces were found in {what} but none is the trained identity (distance above "
                     f"--threshold {opt.threshold}); nothing was written (--all-faces swaps every face)")
