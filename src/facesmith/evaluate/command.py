"""`facesmith evaluate`: how good is a swap? Identity, expression and pose, stability, background, marks.

TARGET (the original video) and SWAPPED (facesmith's output for it) are decoded in lockstep; faces are
found in both with the extract tracker (BlazeFace + face mesh, unsmoothed) and paired by box overlap.
Identity uses dlib's 128-D descriptors on `--frames` evenly spaced frames: each swapped face is compared
with the centroid of SOURCE_FACESET (the identity put in) and with the centroid of TARGET's own faces
on the same frames (the identity taken out).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InputError, OutputError
from ..options import add_options, options_of
from ..spacing import evenly_spaced
from . import metrics as m
from .options import EvaluateOptions, EvaluateSummary
from .walk import FrameWalk, expression_pose_summary, identity_summary, temporal_summary

SOURCE_FACES = 30  # faces of SOURCE_FACESET averaged into its centroid


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "evaluate", help="measure a swap: identity, expression/pose kept, stability, background, marks",
        description="Compare SWAPPED (a converted video) with TARGET (the video it was made from) frame by "
                    "frame, and its faces with SOURCE_FACESET's identity. Prints a summary (--json: with "
                    "every frame) and writes a self-contained HTML report with plots.")
    p.add_argument("--target", required=True, metavar="TARGET", help="the original video")
    p.add_argument("--swapped", required=True, metavar="SWAPPED", help="the swapped video made from TARGET")
    p.add_argument("--source", required=True, metavar="SOURCE_FACESET",
                   help="faceset folder of the identity swapped in (from `facesmith extract`)")
    add_options(p, EvaluateOptions)
    return p


def run(args: argparse.Namespace) -> EvaluateSummary:
    return evaluate(args.target, args.swapped, args.source, **options_of(args, EvaluateOptions))


def _check_report(path: Path, inputs: list[tuple[str, Path]], overwrite: bool) -> None:
    """Refuse, before any work, a report that would land on an input or cannot be written."""
    from ..atomic import check_writable_dir
    from ..guards import refuse_overlap

    refuse_overlap(path, inputs, "report")
    if path.is_dir():
        raise OutputError(f"the report {path} is a folder; give a file name")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} already exists; pass --overwrite to replace it (or --report PATH)")
    if not path.parent.is_dir():
        raise OutputError(f"the folder {path.parent} does not exist; create it first or choose another --report")
    check_writable_dir(path.parent, create=False)


def _source_centroid(folder: Path, embedder: Any) -> tuple[np.ndarray, int]:
    from ..faceset import load_face
    from ..faceset.reference import spread_faces

    if not folder.is_dir():
        raise InputError(f"{folder}: not a faceset folder (make one with `facesmith extract`)")
    picks = spread_faces(folder, SOURCE_FACES)
    if not picks:
        raise InputError(f"{folder}: no face files in this faceset")
    vectors = []
    for path in picks:
        face = load_face(path)
        vectors.append(embedder.embed(face.image, face.landmarks))
    return np.mean(vectors, axis=0), len(vectors)


def _check_pair(target: Path, swapped: Path) -> tuple[Any, Any]:
    from ..media.video import probe_video

    infos = []
    for label, path in (("TARGET", target), ("SWAPPED", swapped)):
        if path.is_dir():
            raise InputError(f"{path}: {label} is a folder; give the video file")
        if not path.is_file():
            raise InputError(f"{path}: {label} not found")
        try:
            infos.append(probe_video(path))
        except InputError:
            raise
        except Exception as e:  # not a video at all
            raise InputError(f"{path}: {label} is not a readable video ({e})") from None
    a, b = infos
    if (a.width, a.height) != (b.width, b.height):
        raise InputError(f"{swapped}: {b.width}x{b.height}, but TARGET is {a.width}x{a.height}; "
                         "SWAPPED must be converted from TARGET")
    if a.frame_count != b.frame_count:
        raise InputError(f"{swapped}: {b.frame_count} frames, but TARGET has {a.frame_count}; "
                         "SWAPPED must be converted from TARGET")
    return a, b


def evaluate(target: str | Path, swapped: str | Path, source: str | Path, **options: Any) -> EvaluateSummary:
    """Measure SWAPPED against TARGET and SOURCE's identity; returns the summary (with per-frame rows).
    `options`: the fields of `EvaluateOptions` (evaluate/options.py), the command's flags."""
    from ..face.identity import FaceEmbedder

    target, swapped, source = Path(target), Path(swapped), Path(source)
    opt = EvaluateOptions(**options)
    opt.validate()
    info, _ = _check_pair(target, swapped)
    report_path = Path(opt.report) if opt.report else swapped.with_name(swapped.name + ".evaluate.html")
    _check_outputs(opt, report_path, [("TARGET", target), ("SWAPPED", swapped), ("SOURCE_FACESET", source)])
    embedder = FaceEmbedder()
    source_centroid, source_faces = _source_centroid(source, embedder)
    walk = _walk(target, swapped, info, opt, embedder)
    summary = _summary(walk, (target, swapped, source), identity_summary(walk, source_centroid, source_faces))
    if opt.crops:
        summary["crops"] = _write_crops(Path(opt.crops), walk.face_quality.crops)
    if opt.write_report:
        _write_report(report_path, summary, walk)
        summary["report"] = str(report_path)
    return summary


