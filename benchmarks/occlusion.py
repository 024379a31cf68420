"""What `--occlusion` finds and what it costs.

    .venv/bin/python benchmarks/occlusion.py [--rounds 3] [--sheet DIR]

1. Held-out quality: IoU of the covered region with a pasted occluder inside the face hull, per
   occluder shape, on portrait_720x1280.mp4 (never trained on), and the share of clean faces read as
   covered on occlusion_pen.mp4 and portrait (glasses, hair, open mouths).
2. Cost: the network's ms per face (batches of 16, 1 and 2 threads), against the default swap
   model's (liae 64, untrained weights: the cost does not depend on them) in the same run.
3. Convert: identity_b with an untrained lite model (benchmarks/convert.py's), with and without `--occlusion`, interleaved, best of
   `--rounds`: frames/s and their ratio.
With `--sheet DIR`: a PNG of held-out faces (the face | what the network marks, red) to look at.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

import facesmith
from facesmith.face import FaceReader
from facesmith.face.occluders import score_occluders
from facesmith.face.occlusion import covered, face_view, load_occlusion_net
from facesmith.face.occlusion import covered_crops as predict
from facesmith.media.video import iter_frames
from facesmith.models import create_model

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"


def views(video: str, every: int, limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    reader = FaceReader()
    return [face_view(frame.image, face) for frame, _ in zip(iter_frames(VIDEOS / video, every=every), range(limit),
                                                             strict=False) for face in reader.find(frame.image)]


def quality(sheet: Path | None) -> None:
    tex = [f.image for f, _ in zip(iter_frames(VIDEOS / "street_crowd_1080p.mp4", every=20), range(6), strict=False)]
    faces = views("portrait_720x1280.mp4", every=6, limit=60)
    ious, kept = score_occluders(faces, tex, predict, n=400, seed=11, keep=24)
    tiles = [np.hstack([image, np.where((p > 0.5)[..., None], (image * 0.5 + (0, 0, 127)).astype(np.uint8), image)])
             for image, p in kept]
    print("held-out IoU inside the face (portrait_720x1280, 400 pasted occluders):")
    for k, v in ious.items():
        print(f"  {k:8s} {np.mean(v):.3f}  (n={len(v)})")
    print(f"  all      {np.mean([x for v in ious.values() for x in v]):.3f}")
    for video in ("occlusion_pen.mp4", "portrait_720x1280.mp4", "identity_b.mp4"):
        clean = views(video, every=3, limit=200)
        p = predict([c for c, _ in clean])
        share = np.array([(pi[h] > 0.5).mean() for pi, (_, h) in zip(p, clean, strict=True)])
        print(f"clean {video}: {len(clean)} faces, share read as covered mean {share.mean():.4f}, "
              f"p95 {np.percentile(share, 95):.4f}, max {share.max():.4f}")
        if sheet is not None:
            worst = np.argsort(share)[-8:]
            tiles += [np.hstack([clean[j][0], np.where((p[j] > 0.5)[..., None],
                                                       (clean[j][0] * 0.5 + (0, 0, 127)).astype(np.uint8),
                                                       clean[j][0])]) for j in worst]
    if sheet is not None:
        sheet.mkdir(parents=True, exist_ok=True)
        rows = [np.hstack(tiles[i:i + 8]) for i in range(0, len(tiles) - len(tiles) % 8, 8)]
        cv2.imwrite(str(sheet / "occlusion_sheet.png"), cv2.resize(np.vstack(rows), None, fx=2, fy=2,
                                                                    interpolation=cv2.INTER_NEAREST))
        print(f"sheet: {sheet / 'occlusion_sheet.png'} (rows 1-3: pasted occluders; then the clean faces "
              "read as most covered, per clip)")


def best_ms(fn, n: int, rounds: int = 5) -> float:
    fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) / n * 1000


@torch.inference_mode()
def cost() -> None:
    net = load_occlusion_net()
    model = create_model("liae").eval()
    x = torch.rand(16, 3, 64, 64)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        occ = best_ms(lambda: covered(x, net), 16)
        swap = best_ms(lambda: model.swap(x, direction="b2a"), 16)
        print(f"{threads} thread(s): occlusion {occ:.2f} ms/face, liae 64 swap {swap:.2f} ms/face, "
              f"ratio {occ / swap:.2f}")


def convert(rounds: int) -> None:
    from convert import make_model  # benchmarks/convert.py: a lite model whose faceset B is identity_b

    clip = VIDEOS / "identity_b.mp4"
    best = {False: 0.0, True: 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        model = make_model(Path(tmp))
        for _ in range(rounds):
            for occlusion in (False, True):
                out = Path(tmp) / f"out_{occlusion}.mp4"
                t0 = time.perf_counter()
                s = facesmith.convert(clip, model, out, overwrite=True, occlusion=occlusion)
                fps = s["frames"] / (time.perf_counter() - t0)
                best[occlusion] = max(best[occlusion], fps)
    print(f"convert identity_b (lite model, stored alignments), best of {rounds}: {best[False]:.1f} fps without, "
          f"{best[True]:.1f} with --occlusion, ratio {best[True] / best[False]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sheet", type=Path)
    ap.add_argument("--skip-convert", action="store_true")
    args = ap.parse_args()
    quality(args.sheet)
    cost()
    if not args.skip_convert:
        convert(args.rounds)


if __name__ == "__main__":
    main()
