"""`facesmith convert TARGET -m MODEL -o OUT`: swap the faces of a video, a photo or a folder of photos.

    facesmith.convert("clip.mp4", "models/ab", "swapped.mp4", direction="b2a")

Per frame: faces (the alignments extract stored for TARGET, else detected on the fly) -> whose face
is it -> temporal smoothing (a few frames of delay) -> the frame engine (batched model, blend,
watermark; `engine.FrameEngine`) -> writer.

Threads: decoding; finding faces (here); the model; blending, watermarking and handing frames to the
encoder (the engine's two); encoding and muxing. They overlap because PyTorch, OpenCV and FFmpeg
release the GIL.

Whose face: with the trained faceset's own alignments, a face is the trained identity when its face
file is still in the faceset (so deleting a face file there keeps it out of training and convert
alike); faces found any other way are compared with the faceset by dlib descriptor, a few frames per
track. --all-faces swaps every face.

Output goes to a temporary file that is renamed onto OUT only when everything succeeded (output.py).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import progress
from ..devices import pick_device
from ..engine.engine import FrameEngine
from ..engine.frames import FrameJob
from ..engine.swapper import SwapStats, load_swap_model
from ..errors import InputError
from ..face.identity_gate import IdentityGate
from ..faceset.reference import faceset_gate
from ..media.images import read_image
from ..media.inputs import MediaSource, expand_inputs, file_sha256
from ..media.threads import read_ahead
from ..media.video import iter_frames, probe_video
from ..media.writer import VideoWriter, writer_summary
from ..models.checkpoint import trained_facesets
from ..models.occlusion import no_occlusion_network
from .faces import DetectedFaces, Smoother, StoredFaces, usable_alignments
from .options import ConvertOptions, ConvertSummary
from .output import OutputPlan, plan_output


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


class _Run:
    """One convert: the faces source per target file, the gate, the batches, the writer."""

    def __init__(self, opt: ConvertOptions, engine: FrameEngine, gate: IdentityGate | None,
                 candidates: list[Path], explicit: bool, reference: Path | None):
        self.opt, self.engine, self.gate = opt, engine, gate
        self.candidates, self.explicit = candidates, explicit
        self.reference = Path(os.path.realpath(reference)) if reference else None
        self.identity: set[str] = set()  # how identities were checked
        self.frames = self.found = 0
        self.setup_seconds = 0.0
        self.alignments_used: list[str] = []
        self.record: dict[str, Any] | None = None  # what the output's C2PA manifest records (output_record)

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
        frames = iter_frames(source.path, start=self.opt.start, end=self.opt.end, threads=1)
        for fr in read_ahead(frames, depth=32):
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
            kept = self.gate.keep_tracked(image, found)
            self.identity.add("face descriptors")
        self.found += len(found)
        return FrameJob(index, time_s, image, kept, len(found), name)

    def run(self, jobs: Iterator[FrameJob], write: Any, bar: Any) -> None:
        """Faces found here -> smoothing -> the engine's model and blend threads -> `write`, which
        adds the planned watermarks and hands the frame to the writer's thread."""
        smoother = Smoother(self.opt.smooth)

        def ready() -> Iterator[list[FrameJob]]:
            for job in jobs:
                yield smoother.push(job)
            yield smoother.flush()

        def done(job: FrameJob, marks: list[Any]) -> None:
            write(job, job.image, marks)
            self.frames += 1
            bar.update(1)
            bar.set_postfix_str(f"{self.engine.stats.faces_swapped} faces swapped", refresh=False)

        self.engine.swap_batches(ready(), done, self.opt.batch_size)


def convert(target: str | Path, model_dir: str | Path, output: str | Path, **options: Any) -> ConvertSummary:
    """Swap the faces of `target` with the model in `model_dir`; write `output`. Returns a ConvertSummary
    (options: the fields of ConvertOptions)."""
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