def _check_outputs(opt: EvaluateOptions, report_path: Path, inputs: list[tuple[str, Path]]) -> None:
    if opt.write_report:
        _check_report(report_path, inputs, opt.overwrite)
    if opt.crops:
        from ..atomic import check_can_create
        from ..guards import refuse_overlap

        refuse_overlap(Path(opt.crops), inputs, "crops folder")  # PNGs in a faceset would pass for faces
        check_can_create(opt.crops)  # not after minutes of work


def _walk(target: Path, swapped: Path, info: Any, opt: EvaluateOptions, embedder: Any) -> FrameWalk:
    """Decode both videos in lockstep, find the faces of each frame and measure them."""
    from .. import progress
    from ..face.reader import FaceReader
    from ..media.video import iter_frames
    from .quality import CROPS

    wanted = np.arange(0, info.frame_count, opt.every)
    sampled = set(wanted[evenly_spaced(len(wanted), opt.frames)].tolist())
    crop_at = set(wanted[evenly_spaced(len(wanted), CROPS + 2)[1:-1]].tolist())  # inner frames: faces settled
    walk = FrameWalk((info.width, info.height), opt.every, sampled, crop_at, embedder)
    reader = FaceReader(smooth=False)  # as extract finds faces, unsmoothed: jitter is measured
    track_t, track_s = reader.tracker(), reader.tracker()
    bar = progress.bar(total=len(wanted), desc="evaluate", unit="frame")
    frames_t, frames_s = iter_frames(target, every=opt.every), iter_frames(swapped, every=opt.every)
    for ft, fs in zip(frames_t, frames_s, strict=False):
        walk.add(ft, fs, [f.landmarks for f in track_t.update(ft.image, ft.time)],
                 [f.landmarks for f in track_s.update(fs.image, fs.time)])
        bar.update(1)
    bar.close()
    walk.close()
    if not walk.rows:
        raise InputError(f"{target}: no frames could be read")
    return walk


def _summary(walk: FrameWalk, paths: tuple[Path, Path, Path], identity: dict[str, Any]) -> EvaluateSummary:
    from ..provenance import verify

    target, swapped, source = paths
    rows = walk.rows
    temporal = temporal_summary(walk)
    matched = [r for r in rows if r["faces_matched"]]
    mark = verify([swapped])[0]
    face = walk.face_quality.summary(rows)
    expression_pose = expression_pose_summary(matched)
    return {
        "target": str(target), "swapped": str(swapped), "source": str(source),
        "frames_evaluated": len(rows), "frames_with_faces": len(matched),
        "identity_source_nearer_share": identity["source_nearer_share"],
        "identity_nearer": identity["nearer"],
        "landmark_error": expression_pose["landmark_error"]["mean"],
        "sharpness_ratio": face["sharpness_ratio"], "mouth_correlation": face["mouth_correlation"],
        "eye_correlation": face["eye_correlation"], "flicker_ratio": temporal["flicker_ratio"],
        "background_psnr": walk.background_psnr,
        "marked": mark["marked"],
        "identity": identity,
        "expression_pose": expression_pose,
        "face": face,
        "temporal": temporal,
        "background": {"psnr": walk.background_psnr,
                       "per_frame": m.summarize([r["background_psnr"] for r in rows]),
                       "psnr_identical": m.PSNR_IDENTICAL, "face_margin": m.MASK_MARGIN},
        "provenance": {"marked": mark["marked"], "watermark": bool(mark["watermark"].get("found")),
                       "metadata": bool(mark["metadata"]), "c2pa": bool(mark["c2pa"].get("present"))},
        "frames": rows,
    }


def _write_report(path: Path, summary: EvaluateSummary, walk: FrameWalk) -> None:
    from ..atomic import remove_stale_parts, write_bytes
    from .report import render

    try:
        remove_stale_parts(path)
        write_bytes(path, render(summary, walk.face_quality.crops).encode())
    except OSError as e:
        raise OutputError(f"cannot write the report {path}: {e.strerror or e}") from None


def _write_crops(folder: Path, crops: list[tuple[int, np.ndarray]]) -> list[str]:
    from ..atomic import check_writable_dir, write_bytes

    check_writable_dir(folder)
    paths = []
    for index, image in crops:
        ok, png = cv2.imencode(".png", image)
        if ok:
            path = folder / f"frame{index:06d}_target_swapped.png"
            write_bytes(path, png.tobytes())
            paths.append(str(path))
    return paths
