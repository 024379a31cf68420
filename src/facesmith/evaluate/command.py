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
from . import metrics as m

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
    p.add_argument("--frames", type=int, default=30, metavar="N",
                   help="evenly spaced frames whose identity is measured (~0.2 s each; default 30)")
    p.add_argument("--every", type=int, default=1, metavar="N", help="evaluate every Nth frame (default 1)")
    p.add_argument("--report", metavar="PATH", help="HTML report (default SWAPPED.evaluate.html)")
    p.add_argument("--no-report", dest="write_report", action="store_false", help="write no HTML report")
    p.add_argument("--overwrite", action="store_true", help="replace the report if it exists")
    p.add_argument("--crops", metavar="DIR", help="also write the target|swapped face crops (100%%) as PNGs in DIR")
    return p


def run(args: argparse.Namespace) -> dict[str, Any]:
    return evaluate(args.target, args.swapped, args.source, frames=args.frames, every=args.every,
                    report=args.report, write_report=args.write_report, crops=args.crops, overwrite=args.overwrite)


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


def _spread(n: int, k: int) -> np.ndarray:
    """Up to `k` evenly spaced indices into `n` items, first and last included."""
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int))


def _source_centroid(folder: Path, embedder: Any) -> tuple[np.ndarray, int]:
    from ..faceset import list_faces, load_face

    if not folder.is_dir():
        raise InputError(f"{folder}: not a faceset folder (make one with `facesmith extract`)")
    files = list_faces(folder)
    if not files:
        raise InputError(f"{folder}: no face files in this faceset")
    picks = [files[i] for i in _spread(len(files), SOURCE_FACES)]
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


