"""How a trained model's swap fares by how far the target's head pose lies from the source's trained
poses (convert's --unseen-pose), and crops to look at.

    .venv/bin/python benchmarks/unseen_pose.py WORKDIR/model WORKDIR/faces_source \
        ../shared/data/video/identity_b.mp4 ../shared/data/video/two_people_720p.mp4 [--every 2] [--sheet DIR]

Per target video, the largest face of every `--every`th frame is swapped (b2a, no watermark) and put in
a bucket of pose distance (degrees from the drawn identity's nearest 1% of trained faces, face/pose.py).
Per bucket: the dlib identity distance of the swapped face to the source's centroid (and of the target's
own face, for scale), the share nearer the source, the landmark error (swapped against target, in
inter-ocular distances) and the face-box sharpness ratio. With --sheet, a PNG per video of eight faces
from the nearest pose to the farthest: target | swap | --unseen-pose fade.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

import facesmith
from facesmith.engine import BlendSettings, FrameEngine
from facesmith.engine.names import FAMILIAR_POSE, UNSEEN_POSE
from facesmith.evaluate.command import _source_centroid as source_centroid
from facesmith.evaluate.metrics import landmark_error
from facesmith.evaluate.quality import face_box, laplacian_variance
from facesmith.face import FaceReader
from facesmith.face.identity import FaceEmbedder
from facesmith.face.pose import head_pose
from facesmith.media.video import iter_frames
from facesmith.provenance import Marker

BUCKETS = ((0, 5), (5, FAMILIAR_POSE), (FAMILIAR_POSE, UNSEEN_POSE), (UNSEEN_POSE, 180))


def gray(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return cv2.cvtColor(image[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY)


def measure(model: object, video: Path, source: np.ndarray, embedder: FaceEmbedder, every: int,
            sheet: Path | None) -> None:
    engines = {mode: FrameEngine(model, direction="b2a", blend=BlendSettings(unseen_pose=mode),
                                 marker=Marker("5ca1ab1e0ddba11c", enabled=False)) for mode in ("swap", "fade")}
    poses = model.poses["a"]  # type: ignore[attr-defined]
    reader, check = FaceReader(), FaceReader(smooth=False)
    rows, crops = [], []
    for frame in iter_frames(video, every=every):
        faces = reader.find(frame.image)
        if not faces:
            continue
        face = max(faces, key=lambda f: np.ptp(f.landmarks[:, 0]))
        far = poses.distance(*head_pose(face.landmarks, frame.image.shape[1::-1])[:2])
        out = {mode: e.swap_frame(frame.image.copy(), [face]).image for mode, e in engines.items()}
        found = check.find(out["swap"])
        if not found:
            continue
        got = min(found, key=lambda f: np.linalg.norm(f.landmarks.mean(0) - face.landmarks.mean(0)))
        box = face_box(face.landmarks, frame.image.shape)
        rows.append((far, float(np.linalg.norm(embedder.embed(out["swap"], got.landmarks) - source)),
                     float(np.linalg.norm(embedder.embed(frame.image, face.landmarks) - source)),
                     landmark_error(face.landmarks, got.landmarks),
                     laplacian_variance(gray(out["swap"], box)) / max(1e-6, laplacian_variance(gray(frame.image, box)))))
        x0, y0, x1, y1 = box
        crops.append((far, frame.index, [cv2.resize(im[y0:y1, x0:x1], (160, 160)) for im in
                                         (frame.image, out["swap"], out["fade"])]))
    r = np.array(rows, float).reshape(-1, 5)
    print(f"{video.name}: {len(r)} faces; pose distance p50 {np.percentile(r[:, 0], 50):.1f}, "
          f"p90 {np.percentile(r[:, 0], 90):.1f}, max {r[:, 0].max():.1f} degrees")
    for lo, hi in BUCKETS:
        s = r[(r[:, 0] >= lo) & (r[:, 0] < hi)]
        if len(s):
            print(f"  {lo:g}-{hi:g} deg: {len(s):4d} faces  identity distance to the source {s[:, 1].mean():.3f} "
                  f"(the target's own {s[:, 2].mean():.3f}), nearer the source {np.mean(s[:, 1] < s[:, 2]):.2f}, "
                  f"landmark error {s[:, 3].mean():.3f}, sharpness ratio {s[:, 4].mean():.2f}")
    if sheet is not None and crops:
        crops.sort(key=lambda c: c[0])
        picked = [crops[i] for i in np.linspace(0, len(crops) - 1, min(8, len(crops))).round().astype(int)]
        tiles = []
        for far, index, images in picked:
            tile = np.hstack(images)
            cv2.putText(tile, f"frame {index}: {far:.0f} deg", (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 255), 1)
            tiles.append(tile)
        sheet.mkdir(parents=True, exist_ok=True)
        path = sheet / f"unseen_pose_{video.stem}.png"
        cv2.imwrite(str(path), np.vstack(tiles))
        print(f"  sheet: {path} (target | swap | --unseen-pose fade, nearest pose first)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("source_faceset", type=Path)
    ap.add_argument("videos", type=Path, nargs="+")
    ap.add_argument("--every", type=int, default=2)
    ap.add_argument("--sheet", type=Path)
    args = ap.parse_args()
    model = facesmith.load_model(args.model)
    if "a" not in model.poses:
        raise SystemExit(f"{args.model} records no trained poses (trained before they were recorded); retrain it")
    embedder = FaceEmbedder()
    source, _ = source_centroid(args.source_faceset, embedder)  # as `facesmith evaluate` takes it
    for video in args.videos:
        measure(model, video, source, embedder, args.every, args.sheet)


if __name__ == "__main__":
    main()
