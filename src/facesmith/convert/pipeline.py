"""`facesmith convert TARGET -m MODEL -o OUT`: swap the faces of a video, a photo or a folder of photos.

    facesmith.convert("clip.mp4", "models/ab", "swapped.mp4", direction="b2a")

Per frame: faces (the alignments extract stored for TARGET, else detected on the fly) -> whose face
is it -> temporal smoothing (a few frames of delay) -> batched model -> blend -> watermark -> writer.

Threads: decoding; finding faces (here); the model; blending, watermarking and handing frames to the
encoder; encoding and muxing. They overlap because PyTorch, OpenCV and FFmpeg release the GIL.

Whose face: with the trained faceset's own alignments, a face is the trained identity when its face
file is still in the faceset (so deleting a face file there keeps it out of training and convert
alike); faces found any other way are compared with the faceset by dlib descriptor, a few frames per
track. --all-faces swaps every face.

Output goes to a temporary file that is renamed onto OUT only when everything succeeded (output.py).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import progress
from ..errors import InputError
from ..face.identity import SAME_PERSON_THRESHOLD
from ..media.encoding import PRESETS
from ..media.images import read_image
from ..media.inputs import MediaSource, expand_inputs, file_sha256
from ..media.threads import Worker, read_ahead
from ..media.video import iter_frames, probe_video
from ..media.writer import VideoWriter, writer_summary
from .blend import BlendSettings
from .faces import DetectedFaces, FrameJob, IdentityGate, Smoother, StoredFaces, usable_alignments
from .output import OutputPlan, plan_output
from .swapper import FaceSwapper, load_swap_model


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
    precision: str = "auto"  # model arithmetic: auto (bf16 where the hardware has it), fp32, bf16
    threads: int = 0  # model threads on CPU; 0: half the cores (decoding and encoding use the rest)
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
        if self.threads < 0:
            raise InputError("--threads must be 0 (automatic) or more")
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


def _facesets(config: dict[str, Any], model_dir: Path) -> dict[str, Path]:
    """The facesets the model was trained on that still exist (a relative path recorded by `train`
    is tried from here and from beside the model folder)."""
    out = {}
    for side in ("a", "b"):
        value = config.get(f"faceset_{side}")
        for path in (Path(value), model_dir.parent / value) if value else ():
            if path.is_dir():
                out[side] = path
                break
    return out


class _Run:
    """One convert: the faces source per target file, the gate, the batches, the writer."""

    def __init__(self, opt: ConvertOptions, swapper: FaceSwapper, marker: Any, gate: IdentityGate | None,
                 candidates: list[Path], explicit: bool, reference: Path | None):
        self.opt, self.swapper, self.marker, self.gate = opt, swapper, marker, gate
        self.candidates, self.explicit = candidates, explicit
        self.reference = Path(os.path.realpath(reference)) if reference else None
        self.identity: set[str] = set()  # how identities were checked
        self.frames = self.found = 0
        self.setup_seconds = 0.0
        self.alignments_used: list[str] = []

    def faces_for(self, source: MediaSource, sha: str) -> Any:
        for folder in [] if self.opt.detect else self.candidates:
            hit = usable_alignments(folder, sha)
            if hit is not None:
                self.alignments_used.append(str(folder))
                return StoredFaces(hit, folder)
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
        # one decoder thread: the least CPU per frame, and the model, blending and encoding want the cores
        for fr in read_ahead(iter_frames(source.path, threads=1), depth=32):
            yield self._job(fr.index, fr.time, fr.image, faces, "")

    def _job(self, index: int, time_s: float, image: Any, faces: Any, name: str) -> FrameJob:
        found = faces(index, image, time_s)
        kept = found
        if self.opt.all_faces or not found:
            pass
        elif isinstance(faces, StoredFaces) and Path(os.path.realpath(faces.folder)) == self.reference:
            # the trained faceset's own alignments: its face files are the identity (a face deleted
            # from the faceset is neither trained on nor swapped)
            kept = [f for f in found if faces.kept(f)]
            self.identity.add("faceset files")
        elif self.gate:
            kept = self.gate.keep(image, found)
            self.identity.add("face descriptors")
        self.found += len(found)
        return FrameJob(index, time_s, image, kept, len(found), name)

    def run(self, jobs: Iterator[FrameJob], write: Any, bar: Any) -> None:
        """Faces found here -> model thread -> blend-and-watermark thread -> the writer's thread."""
        smoother = Smoother(self.opt.smooth)

        def finish(job: FrameJob, faces: list[Any]) -> None:
            t0 = time.perf_counter()
            marks = self.marker.plan(job.image, faces, follows_previous=True)  # frames come in order
            self.swapper.stats.mark_seconds += time.perf_counter() - t0
            write(job, job.image, marks)
            self.frames += 1
            bar.update(1)

        # Each frame's watermark is planned right after its faces are blended, on the same thread,
        # while the face regions are still in that core's cache (measured: ~8% more frames/s than a
        # separate watermark thread, which read them back from memory); `write` adds it.
        def blend_batch(inferred: Any) -> None:
            self.swapper.paste(inferred, finish)
            bar.set_postfix_str(f"{self.swapper.stats.faces_swapped} faces swapped", refresh=False)

        blend = Worker(blend_batch, "blend")
        model = Worker(lambda batch: blend.put(self.swapper.infer(batch)), "model")
        workers = (model, blend)
        batch: list[FrameJob] = []
        faces = 0
        # the first batches are small so the blending and encoding threads start early; then full size
        size = min(2, self.opt.batch_size)
        try:
            for job in jobs:
                for ready in smoother.push(job):
                    batch.append(ready)
                    faces += len(ready.faces)
                    if faces >= size or len(batch) >= 2 * size:
                        model.put(batch)
                        batch, faces = [], 0
                        size = min(2 * size, self.opt.batch_size)
            batch.extend(smoother.flush())
            if batch:
                model.put(batch)
            for worker in workers:
                worker.close()
        except BaseException:
            for worker in reversed(workers):
                worker.abort()
            raise


