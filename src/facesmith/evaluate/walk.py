"""What `evaluate` gathers while it walks TARGET and SWAPPED in lockstep, and the summaries made of it.

`FrameWalk.add` takes one pair of frames and their faces and writes that frame's row (faces, landmark
error, pose, background PSNR, face quality); along the way it keeps the runs of the largest face over
consecutive frames (for jitter and flicker) and the identity descriptors of the sampled frames.
`identity_summary` and `temporal_summary` turn those into the summary's groups (and add their
per-frame figures to the rows, for the report's plots).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from . import metrics as m
from .quality import FaceQuality

if TYPE_CHECKING:
    from ..media.video import Frame


class FrameWalk:
    def __init__(self, size: tuple[int, int], every: int, sampled: set[int], crop_at: set[int], embedder: Any):
        self.size, self.every = size, every
        self.sampled, self.crop_at = sampled, crop_at  # frames whose identity is measured / face cropped
        self.embedder = embedder
        self.rows: list[dict[str, Any]] = []
        self.run: m.TemporalTrack | None = None  # the largest face's current run
        self.finished: list[m.TemporalTrack] = []
        self.embeds: list[tuple[int, np.ndarray, np.ndarray]] = []  # (row, target descriptor, swapped descriptor)
        self.bg_sse, self.bg_n = 0.0, 0
        self.face_quality = FaceQuality()

    def add(self, ft: Frame, fs: Frame, faces_t: list[np.ndarray], faces_s: list[np.ndarray]) -> None:
        """One frame of TARGET (`ft`) and SWAPPED (`fs`) with their faces' 68 landmarks."""
        pairs = m.match_faces(faces_t, faces_s)
        row: dict[str, Any] = {"index": ft.index, "time": round(ft.time, 4), "faces_target": len(faces_t),
                               "faces_swapped": len(faces_s), "faces_matched": len(pairs)}
        if pairs:
            errs = [m.landmark_error(faces_t[i], faces_s[j]) for i, j in pairs]
            poses = np.array([m.pose_difference(faces_t[i], faces_s[j], self.size) for i, j in pairs])
            yaw, pitch, roll = poses.mean(0)
            row.update(landmark_error=round(float(np.mean(errs)), 5), yaw_diff=round(float(yaw), 3),
                       pitch_diff=round(float(pitch), 3), roll_diff=round(float(roll), 3))
        keep = ~m.faces_mask(faces_t + faces_s, ft.image.shape[:2])
        sse, n = m.masked_mse(ft.image, fs.image, keep)
        self.bg_sse, self.bg_n = self.bg_sse + sse, self.bg_n + n
        row["background_psnr"] = round(m.psnr(sse / n if n else 0.0), 3)
        if pairs:
            i, j = pairs[0]
            self._follow(ft, fs, faces_t[i], faces_s[j], row)
        self.rows.append(row)

    def _follow(self, ft: Frame, fs: Frame, face_t: np.ndarray, face_s: np.ndarray, row: dict[str, Any]) -> None:
        """The largest matched face: its run continues while its box keeps overlapping from frame to frame."""
        run = self.run
        if run is None or run.last_index != ft.index - self.every or m._iou(
                m._box(run.target[-1]), m._box(face_t)) < m.MATCH_IOU:
            if run is not None:
                self.finished.append(run)
            run = self.run = m.TemporalTrack()
        gray_t = cv2.cvtColor(ft.image, cv2.COLOR_BGR2GRAY)
        gray_s = cv2.cvtColor(fs.image, cv2.COLOR_BGR2GRAY)
        run.target.append(face_t)
        run.swapped.append(face_s)
        run.luma_target.append(m.region_luma(gray_t, face_t))
        run.luma_swapped.append(m.region_luma(gray_s, face_t))  # the same region in both
        run.last_index = ft.index
        self.face_quality.add(ft.image, fs.image, face_t, face_s, row, ft.index in self.crop_at)
        if ft.index in self.sampled:
            self.embeds.append((len(self.rows), self.embedder.embed(ft.image, face_t),
                                self.embedder.embed(fs.image, face_s)))

    def close(self) -> None:
        if self.run is not None:
            self.finished.append(self.run)
            self.run = None

    @property
    def background_psnr(self) -> float:
        return round(m.psnr(self.bg_sse / self.bg_n if self.bg_n else 0.0), 3)


def identity_summary(walk: FrameWalk, source_centroid: np.ndarray, source_faces: int) -> dict[str, Any]:
    """Is each measured swapped face nearer SOURCE's centroid or TARGET's own (on the same frames)?"""
    from ..face.identity import face_distance

    rows, embeds = walk.rows, walk.embeds
    identity: dict[str, Any] = {"frames_measured": len(embeds), "source_faces": source_faces}
    if not embeds:
        identity.update(source_nearer_share=None, nearer=None)
        return identity
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
    return identity


def temporal_summary(walk: FrameWalk) -> dict[str, Any]:
    """Landmark jitter and luminance flicker of the face runs, target against swapped."""
    from ..face.smoothing import landmark_jitter

    finished, every = walk.finished, walk.every
    runs_t = [np.array(r.target) for r in finished]
    runs_s = [np.array(r.swapped) for r in finished]
    by_index = {row["index"]: row for row in walk.rows}
    for r, pts_t, pts_s in zip(finished, runs_t, runs_s, strict=True):  # per-frame series for the plots
        start = r.last_index - every * (len(pts_t) - 1)
        for k, (jt, js) in enumerate(zip(m.jitter_series(pts_t), m.jitter_series(pts_s), strict=True)):
            if np.isfinite(jt):
                by_index[start + k * every].update(jitter_target=round(float(jt), 5),
                                                   jitter_swapped=round(float(js), 5))
    weights = [max(len(r.luma_target) - 2, 0) for r in finished]
    flicker_t = _weighted([m.flicker(r.luma_target) for r in finished], weights)
    flicker_s = _weighted([m.flicker(r.luma_swapped) for r in finished], weights)
    return {
        "landmark_jitter_target": round(landmark_jitter(runs_t), 5),
        "landmark_jitter_swapped": round(landmark_jitter(runs_s), 5),
        "flicker_target": flicker_t, "flicker_swapped": flicker_s,
        "flicker_ratio": round(flicker_s / flicker_t, 4) if flicker_t and flicker_s is not None else None,
        "frames_in_runs": int(sum(len(r.target) for r in finished)), "runs": len(finished),
    }


def _weighted(values: list[float], weights: list[int]) -> float | None:
    """The weighted mean of the finite values with a weight, or None."""
    ok = [(x, w) for x, w in zip(values, weights, strict=True) if w and np.isfinite(x)]
    return round(float(np.average([x for x, _ in ok], weights=[w for _, w in ok])), 4) if ok else None


def expression_pose_summary(matched: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: m.summarize([r[key] for r in matched])
            for key in ("landmark_error", "yaw_diff", "pitch_diff", "roll_diff")}