def evaluate(target: Any, swapped: Any, source: Any, *, frames: int = 30, every: int = 1,
             report: Any = None, write_report: bool = True, crops: Any = None,
             overwrite: bool = False) -> dict[str, Any]:
    """Measure SWAPPED against TARGET and SOURCE's identity; returns the summary (with per-frame rows)."""
    from .. import progress
    from ..face.identity import FaceEmbedder, face_distance
    from ..face.reader import FaceReader
    from ..face.smoothing import landmark_jitter
    from ..media.video import iter_frames
    from ..provenance import verify
    from .quality import CROPS, FaceQuality

    target, swapped, source = Path(target), Path(swapped), Path(source)
    if frames < 1 or every < 1:
        raise InputError("--frames and --every must be at least 1")
    info, _ = _check_pair(target, swapped)
    report_path = Path(report) if report else swapped.with_name(swapped.name + ".evaluate.html")
    inputs = [("TARGET", target), ("SWAPPED", swapped), ("SOURCE_FACESET", source)]
    if write_report:
        _check_report(report_path, inputs, overwrite)
    if crops:
        from ..guards import refuse_overlap

        refuse_overlap(Path(crops), inputs, "crops folder")  # PNGs in a faceset would pass for faces
    embedder = FaceEmbedder()
    source_centroid, source_faces = _source_centroid(source, embedder)
    wanted = np.arange(0, info.frame_count, every)
    sampled = set(wanted[_spread(len(wanted), frames)].tolist())
    crop_at = set(wanted[_spread(len(wanted), CROPS + 2)[1:-1]].tolist())  # inner frames: faces settled
    face_quality = FaceQuality()
    size = (info.width, info.height)

    reader = FaceReader(smooth=False)  # as extract finds faces, unsmoothed: jitter is measured
    track_t, track_s = reader.tracker(), reader.tracker()
    rows: list[dict[str, Any]] = []
    runs: dict[int, m.TemporalTrack] = {}
    finished: list[m.TemporalTrack] = []
    embeds: list[tuple[int, np.ndarray, np.ndarray]] = []  # (row, target descriptor, swapped descriptor)
    bg_sse, bg_n = 0.0, 0
    bar = progress.bar(total=len(wanted), desc="evaluate", unit="frame")
    for ft, fs in zip(iter_frames(target, every=every), iter_frames(swapped, every=every), strict=False):
        faces_t = [f.landmarks for f in track_t.update(ft.image, ft.time)]
        faces_s = [f.landmarks for f in track_s.update(fs.image, fs.time)]
        pairs = m.match_faces(faces_t, faces_s)
        row: dict[str, Any] = {"index": ft.index, "time": round(ft.time, 4), "faces_target": len(faces_t),
                               "faces_swapped": len(faces_s), "faces_matched": len(pairs)}
        if pairs:
            errs = [m.landmark_error(faces_t[i], faces_s[j]) for i, j in pairs]
            poses = np.array([m.pose_difference(faces_t[i], faces_s[j], size) for i, j in pairs])
            yaw, pitch, roll = poses.mean(0)
            row.update(landmark_error=round(float(np.mean(errs)), 5), yaw_diff=round(float(yaw), 3),
                       pitch_diff=round(float(pitch), 3), roll_diff=round(float(roll), 3))
        keep = ~m.faces_mask(faces_t + faces_s, ft.image.shape[:2])
        sse, n = m.masked_mse(ft.image, fs.image, keep)
        bg_sse, bg_n = bg_sse + sse, bg_n + n
        row["background_psnr"] = round(m.psnr(sse / n if n else 0.0), 3)
        # temporal runs: the largest face, continued while its box keeps overlapping from frame to frame
        if pairs:
            i, j = pairs[0]
            run = runs.get(0)
            if run is None or run.last_index != ft.index - every or m._iou(
                    m._box(run.target[-1]), m._box(faces_t[i])) < m.MATCH_IOU:
                if run is not None:
                    finished.append(run)
                run = runs[0] = m.TemporalTrack()
            gray_t = cv2.cvtColor(ft.image, cv2.COLOR_BGR2GRAY)
            gray_s = cv2.cvtColor(fs.image, cv2.COLOR_BGR2GRAY)
            run.target.append(faces_t[i])
            run.swapped.append(faces_s[j])
            run.luma_target.append(m.region_luma(gray_t, faces_t[i]))
            run.luma_swapped.append(m.region_luma(gray_s, faces_t[i]))  # the same region in both
            run.last_index = ft.index
            face_quality.add(ft.image, fs.image, faces_t[i], faces_s[j], row, ft.index in crop_at)
            if ft.index in sampled:
                embeds.append((len(rows), embedder.embed(ft.image, faces_t[i]),
                               embedder.embed(fs.image, faces_s[j])))
        rows.append(row)
        bar.update(1)
    bar.close()
    finished += runs.values()
    if not rows:
        raise InputError(f"{target}: no frames could be read")

    identity: dict[str, Any] = {"frames_measured": len(embeds), "source_faces": source_faces}
    if embeds:
        target_centroid = np.mean([e[1] for e in embeds], axis=0)
        nearer = []
        for r, _, desc in embeds:
            d_src, d_tgt = face_distance(desc, source_centroid), face_distance(desc, target_centroid)
            rows[r].update(source_distance=round(d_src, 4), target_distance=round(d_tgt, 4))
            nearer.append(d_src < d_tgt)
        share = float(np.mean(nearer))
        identity.update(
            source_distance=m.summarize([rows[r]["source_distance"] for r, _, _ in embeds]),
            target_distance=m.summarize([rows[r]["target_distance"] for r, _, _ in embeds]),
            source_nearer_share=round(share, 4), nearer="source" if share > 0.5 else "target")
    else:
        identity.update(source_nearer_share=None, nearer=None)

    runs_t = [np.array(r.target) for r in finished]
    runs_s = [np.array(r.swapped) for r in finished]
    by_index = {row["index"]: row for row in rows}
    for r, pts_t, pts_s in zip(finished, runs_t, runs_s, strict=True):  # per-frame series for the plots
        start = r.last_index - every * (len(pts_t) - 1)
        for k, (jt, js) in enumerate(zip(m.jitter_series(pts_t), m.jitter_series(pts_s), strict=True)):
            if np.isfinite(jt):
                by_index[start + k * every].update(jitter_target=round(float(jt), 5),
                                                   jitter_swapped=round(float(js), 5))
    flick_t = [m.flicker(r.luma_target) for r in finished]
    flick_s = [m.flicker(r.luma_swapped) for r in finished]
    weights = [max(len(r.luma_target) - 2, 0) for r in finished]

    def weighted(v: list[float]) -> float | None:
        ok = [(x, w) for x, w in zip(v, weights, strict=True) if w and np.isfinite(x)]
        return round(float(np.average([x for x, _ in ok], weights=[w for _, w in ok])), 4) if ok else None

    ft_, fs_ = weighted(flick_t), weighted(flick_s)
    temporal = {
        "landmark_jitter_target": round(landmark_jitter(runs_t), 5),
        "landmark_jitter_swapped": round(landmark_jitter(runs_s), 5),
        "flicker_target": ft_, "flicker_swapped": fs_,
        "flicker_ratio": round(fs_ / ft_, 4) if ft_ and fs_ is not None else None,
        "frames_in_runs": int(sum(len(r.target) for r in finished)), "runs": len(finished),
    }
    matched = [r for r in rows if r["faces_matched"]]
    mark = verify([swapped])[0]
    face = face_quality.summary(rows)
    summary: dict[str, Any] = {
        "target": str(target), "swapped": str(swapped), "source": str(source),
        "frames_evaluated": len(rows), "frames_with_faces": len(matched),
        "identity_source_nearer_share": identity["source_nearer_share"],
        "identity_nearer": identity["nearer"],
        "landmark_error": m.summarize([r["landmark_error"] for r in matched])["mean"],
        "sharpness_ratio": face["sharpness_ratio"], "mouth_correlation": face["mouth_correlation"],
        "eye_correlation": face["eye_correlation"], "flicker_ratio": temporal["flicker_ratio"],
        "background_psnr": round(m.psnr(bg_sse / bg_n if bg_n else 0.0), 3),
        "marked": mark["marked"],
        "identity": identity,
        "expression_pose": {
            "landmark_error": m.summarize([r["landmark_error"] for r in matched]),
            "yaw_diff": m.summarize([r["yaw_diff"] for r in matched]),
            "pitch_diff": m.summarize([r["pitch_diff"] for r in matched]),
            "roll_diff": m.summarize([r["roll_diff"] for r in matched]),
        },
        "face": face,
        "temporal": temporal,
        "background": {"psnr": round(m.psnr(bg_sse / bg_n if bg_n else 0.0), 3),
                       "per_frame": m.summarize([r["background_psnr"] for r in rows]),
                       "psnr_identical": m.PSNR_IDENTICAL, "face_margin": m.MASK_MARGIN},
        "provenance": {"marked": mark["marked"], "watermark": bool(mark["watermark"].get("found")),
                       "metadata": bool(mark["metadata"]), "c2pa": bool(mark["c2pa"].get("present"))},
        "frames": rows,
    }
    if crops:
        summary["crops"] = _write_crops(Path(crops), face_quality.crops)
    if write_report:
        from ..atomic import remove_stale_parts, write_bytes
        from .report import render

        try:
            remove_stale_parts(report_path)
            write_bytes(report_path, render(summary, face_quality.crops).encode())
        except OSError as e:
            raise OutputError(f"cannot write the report {report_path}: {e.strerror or e}") from None
        summary["report"] = str(report_path)
    return summary


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
