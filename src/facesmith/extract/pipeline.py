"""`facesmith extract`: videos, images and folders in; a faceset folder out.

Decoding runs in a reader thread, face cutting and encoding in a small writer pool (both release the
GIL), tracking and landmarks on the main thread, so the two cores overlap. Every second the finished
frames are committed to the alignments store together with the tracker state, which is what makes a
killed run resume to exactly the faceset an uninterrupted run gives. Face files are written
atomically but without an fsync each; the filesystem is flushed once just before each commit.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import progress
from ..atomic import check_writable_dir, sync_filesystem
from ..errors import FacesmithError, InputError
from ..face.identity_gate import photo_gate
from ..face.reader import FaceReader
from ..face.tracker import Face
from ..faceset.store import AlignmentsStore, FrameRecord, SourceRecord, face_json
from ..guards import guard_output_folder, refuse_inside_folder_of
from ..media.images import read_image
from ..media.inputs import MediaSource, expand_inputs, file_sha256
from ..media.threads import read_ahead
from ..media.video import Frame, iter_frames, probe_video
from ..safepaths import unlink_inside
from .faces_out import face_name, face_prefix, make_face, parse_face_frame
from .options import ExtractOptions

COMMIT_SECONDS = 1.0


@dataclass
class ExtractSummary:
    output: str
    sources: int = 0
    sources_already_done: int = 0
    frames_read: int = 0
    faces_saved: int = 0
    frames_without_face: int = 0
    faces_in_faceset: int = 0
    seconds: float = 0.0
    frames_per_second: float = 0.0
    detector_runs: int = 0
    per_source: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _face_record(*args: Any) -> str:
    """make_face in a writer thread, with the store's JSON encoded there too (off the tracking thread).
    No fsync per face: commit() flushes the filesystem once before recording the faces as done."""
    return face_json(make_face(*args, durable=False))


class Extractor:
    def __init__(self, output_dir: Path, options: ExtractOptions):
        options.validate()
        self.out, self.opt = output_dir, options
        self.reader = FaceReader(options.detector, options.landmarker, smooth=options.smooth,
                                 redetect_every=options.redetect_every, rotations=options.rotations)
        self.ref_hashes = [file_sha256(p) for p in options.ref]
        self.identity = photo_gate(options.ref, options.threshold, self.reader) if options.ref else None
        self.suffix = "." + options.image_format
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="facesmith-write")

    def run_source(self, store: AlignmentsStore, src: MediaSource, record: SourceRecord,
                   bar: Any, summary: ExtractSummary) -> dict[str, Any]:
        prefix = face_prefix(src.path, record.sha256)
        self._remove_uncommitted(prefix, record.next_frame)
        tracker = self.reader.tracker(video=src.kind == "video")
        state = record.state or {}
        tracker.load(state.get("tracker"))
        if self.identity:
            self.identity.load(state.get("identity"))
        source_meta = {"path": str(src.path), "sha256": record.sha256, "kind": src.kind}
        pending: list[tuple[int, float, list[tuple[int, str, Future[str]]]]] = []
        last_commit = time.monotonic()
        frames_done = faces_done = 0

        def commit(next_frame: int, complete: bool) -> None:
            nonlocal last_commit
            records = [FrameRecord(f, t, [(i, n, fut.result()) for i, n, fut in faces]) for f, t, faces in pending]
            if any(r.faces for r in records):
                sync_filesystem(self.out)
            snapshot = {"tracker": tracker.state(), "identity": self.identity.state() if self.identity else None}
            store.commit_frames(record.id, records, next_frame, snapshot, complete)
            pending.clear()
            last_commit = time.monotonic()

        frames = self._frames(src, record.next_frame)
        next_frame = record.next_frame
        try:
            for fr in frames:
                faces = self._kept(fr, tracker.update(fr.image, fr.time))
                pending.append((fr.index, fr.time, self._submit(fr, faces, prefix, source_meta)))
                frames_done += 1
                faces_done += len(faces)
                summary.frames_read += 1
                summary.faces_saved += len(faces)
                summary.frames_without_face += not faces
                bar.update(1)
                next_frame = fr.index + 1
                if time.monotonic() - last_commit > COMMIT_SECONDS:
                    commit(next_frame, complete=False)
        except BaseException:
            wait([fut for _, _, jobs in pending for _, _, fut in jobs])  # no writer outlives a failure
            raise
        commit(next_frame, complete=True)
        summary.detector_runs += tracker.detector_runs
        return {"path": str(src.path), "kind": src.kind, "frames": frames_done, "faces": faces_done}

    def _kept(self, fr: Frame, faces: list[Face]) -> list[Face]:
        """The faces --min-size, --ref and --max-faces keep, left to right."""
        faces = [f for f in faces if max(f.box[2] - f.box[0], f.box[3] - f.box[1]) >= self.opt.min_size]
        if self.identity:
            faces = self.identity.keep(fr.image, faces)
        if self.opt.max_faces:
            faces = sorted(faces, key=lambda f: -(f.box[2] - f.box[0]))[: self.opt.max_faces]
            faces.sort(key=lambda f: f.box[0])
        return faces

    def _submit(self, fr: Frame, faces: list[Face], prefix: str,
                source_meta: dict[str, Any]) -> list[tuple[int, str, Future[str]]]:
        """Each face's crop, file and store record, made in the writer pool."""
        jobs = []
        for index, face in enumerate(faces):
            extra = {"face_index": index, "track": face.track_id, "score": round(face.score, 4),
                     "detector_score": round(face.detector_score, 4),
                     "detector": self.opt.detector, "landmarker": self.opt.landmarker}
            if self.identity:
                extra["identity_distance"] = self.identity.distance_of(face.track_id)
            name = face_name(prefix, fr.index, index, self.suffix)
            job = self.pool.submit(_face_record, fr.image, face.landmarks, self.opt.size, source_meta, fr.index,
                                   fr.time, extra, self.out / name, self.opt.quality)
            jobs.append((index, name, job))
        return jobs

    def _frames(self, src: MediaSource, first_index: int) -> Iterator[Frame]:
        if src.kind == "image":
            if first_index == 0:
                yield Frame(index=0, time=0.0, image=read_image(src.path))
            return
        yield from read_ahead(iter_frames(src.path, start=self.opt.start, end=self.opt.end,
                                         every=self.opt.every, first_index=first_index, threads=1))

    def _remove_uncommitted(self, prefix: str, next_frame: int) -> None:
        """Faces written after the last commit of a killed run: they will be made again, identically."""
        for path in self.out.glob(f"{prefix}_*"):
            frame = parse_face_frame(path.name, prefix)
            if frame is not None and frame >= next_frame:
                unlink_inside(self.out, path)
        for path in self.out.glob(f".{prefix}_*.part"):
            unlink_inside(self.out, path)