def convert(target: str | Path, model_dir: str | Path, output: str | Path, **options: Any) -> dict[str, Any]:
    """Swap the faces of `target` with the model in `model_dir`; write `output`. Returns a summary."""
    import torch

    opt = ConvertOptions(**options)
    opt.validate()
    # On a few cores, decoding and encoding keep some of them busy: a model that wants every core
    # waits on its own threads at each layer (measured: 2 threads on 2 busy cores are 35x slower).
    threads = opt.threads or max(1, (os.cpu_count() or 2) // 2)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _convert(target, model_dir, output, opt)
    finally:
        torch.set_num_threads(before)


def _convert(target: str | Path, model_dir: str | Path, output: str | Path, opt: ConvertOptions) -> dict[str, Any]:
    from .. import provenance

    started = time.monotonic()
    if opt.alignments and not Path(opt.alignments).is_dir():
        raise InputError(f"--alignments: no such faceset folder: {opt.alignments}")
    target = Path(target)
    sources = _target_sources(target)
    plan: OutputPlan = plan_output(target, sources, Path(output), opt.overwrite, opt.preview)
    device = _device(opt.device)
    model, config = load_swap_model(model_dir, device)
    facesets = _facesets(config, Path(model_dir))
    hashes = [file_sha256(s.path) for s in sources]
    direction = opt.direction
    if direction == "auto":
        direction = _auto_direction(facesets, hashes)
    swapper = FaceSwapper(model, direction, opt.blend(), device, opt.precision)
    fingerprint = provenance.fingerprint_of(model.weights_sha256)
    marker = provenance.Marker(fingerprint, enabled=opt.watermark)
    target_side, other = direction[0], direction[-1]
    candidates = [Path(opt.alignments)] if opt.alignments else [
        facesets[s] for s in (target_side, other) if s in facesets]
    gate = None
    # whose faces are swapped: the faceset the user points at, else the one the model learnt them from
    reference = Path(opt.alignments) if opt.alignments else facesets.get(target_side)
    if not opt.all_faces:
        try:
            gate = IdentityGate(reference, opt.threshold) if reference else None
        except ValueError:
            gate = None
        if gate is None:
            progress.warn("the faceset the model was trained on is not available to check identities; "
                          "every face found is swapped (pass --alignments FACESET or --all-faces)")
    run = _Run(opt, swapper, marker, gate, candidates, explicit=bool(opt.alignments), reference=reference)
    run.setup_seconds = time.monotonic() - started

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
        "alignments": run.alignments_used, "identity_check": sorted(run.identity) or "off",
        "blend": dataclasses.asdict(swapper.blend), "model_fingerprint": fingerprint, "watermark": opt.watermark,
        "seconds": round(elapsed, 2), "frames_per_second": round(run.frames / elapsed, 2) if elapsed else 0.0,
        "model_seconds": round(stats.model_seconds, 2), "blend_seconds": round(stats.blend_seconds, 2),
        "watermark_seconds": round(stats.mark_seconds, 2), "setup_seconds": round(run.setup_seconds, 2),
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
    from ..provenance.watermark import add_to_bgr

    info = probe_video(sources[0].path) if sources[0].kind == "video" else None
    total = info.frame_count if info else len(sources)
    with plan.staging() as staging, progress.bar(total=total, desc="convert", unit="frame") as bar:
        if plan.kind == "video":
            writer: Any = VideoWriter(staging.path, sources[0].path, crf=opt.crf, preset=opt.preset,
                                      metadata=provenance.container_metadata(fingerprint),
                                      container_options=provenance.container_options(),
                                      threads=encoder_threads(run.swapper.device.type, info.width * info.height if info else 0))
            # the marks go into the chroma planes of the encoded frame (through the writer's frame hook)
            chroma = provenance.watermark.ChromaMarks(writer.yuv_conversion())
            write = lambda job, image, marks: writer.write(image, job.time, chroma.hook(marks))  # noqa: E731
        else:
            writer = staging.image_writer(sources[0])

            def write(job: FrameJob, image: Any, marks: list[Any]) -> None:
                for mark in marks:  # in place: blending already changed this frame, convert owns it
                    add_to_bgr(image, mark)
                staging.write_image(writer, job, image)
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


def encoder_threads(device: str, pixels: int) -> int:
    """x264's thread count (0: x264's own, 1.5 frame-parallel threads a core). Measured on 2 cores
    with the model on the CPU, where the model, blending and decoding already keep both cores busy:
    up to 1280x720, one x264 thread converts faster than x264's default (identity_b, 480p: 5-7% more
    frames/s at ~0.8 ms less CPU a frame; two_people_720p: within the noise); at 1080p the default is
    ~8% faster (street_crowd_1080p: frame threads pay off on tall frames). Elsewhere, x264 chooses."""
    cores = os.cpu_count() or 2
    return 1 if device == "cpu" and cores <= 2 and pixels <= 1280 * 720 else 0


def _check_not_empty(run: _Run, sources: list[MediaSource], opt: ConvertOptions) -> None:
    if run.swapper.stats.faces_swapped or opt.allow_empty:
        return
    what = sources[0].path.name if len(sources) == 1 else f"{len(sources)} images"
    if run.found == 0:
        raise InputError(f"no face was found in {what}; nothing was written (--allow-empty writes the "
                         "unchanged frames anyway)")
    raise InputError(f"{run.found} faces were found in {what} but none is the trained identity (distance above "
                     f"--threshold {opt.threshold}); nothing was written (--all-faces swaps every face)")