def _convert(target: str | Path, model_dir: str | Path, output: str | Path, opt: ConvertOptions) -> ConvertSummary:
    from .. import provenance

    started = time.monotonic()
    if opt.alignments and not Path(opt.alignments).is_dir():
        raise InputError(f"--alignments: no such faceset folder: {opt.alignments}")
    target = Path(target)
    sources = _target_sources(target)
    plan: OutputPlan = plan_output(target, sources, Path(output), opt.overwrite, opt.preview)
    device = pick_device(opt.device)
    model, config = load_swap_model(model_dir, device)
    if opt.occlusion and model.occlusion is None:
        raise InputError(no_occlusion_network(model_dir))
    facesets = trained_facesets(config, Path(model_dir))
    hashes = [file_sha256(s.path) for s in sources]
    direction = opt.direction
    if direction == "auto":
        direction = _auto_direction(facesets, hashes)
    fingerprint = provenance.fingerprint_of(model.weights_sha256)
    engine = FrameEngine(model, direction=direction, blend=opt.blend(), device=device, precision=opt.precision,
                         marker=provenance.Marker(fingerprint, enabled=opt.watermark))
    target_side, other = direction[0], direction[-1]
    candidates = [Path(opt.alignments)] if opt.alignments else [
        facesets[s] for s in (target_side, other) if s in facesets]
    gate = None
    # whose faces are swapped: the faceset the user points at, else the one the model learnt them from
    reference = Path(opt.alignments) if opt.alignments else facesets.get(target_side)
    if not opt.all_faces:
        try:
            gate = faceset_gate(reference, opt.threshold) if reference else None
        except ValueError:
            gate = None
        if gate is None:
            progress.warn("the faceset the model was trained on is not available to check identities; "
                          "every face found is swapped (pass --alignments FACESET or --all-faces)")
    run = _Run(opt, engine, gate, candidates, explicit=bool(opt.alignments), reference=reference)
    run.record = provenance.output_record(config, [(s.path.name, h) for s, h in zip(sources, hashes, strict=True)])
    run.setup_seconds = time.monotonic() - started

    if opt.preview:
        from .preview import write_preview

        summary = write_preview(run, sources, hashes, plan, opt.preview, fingerprint)
    else:
        summary = _convert_all(run, sources, hashes, plan, fingerprint, opt)
    stats = engine.stats
    elapsed = time.monotonic() - started
    _say_unseen_poses(stats, engine.blend.unseen_pose)
    return {
        "output": str(plan.path), "kind": plan.kind, "direction": direction, "frames": run.frames,
        "faces_found": run.found, "faces_swapped": stats.faces_swapped, "frames_with_swap": stats.frames_with_swap,
        "alignments": run.alignments_used, "identity_check": sorted(run.identity) or "off",
        "blend": dataclasses.asdict(engine.blend), "model_fingerprint": fingerprint, "watermark": opt.watermark,
        "seconds": round(elapsed, 2), "frames_per_second": round(run.frames / elapsed, 2) if elapsed else 0.0,
        "model_seconds": round(stats.model_seconds, 2), "blend_seconds": round(stats.blend_seconds, 2),
        "watermark_seconds": round(stats.mark_seconds, 2), "setup_seconds": round(run.setup_seconds, 2),
        "unseen_pose": {"mode": engine.blend.unseen_pose, "faces": stats.faces_at_unseen_pose,
                        "faded": stats.faces_faded, "left_alone": stats.faces_left_alone,
                        "farthest_degrees": round(stats.farthest_pose, 1)},
        **summary,
    }


def _auto_direction(facesets: dict[str, Path], hashes: list[str]) -> str:
    from ..faceset.store import AlignmentsStore

    for side, direction in (("b", "b2a"), ("a", "a2b")):
        db = facesets[side] / "alignments.db" if side in facesets else None
        if db is not None and db.is_file():
            with AlignmentsStore(db, create=False, readonly=True) as store:
                if any(store.source(h) for h in hashes):
                    return direction
    return "b2a"


