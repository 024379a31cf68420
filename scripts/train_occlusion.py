"""Train the occlusion network that ships in facesmith (facesmith/face/data/occlusion.safetensors).

Faces: every face BlazeFace + the mesh find in the shared videos and photos, cut as a model sees them
(the central `coverage` of the aligned crop). Labels: self-supervised; a synthetic occluder
(face/occluders.py) is pasted over most samples, textured with crops of the same media, and the
network learns to mark exactly what was pasted (clean faces teach it to mark nothing).

Held out, never trained on: `portrait_720x1280.mp4` (its faces, with synthetic occluders, give the
validation figures printed each round and stored in the file) and `occlusion_pen.mp4` (a real pen in
front of a face: the test of the real thing, tests/test_occlusion.py).

    .venv/bin/python scripts/train_occlusion.py [--data ../shared/data] [--minutes 12] [--out PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from facesmith.face import FaceReader
from facesmith.face.occluders import paste_occluder
from facesmith.face.occlusion import OCCLUSION_INPUT, WEIGHTS, OcclusionNet, face_view, save_occlusion_net
from facesmith.media.images import read_image
from facesmith.media.video import iter_frames

CUT = 96  # stored crop side; samples are augmented from it and reduced to OCCLUSION_INPUT
COVERAGE = 0.875  # the models' default view of the aligned crop
TRAIN_VIDEOS = {"identity_a.mp4": 1, "identity_b.mp4": 1, "two_people_720p.mp4": 1,
                "stage_multi_lowlight.mp4": 1, "street_crowd_1080p.mp4": 1}  # name -> every Nth frame
VAL_VIDEO = ("portrait_720x1280.mp4", 3)
MIN_FACE = 32  # px from brow to chin: smaller faces carry little to learn


def cut(image: np.ndarray, face) -> tuple[np.ndarray, np.ndarray] | None:
    if float(np.ptp(face.landmarks[:, 1])) < MIN_FACE:
        return None
    crop, hull = face_view(image, face, CUT, COVERAGE)
    return crop, hull.astype(np.uint8) * 255


def gather(data: Path, videos: dict[str, int], photos: bool) -> tuple[list, list, list, dict[str, int]]:
    """Face views, their hulls, pictures for textures, and the faces found in each source."""
    reader = FaceReader()
    crops, hulls, textures, counts = [], [], [], {}
    for name, every in videos.items():
        t0, n = time.perf_counter(), 0
        tracker = reader.tracker()
        for k, frame in enumerate(iter_frames(data / "video" / name)):
            faces = tracker.update(frame.image, frame.time)
            if k % every:
                continue
            for face in faces:
                got = cut(frame.image, face)
                if got:
                    crops.append(got[0])
                    hulls.append(got[1])
                    n += 1
            if k % (every * 15) == 0:
                h, w = frame.image.shape[:2]
                s = 384 / max(h, w)
                textures.append(cv2.resize(frame.image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA))
        print(f"{name}: {n} faces in {time.perf_counter() - t0:.0f} s", flush=True)
        counts[name] = n
    if photos:
        n = 0
        for path in sorted((data / "images").rglob("*")):
            if path.suffix.lower() not in (".jpg", ".jpeg", ".png"):
                continue
            image = read_image(path)
            for face in reader.find(image):
                got = cut(image, face)
                if got:
                    crops.append(got[0])
                    hulls.append(got[1])
                    n += 1
            h, w = image.shape[:2]
            s = 384 / max(h, w)
            textures.append(cv2.resize(image, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA))
        print(f"photos: {n} faces", flush=True)
        counts["photos"] = n
    return crops, hulls, textures, counts


def sample(crop: np.ndarray, hull: np.ndarray, textures: list, rng: np.random.Generator,
           occlude: float = 0.75) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, covered 0/1, hull 0/1) at OCCLUSION_INPUT px: a jittered view of the face (alignment
    is never exact), maybe an occluder, then what video does to pixels (light, blur, noise, JPEG)."""
    s = OCCLUSION_INPUT
    # rotation, scale, and a squeeze and shear along random axes: the aligned view of a turned or
    # tilted head is not the frontal face the alignment assumes
    a = np.deg2rad(rng.normal(0, 8))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    squeeze = np.array([[rng.uniform(0.75, 1.15), rng.normal(0, 0.12)], [0, rng.uniform(0.9, 1.1)]])
    lin = rot @ squeeze * (s / CUT * rng.uniform(0.9, 1.1))
    m = np.hstack([lin, (np.array([s, s]) / 2 - lin @ np.array([CUT, CUT]) / 2 + rng.normal(0, 0.03 * s, 2))[:, None]])
    face = cv2.warpAffine(crop, m, (s, s), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REFLECT101)
    region = cv2.warpAffine(hull, m, (s, s), flags=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        face, region = face[:, ::-1].copy(), region[:, ::-1].copy()
    if rng.random() < 0.5:
        face = light_on(face, rng)
    covered = np.zeros((s, s), np.uint8)
    if rng.random() < occlude:
        face, covered = paste_occluder(face, textures, rng)
    x = face.astype(np.float32)
    grey = x.mean(2, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.6, 1.4)  # saturation
    x = (x - 128) * rng.uniform(0.7, 1.3) * rng.uniform(0.9, 1.1, 3) + 128 + rng.uniform(-30, 30)
    if rng.random() < 0.3:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.2))
    x = np.clip(x + rng.normal(0, rng.uniform(0, 6), x.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.3:
        _, buf = cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 95))])
        x = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return x, (covered > 127).astype(np.float32), (region > 127).astype(np.float32)


