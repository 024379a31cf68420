"""What `--occlusion` finds, what training its network and running it cost.

    .venv/bin/python benchmarks/occlusion.py [--rounds 3] [--sheet DIR] [--minority]

0. Training: a lite model of identity_a (every 2nd frame) and identity_b (every frame), resumed with
   `--occlusion` (the default steps): the seconds its occlusion network takes, against the seconds of
   a default 30-minute swap budget.
1. Quality on the target's frames (identity_b, the faces convert meets; 90% of them trained on, as in
   real use): IoU of the covered region with a pasted occluder inside the face hull, per shape, the
   occluders textured from footage it never saw (street crowd); the share of clean faces read as
   covered on identity_b and identity_a; and, for comparison only, on two people it never saw
   (portrait_720x1280, occlusion_pen), where a per-model network is not meant to be used.
2. With `--minority`: occluders pasted into 5% and 20% of B's faces before training (so they are
   labelled as face there): are they still found in those very faces?
3. Cost: the network's ms per face (batches of 16, 1 and 2 threads), against the default swap
   model's (liae 64, untrained weights: the cost does not depend on them) in the same run.
4. Convert: identity_b with the lite model, with and without `--occlusion`, interleaved, best of
   `--rounds`: frames/s and their ratio.
With `--sheet DIR`: a PNG of faces (the face | what the network marks, red) to look at.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

import facesmith
from facesmith import progress
from facesmith.face import FaceReader
from facesmith.face.align import crop_box
from facesmith.face.occluders import paste_occluder, score_occluders
from facesmith.face.occlusion import OcclusionNet, covered, covered_crops, face_view
from facesmith.faceset import list_faces
from facesmith.faceset.face_file import read_face, write_face
from facesmith.media.video import iter_frames
from facesmith.models import create_model
from facesmith.models.occlusion import load_occlusion, occlusion_config
from facesmith.train.data import prepare_face
from facesmith.train.occlusion import train_occlusion
from facesmith.train.options import TrainOptions

VIDEOS = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
DEFAULT_MINUTES = 30  # swap --quality default's training budget on a CPU


def street() -> list[np.ndarray]:
    return [f.image for f, _ in zip(iter_frames(VIDEOS / "street_crowd_1080p.mp4", every=20), range(6), strict=False)]


def make_model(root: Path) -> tuple[Path, Path, Path]:
    a, b, model = root / "a", root / "b", root / "model"
    facesmith.extract([VIDEOS / "identity_a.mp4"], a, every=2)
    facesmith.extract([VIDEOS / "identity_b.mp4"], b)
    facesmith.train(a, b, model, model="lite", iterations=1, preview_every=1000, save_every=1000)
    t0 = time.perf_counter()
    facesmith.train(a, b, model, iterations=2, occlusion=True, preview_every=1000, save_every=1000)
    seconds = time.perf_counter() - t0
    rec = occlusion_config(model)
    print(f"training the occlusion network: {rec['steps']} steps, {rec['samples']} samples on {rec['faces']} faces in "
          f"{seconds:.0f} s ({rec['samples'] / rec['train_seconds']:.0f} samples/s), "
          f"{seconds / (DEFAULT_MINUTES * 60):.2f} of a {DEFAULT_MINUTES}-minute swap budget; held-out frames: "
          f"IoU {rec['held_out']['iou']:.3f}, clean read covered {100 * rec['held_out']['false_cover']:.2f}%")
    return model, a, b


def views(video: str, every: int, limit: int) -> list[tuple[np.ndarray, np.ndarray]]:
    reader = FaceReader()
    return [face_view(frame.image, face) for frame, _ in zip(iter_frames(VIDEOS / video, every=every), range(limit),
                                                             strict=False) for face in reader.find(frame.image)]


def _marked(image: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.hstack([image, np.where((p > 0.5)[..., None], (image * 0.5 + (0, 0, 127)).astype(np.uint8), image)])


def quality(net: OcclusionNet, sheet: Path | None) -> None:
    def predict(crops):
        return covered_crops(crops, net)

    tex = street()
    faces = views("identity_b.mp4", every=3, limit=200)
    ious, kept = score_occluders(faces, tex, predict, n=400, seed=11, keep=24)
    tiles = [_marked(image, p) for image, p in kept]
    print("IoU inside the face (identity_b, 400 pasted occluders textured from the street crowd):")
    for k, v in ious.items():
        print(f"  {k:8s} {np.mean(v):.3f}  (n={len(v)})")
    print(f"  all      {np.mean([x for v in ious.values() for x in v]):.3f}")
    for video in ("identity_b.mp4", "identity_a.mp4", "portrait_720x1280.mp4", "occlusion_pen.mp4"):
        clean = views(video, every=3, limit=200)
        p = predict([c for c, _ in clean])
        share = np.array([(pi[h] > 0.5).mean() for pi, (_, h) in zip(p, clean, strict=True)])
        who = "the pair" if video.startswith("identity") else "never seen, for comparison"
        print(f"clean {video} ({who}): {len(clean)} faces, share read as covered mean {share.mean():.4f}, "
              f"p95 {np.percentile(share, 95):.4f}, max {share.max():.4f}")
        if sheet is not None:
            tiles += [_marked(clean[j][0], p[j]) for j in np.argsort(share)[-8:]]
    if sheet is not None:
        sheet.mkdir(parents=True, exist_ok=True)
        rows = [np.hstack(tiles[i:i + 8]) for i in range(0, len(tiles) - len(tiles) % 8, 8)]
        cv2.imwrite(str(sheet / "occlusion_sheet.png"), cv2.resize(np.vstack(rows), None, fx=2, fy=2,
                                                                    interpolation=cv2.INTER_NEAREST))
        print(f"sheet: {sheet / 'occlusion_sheet.png'} (rows 1-3: pasted occluders; then the clean faces "
              "read as most covered, per clip)")


def minority(a: Path, b: Path, root: Path, steps: int) -> None:
    """Occluders in a share of B's training faces, labelled as face there: still found in those faces?"""
    tex = street()
    for share in (0.05, 0.2):
        rng = np.random.default_rng(5)
        b2 = root / f"b_{share}"
        shutil.copytree(b, b2)
        paths = list_faces(b2)
        truth = {}
        for i in rng.choice(len(paths), int(share * len(paths)), replace=False):
            image, meta = read_face(paths[i])
            image, truth[i] = paste_occluder(image, tex, rng)
            write_face(paths[i], image, meta)
        model = root / f"m_{share}"
        model.mkdir()
        train_occlusion(model, a, b2, coverage=0.875, steps=steps)
        net = load_occlusion(model)
        ious = []
        for i, label in truth.items():
            image, mask, _ = prepare_face(paths[i], 64, 0.875)
            off, side = crop_box(label.shape[0], 0.875)
            t = (cv2.resize(label[off:off + side, off:off + side], (64, 64), interpolation=cv2.INTER_AREA) > 127) \
                & (mask > 127)
            if t.sum() >= 20:
                pred = (covered_crops([image], net)[0] > 0.5) & (mask > 127)
                ious.append((pred & t).sum() / max((pred | t).sum(), 1))
        print(f"occluders in {share:.0%} of B's training faces ({len(truth)}), labelled as face: IoU on those faces "
              f"mean {np.mean(ious):.3f}, median {np.median(ious):.3f}")