def _source_info(src: MediaSource) -> dict[str, Any]:
    if src.kind == "video":
        info = probe_video(src.path)
        return {"width": info.width, "height": info.height, "fps": info.fps, "frame_count": info.frame_count,
                "rotation": info.rotation, "duration": info.duration}
    from ..media.images import image_size
    from ..media.limits import check_pixels

    w, h = image_size(src.path)
    check_pixels((w, h), src.path)  # refused now, before the output folder is written
    return {"width": w, "height": h}


def _no_input_in_output(out: Path, arguments: dict[str, Any]) -> None:
    inputs = arguments.get("inputs")
    paths = [Path(inputs)] if isinstance(inputs, (str, Path)) else [Path(p) for p in inputs or []]
    refuse_inside_folder_of(out, [p for p in paths if p.is_file()], "faceset folder")


@guard_output_folder("faceset folder", folder="output_dir", inputs=("inputs",), nested=False,
                     extra_check=_no_input_in_output)
def extract(inputs: Sequence[str | Path] | str | Path, output_dir: str | Path, **options: Any) -> ExtractSummary:
    """Extract every face of `inputs` into the faceset folder `output_dir` (resumes if it exists)."""
    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    opt = ExtractOptions(**{k: (tuple(v) if k == "ref" else v) for k, v in options.items()})
    opt.validate()
    sources = expand_inputs(list(inputs))
    infos = [_source_info(s) for s in sources]  # every input is checked before anything is written
    out = check_writable_dir(output_dir)
    started = time.monotonic()
    summary = ExtractSummary(output=str(out))
    extractor = Extractor(out, opt)
    with AlignmentsStore.in_folder(out) as store:
        settings = opt.settings(extractor.ref_hashes)
        previous = store.get_meta("settings")
        if previous is not None and previous != settings:
            changed = sorted(k for k in settings if settings[k] != previous.get(k))
            raise InputError(
                f"{out} was extracted with other settings ({', '.join(changed)}); use a new output folder, "
                f"or re-cut its faces at another size with --from-faceset"
            )
        store.set_meta("settings", settings)
        hashes = [file_sha256(s.path) for s in sources]
        total = sum(_expected_frames(info, s, opt) for info, s in zip(infos, sources, strict=True))
        with progress.bar(total=total, desc="extract", unit="frame") as bar:
            for src, info, sha in zip(sources, infos, hashes, strict=True):
                record = store.source(sha) or store.add_source(sha, str(src.path.resolve()), src.kind, info)
                summary.sources += 1
                if record.complete:
                    summary.sources_already_done += 1
                    bar.update(_expected_frames(info, src, opt))
                    continue
                bar.update(min(record.next_frame // opt.every, _expected_frames(info, src, opt)))
                try:
                    summary.per_source.append(extractor.run_source(store, src, record, bar, summary))
                except FacesmithError as e:
                    if opt.keep_partial:
                        raise
                    _forget(store, out, record)
                    error = InputError(f"{e}; nothing was kept from it (--keep-partial keeps the readable part)")
                    error.exit_code = e.exit_code
                    raise error from None
        summary.faces_in_faceset = store.counts()["faces"]
    extractor.pool.shutdown()
    summary.seconds = round(time.monotonic() - started, 3)
    summary.frames_per_second = round(summary.frames_read / summary.seconds, 2) if summary.seconds else 0.0
    return summary


def _expected_frames(info: dict[str, Any], src: MediaSource, opt: ExtractOptions) -> int:
    if src.kind == "image":
        return 1
    duration = info.get("duration") or 0.0
    fps = info.get("fps") or 0.0
    start = opt.start or 0.0
    end = min(opt.end, duration) if opt.end is not None else duration
    return max(0, int(np.ceil((end - start) * fps / opt.every)))


def _forget(store: AlignmentsStore, out: Path, record: SourceRecord) -> None:
    """Nothing half-written: a source that failed part-way leaves no faces behind."""
    for name in store.forget_source(record.id):  # plain names only (store_check): never outside `out`
        unlink_inside(out, name)
    prefix = face_prefix(Path(record.path), record.sha256)
    for path in out.glob(f"{prefix}_*"):
        unlink_inside(out, path)