def _convert_all(run: _Run, sources: list[MediaSource], hashes: list[str], plan: OutputPlan,
                 fingerprint: str, opt: ConvertOptions) -> dict[str, Any]:
    from .. import provenance
    from ..provenance.pixels import add_to_bgr

    info = probe_video(sources[0].path) if sources[0].kind == "video" else None
    total = _frames_in_window(info, opt) if info else len(sources)
    with plan.staging() as staging, progress.bar(total=total, desc="convert", unit="frame") as bar:
        if plan.kind == "video":
            writer: Any = VideoWriter(staging.path, sources[0].path, crf=opt.crf, preset=opt.preset,
                                      metadata=provenance.container_metadata(fingerprint),
                                      container_options=provenance.container_options(),
                                      threads=encoder_threads(run.engine.device.type, info.width * info.height if info else 0),
                                      start=opt.start, end=opt.end)
            # the marks go into the chroma planes of the encoded frame (through the writer's frame hook)
            chroma = provenance.pixels.ChromaMarks(writer.yuv_conversion())
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
        staging.finalize(lambda path: provenance.finalize_file(path, fingerprint, record=run.record))
    return writer_summary(writer)


def _frames_in_window(info: Any, opt: ConvertOptions) -> int:
    """About how many frames --start / --end leave (for the progress bar)."""
    if opt.start is None and opt.end is None:
        return info.frame_count
    begin = max(0.0, opt.start or 0.0)
    finish = min(info.duration or math.inf, opt.end if opt.end is not None else math.inf)
    return max(0, min(info.frame_count, math.ceil((finish - begin) * info.fps))) if finish < math.inf \
        else max(0, info.frame_count - math.floor(begin * info.fps))


def encoder_threads(device: str, pixels: int) -> int:
    """x264's thread count (0: x264's own, 1.5 frame-parallel threads a core). Measured on 2 cores
    with the model on the CPU, where the model, blending and decoding already keep both cores busy:
    up to 1280x720, one x264 thread converts faster than x264's default (identity_b, 480p: 5-7% more
    frames/s at ~0.8 ms less CPU a frame; two_people_720p: within the noise); at 1080p the default is
    ~8% faster (street_crowd_1080p: frame threads pay off on tall frames). Elsewhere, x264 chooses."""
    cores = os.cpu_count() or 2
    return 1 if device == "cpu" and cores <= 2 and pixels <= 1280 * 720 else 0


def _say_unseen_poses(stats: SwapStats, mode: str) -> None:
    """One line on the faces at head poses the drawn identity was not trained at, and what became of them."""
    n = stats.faces_at_unseen_pose
    if not n:
        return
    far = f"{n} faces at head poses the model never saw the source at (up to {stats.farthest_pose:.0f} degrees away)"
    if mode == "swap":
        progress.log(f"{far}: swapped anyway (--unseen-pose fade or keep leaves them closer to the target's own face)")
    else:
        progress.log(f"{far}: {stats.faces_faded} faded towards the target's own face, {stats.faces_left_alone} "
                     f"left as they were (--unseen-pose {mode})")


def _check_not_empty(run: _Run, sources: list[MediaSource], opt: ConvertOptions) -> None:
    stats = run.engine.stats
    if stats.faces_swapped or opt.allow_empty:
        return
    what = sources[0].path.name if len(sources) == 1 else f"{len(sources)} images"
    if run.found == 0:
        raise InputError(f"no face was found in {what}; nothing was written (--allow-empty writes the "
                         "unchanged frames anyway)")
    if stats.faces_left_alone:
        raise InputError(f"every face of the trained identity in {what} is at a head pose the model was not "
                         f"trained at, so --unseen-pose {opt.unseen_pose} left them all; nothing was written "
                         "(--unseen-pose swap swaps them anyway)")
    raise InputError(f"{run.found} faces were found in {what} but none is the trained identity (distance above "
                     f"--threshold {opt.threshold}); nothing was written (--all-faces swaps every face)")