def best_ms(fn, n: int, rounds: int = 5) -> float:
    fn()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times) / n * 1000


@torch.inference_mode()
def cost(net: OcclusionNet) -> None:
    model = create_model("liae").eval()
    x = torch.rand(16, 3, 64, 64)
    for threads in (1, 2):
        torch.set_num_threads(threads)
        occ = best_ms(lambda: covered(x, net), 16)
        swap = best_ms(lambda: model.swap(x, direction="b2a"), 16)
        print(f"{threads} thread(s): occlusion {occ:.2f} ms/face, liae 64 swap {swap:.2f} ms/face, "
              f"ratio {occ / swap:.2f}")


def convert(model: Path, rounds: int) -> None:
    clip = VIDEOS / "identity_b.mp4"
    best = {False: 0.0, True: 0.0}
    with tempfile.TemporaryDirectory() as tmp:
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
    ap.add_argument("--minority", action="store_true", help="also train twice with occluders among B's faces")
    args = ap.parse_args()
    progress.QUIET = True
    with tempfile.TemporaryDirectory(prefix="facesmith-bench-occlusion-") as tmp:
        model, a, b = make_model(Path(tmp))
        net = load_occlusion(model)
        quality(net, args.sheet)
        if args.minority:
            minority(a, b, Path(tmp), TrainOptions().occlusion_steps)
        cost(net)
        if not args.skip_convert:
            convert(model, args.rounds)


if __name__ == "__main__":
    main()
