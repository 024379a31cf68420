"""Train a swap model's occlusion network (face/occlusion.py) on the pair's own faces.

    facesmith.train("faces/a", "faces/b", "models/ab", occlusion=True)  # trains it first, then the model

Self-supervised: a synthetic occluder (face/occluders.py) is pasted over most samples, textured with
the facesets' own pictures (the other person's skin, backgrounds, clothes) or flat colours, and the
network learns to mark exactly what was pasted; clean faces teach it to mark nothing. It learns these
two faces as convert and training will cut them (the model's coverage), so their glasses, teeth and
hair on the forehead read as face. What is in front of a face in most of its frames is learned as
face too: the network cannot tell it from the face.

The last `holdout` of each video's frames is held out: the figures it reaches there are printed and
stored with the network (models/occlusion.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .. import progress
from ..face.occluders import paste_occluder
from ..face.occlusion import OCCLUSION_INPUT, OcclusionNet
from ..faceset import list_faces, read_face
from ..models.occlusion import save_occlusion
from .data import load_faceset

OCCLUSION_STEPS = 1200  # default training length (batches of BATCH)
BATCH = 48
CUT = 96  # the stored view's side; samples are jittered from it and reduced to OCCLUSION_INPUT
TEXTURES = 48  # face pictures per faceset used as occluder textures


def sample(crop: np.ndarray, hull: np.ndarray, textures: list[np.ndarray], rng: np.random.Generator,
           occlude: float = 0.75) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, covered 0/1, hull 0/1) at OCCLUSION_INPUT px: a jittered view of the face (alignment
    is never exact), maybe an occluder, then what video does to pixels (light, blur, noise, JPEG)."""
    s, cut = OCCLUSION_INPUT, crop.shape[0]
    # rotation, scale, and a squeeze and shear along random axes: the aligned view of a turned or
    # tilted head is not the frontal face the alignment assumes
    a = np.deg2rad(rng.normal(0, 8))
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    squeeze = np.array([[rng.uniform(0.75, 1.15), rng.normal(0, 0.12)], [0, rng.uniform(0.9, 1.1)]])
    lin = rot @ squeeze * (s / cut * rng.uniform(0.9, 1.1))
    m = np.hstack([lin, (np.array([s, s]) / 2 - lin @ np.array([cut, cut]) / 2 + rng.normal(0, 0.03 * s, 2))[:, None]])
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
    (soft, bright, see-through blobs, often tinted as lens coatings reflect) and soft shadows. Labelled
    as face, so the network learns that a see-through change of brightness is not something in front."""
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


def batch(crops: np.ndarray, hulls: np.ndarray, textures: list[np.ndarray], rng: np.random.Generator, n: int,
          occlude: float = 0.75) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """n samples: images (n, 3, S, S) in [0, 1], what is covered and the face hull (n, 1, S, S) 0/1."""
    xs, ys, ws = zip(*(sample(crops[i], hulls[i], textures, rng, occlude)
                       for i in rng.integers(0, len(crops), n)), strict=True)
    x = torch.from_numpy(np.stack(xs)).permute(0, 3, 1, 2).float().div_(255)
    return x, torch.from_numpy(np.stack(ys))[:, None], torch.from_numpy(np.stack(ws))[:, None]


@torch.no_grad()
def validate(net: OcclusionNet, val: tuple[torch.Tensor, torch.Tensor, torch.Tensor]) -> dict[str, float]:
    """IoU of the predicted cover with the pasted occluder inside the face hull (occluded samples),
    and the share of hull pixels marked covered on clean faces."""
    was_training = net.training
    net.eval()
    x, y, w = val
    p = (torch.sigmoid(net(x)) > 0.5).float()
    occluded = y.flatten(1).amax(1) > 0
    inter = (p * y * w).flatten(1).sum(1)
    union = ((p + y).clamp(max=1) * w).flatten(1).sum(1)
    iou = (inter[occluded] / union[occluded].clamp(min=1)).mean() if occluded.any() else torch.tensor(float("nan"))
    clean = ~occluded
    false = ((p * w).flatten(1).sum(1) / w.flatten(1).sum(1).clamp(min=1))[clean].mean() if clean.any() \
        else torch.tensor(float("nan"))
    net.train(was_training)
    return {"iou": round(float(iou), 4), "false_cover": round(float(false), 4)}


def face_views(faceset_a: str | Path, faceset_b: str | Path, coverage: float, holdout: float
               ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], list[np.ndarray]]:
    """((views, hulls) to train on, (views, hulls) held out, texture pictures) of both facesets."""
    train, held, textures = [], [], []
    for folder, label in ((faceset_a, "A"), (faceset_b, "B")):
        fit, out = load_faceset(folder, label, CUT, coverage, holdout)
        for part, into in ((fit, train), (out, held)):
            if len(part):
                into.append(part.get(np.arange(len(part)))[:2])
        paths = list_faces(folder)
        for i in np.linspace(0, len(paths) - 1, min(TEXTURES, len(paths))).round().astype(int):
            image = read_face(paths[i])[0]
            side = min(image.shape[0], 256)
            textures.append(cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA))

    def join(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        if not parts:
            return np.zeros((0, CUT, CUT, 3), np.uint8), np.zeros((0, CUT, CUT), np.uint8)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    return join(train), join(held), textures


def train_occlusion(model_dir: str | Path, faceset_a: str | Path, faceset_b: str | Path, *, coverage: float,
                    steps: int = OCCLUSION_STEPS, batch_size: int = BATCH, lr: float = 2e-3, seed: int = 0,
                    holdout: float = 0.1) -> dict[str, Any]:
    """Train and save MODEL_DIR/occlusion on both facesets' faces at the model's `coverage`; returns its record."""
    t0 = time.perf_counter()
    (crops, hulls), (vcrops, vhulls), textures = face_views(faceset_a, faceset_b, coverage, holdout)
    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 11])
    if len(vcrops) < 8:  # too few frames held out: measure on faces it trains on, and say so
        vcrops, vhulls = crops, hulls
    val = batch(vcrops, vhulls, textures, np.random.default_rng([seed, 12]), min(400, 4 * len(vcrops)), occlude=0.5)
    net = OcclusionNet()
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    loss, start = float("nan"), time.perf_counter()
    with progress.bar(total=steps, desc="occlusion network", unit="step") as bar:
        for step in range(steps):
            for group in opt.param_groups:  # cosine decay over the run
                group["lr"] = lr * 0.5 * (1 + np.cos(np.pi * step / steps))
            x, y, w = batch(crops, hulls, textures, rng, batch_size)
            out = F.binary_cross_entropy_with_logits(net(x), y, weight=0.3 + 0.7 * w)  # outside the hull: convert never uses it
            opt.zero_grad(set_to_none=True)
            out.backward()
            opt.step()
            bar.update(1)
            if step % 50 == 49:
                loss = float(out.detach())
                bar.set_postfix_str(f"loss {loss:.4f}")
            if step % 200 == 199 and not sys.stderr.isatty():  # the bar is off in logs: a line now and then
                rate = (step + 1) / (time.perf_counter() - start)
                progress.log(f"occlusion network: step {step + 1}/{steps}, {rate * batch_size:.0f} samples/s, "
                             f"ETA {(steps - step - 1) / rate:.0f} s, loss {loss:.4f}")
    figures = validate(net, val)
    seconds = time.perf_counter() - t0
    record = {"steps": steps, "samples": steps * batch_size, "faces": len(crops), "held_out_faces": len(vcrops),
              "held_out": figures, "measured_on_held_out": vcrops is not crops, "coverage": coverage,
              "train_seconds": round(seconds, 1), "last_loss": loss, "seed": seed}
    save_occlusion(Path(model_dir), net.eval(), record)
    progress.log(f"occlusion network: {steps} steps in {seconds:.0f} s; on held-out frames with pasted occluders "
                 f"IoU {figures['iou']:.3f}, clean faces read covered {100 * figures['false_cover']:.2f}%")
    return record