def light_on(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Light that is not an occluder: light of another colour from one side, glare on glasses or skin
    (soft, bright, see-through blobs, often tinted as lens coatings reflect) and soft shadows. Labelled as face, so the network learns that
    a see-through change of brightness is not something in front."""
    s = face.shape[0]
    x = face.astype(np.float32)
    if rng.random() < 0.6:  # light of another colour from one side (a lamp, a window, a warm wall)
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / s - 0.5
        a = rng.uniform(0, 2 * np.pi)
        ramp = np.clip((np.cos(a) * xx + np.sin(a) * yy) * rng.uniform(1, 3) + rng.uniform(-0.5, 0.5), -1, 1)
        gains = rng.uniform(-0.45, 0.45, 3) + rng.uniform(-0.3, 0.3)  # per channel: tinted, brighter or darker
        x = x * (1 + ramp[..., None] * gains)
    for _ in range(rng.integers(0, 4)):
        blob = np.zeros((s, s), np.float32)
        centre = rng.uniform(0.2, 0.8, 2) * s
        axes = rng.uniform(0.03, 0.18, 2) * s
        cv2.ellipse(blob, (centre * 16).astype(int), (axes * 16).astype(int), rng.uniform(0, 180), 0, 360, 1.0,
                    -1, cv2.LINE_AA, shift=4)
        blob = cv2.GaussianBlur(blob, (0, 0), rng.uniform(0.5, 4))[..., None] * rng.uniform(0.2, 0.75)
        if rng.random() < 0.7:  # glare: towards a bright, maybe tinted colour
            tint = np.array([255, 255, 255], np.float32) * rng.uniform(0.6, 1.0, 3)
            x = x * (1 - blob) + tint * blob
        else:  # shadow
            x = x * (1 - 0.8 * blob)
    return np.clip(x, 0, 255).astype(np.uint8)


def batch(crops, hulls, textures, rng, n: int, occlude: float = 0.75):
    xs, ys, ws = zip(*(sample(crops[i], hulls[i], textures, rng, occlude)
                       for i in rng.integers(0, len(crops), n)), strict=True)
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().div_(255)
    return x, torch.from_numpy(np.stack(ys))[:, None], torch.from_numpy(np.stack(ws))[:, None]


@torch.no_grad()
def validate(net: OcclusionNet, val: tuple) -> dict[str, float]:
    """IoU of the predicted cover with the pasted occluder inside the face hull (occluded samples),
    and the share of hull pixels marked covered on clean faces."""
    net.eval()
    x, y, w = val
    p = (torch.sigmoid(net(x)) > 0.5).float()
    occluded = y.flatten(1).amax(1) > 0
    inter = (p * y * w).flatten(1).sum(1)
    union = ((p + y).clamp(max=1) * w).flatten(1).sum(1)
    iou = (inter[occluded] / union[occluded].clamp(min=1)).mean()
    false = ((p * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp(min=1))[~occluded].mean()
    net.train()
    return {"iou": round(float(iou), 4), "false_cover": round(float(false), 4)}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    ap.add_argument("--minutes", type=float, default=12.0)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    crops, hulls, textures, counts = gather(args.data, TRAIN_VIDEOS, photos=True)
    vcrops, vhulls, vtex, _ = gather(args.data, dict([VAL_VIDEO]), photos=False)
    vrng = np.random.default_rng(1234)
    val = batch(vcrops, vhulls, vtex + textures[:4], vrng, 400, occlude=0.5)
    print(f"{len(crops)} training faces, {len(textures)} texture pictures, {len(vcrops)} held-out faces", flush=True)

    net = OcclusionNet()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    budget = args.minutes * 60
    t0, step, seen, report = time.perf_counter(), 0, 0, 0.0
    while (elapsed := time.perf_counter() - t0) < budget:
        for group in opt.param_groups:  # cosine decay over the time budget
            group["lr"] = 2e-3 * 0.5 * (1 + np.cos(np.pi * min(elapsed / budget, 1)))
        x, y, w = batch(crops, hulls, textures, rng, args.batch)
        logits = net(x)
        weight = 0.3 + 0.7 * w  # outside the face hull counts less: convert never uses it
        loss = F.binary_cross_entropy_with_logits(logits, y, weight=weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step, seen = step + 1, seen + len(x)
        if elapsed - report > 60:
            report = elapsed
            rate = seen / elapsed
            print(f"step {step}  {seen} samples  {rate:.0f}/s  loss {loss.item():.4f}  held-out {validate(net, val)}  "
                  f"ETA {budget - elapsed:.0f} s", flush=True)
    figures = validate(net, val)
    print(f"done: {step} steps, {seen} samples, held-out {figures}", flush=True)
    record = {"trained_by": "scripts/train_occlusion.py", "seed": args.seed, "minutes": args.minutes,
              "samples": seen, "faces": len(crops), "held_out": {VAL_VIDEO[0]: figures},
              "media": {name: sha256(args.data / "video" / name) for name in TRAIN_VIDEOS},
              "photos": f"every jpg/png under images/ ({counts['photos']} faces)"}
    net.eval()
    save_occlusion_net(net, args.out, record)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
