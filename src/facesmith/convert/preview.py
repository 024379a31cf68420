"""`convert --preview N`: a before/after PNG sheet of N frames spread over the target, made with the
same model, mask, colour and sharpening settings, in seconds instead of a full convert.

Frames are taken one by one (no temporal smoothing, which needs neighbours); faces come from the
stored alignments when there are some, else from the detector on each frame alone.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from .. import progress
from ..engine.frames import FrameJob
from ..media.images import read_image
from ..media.inputs import MediaSource
from ..media.video import probe_video, read_frame_at
from ..media.writer import write_image_file
from ..spacing import evenly_spaced
from .faces import DetectedFaces, StoredFaces
from .output import OutputPlan

SHEET_WIDTH = 1600


def _samples(sources: list[MediaSource], hashes: list[str], n: int) -> list[tuple[MediaSource, str, int]]:
    if sources[0].kind == "video":
        count = probe_video(sources[0].path).frame_count
        picks = np.unique(np.linspace(0, count - 1, min(n, count) + 2).round().astype(int)[1:-1])
        if not len(picks):
            picks = np.array([0])
        return [(sources[0], hashes[0], int(i)) for i in picks]
    picks = evenly_spaced(len(sources), n)
    return [(sources[i], hashes[i], 0) for i in picks]


def write_preview(run: Any, sources: list[MediaSource], hashes: list[str], plan: OutputPlan, n: int,
                  fingerprint: str) -> dict[str, Any]:
    from .. import provenance

    rows = []
    cache: dict[str, Any] = {}
    with progress.bar(total=min(n, 10**9), desc="preview", unit="frame") as bar:
        for source, sha, index in _samples(sources, hashes, n):
            if sha not in cache:
                faces = run.faces_for(source, sha)
                # tracking needs consecutive frames: sampled frames are detected one by one
                cache[sha] = DetectedFaces(video=False, detector=run.opt.detector) \
                    if not isinstance(faces, StoredFaces) else faces
            image = read_frame_at(source.path, index) if source.kind == "video" else read_image(source.path)
            before = image.copy()
            if run.gate:
                run.gate.reset()
            job: FrameJob = run._job(index, 0.0, image, cache[sha], source.path.name)
            result = run.engine.swap_job(job, follows_previous=False)  # sampled frames are not in order
            label = f"{source.path.name} frame {index}: {result.swapped}/{job.found} faces swapped"
            row = side_by_side(before, result.image, SHEET_WIDTH)
            cv2.putText(row, label, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 4, cv2.LINE_AA)
            cv2.putText(row, label, (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2, cv2.LINE_AA)
            rows.append(row)
            run.frames += 1
            bar.update(1)
    sheet = np.vstack(rows)
    with plan.staging() as staging:
        write_image_file(staging.path, sheet, ".png")
        staging.finalize(lambda path: provenance.finalize_file(path, fingerprint, record=run.record))
    return {"preview_frames": len(rows), "sheet_size": [sheet.shape[1], sheet.shape[0]]}


def side_by_side(before: np.ndarray, after: np.ndarray, width: int) -> np.ndarray:
    """One preview row: before | after, scaled to `width` in total."""
    row = np.hstack([before, after])
    scale = width / row.shape[1]
    return cv2.resize(row, (width, max(1, round(row.shape[0] * scale))), interpolation=cv2.INTER_AREA)
