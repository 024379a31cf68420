"""Batches and their augmentation, reproducible from (seed, iteration) alone.

Every random draw for iteration `it` comes from a generator seeded with (seed, side, it), and the
sample order is a per-epoch permutation seeded with (seed, side, epoch). So a resumed run sees exactly
the batches an uninterrupted one would, whatever thread builds them and whenever.

Per face (deepfakes / Faceswap style):
- colour-statistics matching: with probability `ct_prob`, the face's Lab mean/std are moved to those
  of a random face of the *other* identity, so both decoders learn under both lightings;
- colour and lighting jitter: contrast, brightness, per-channel tint, a linear lighting gradient;
- random rotate / zoom / shift / horizontal flip: applied to the input AND the target;
- a random smooth grid warp (5x5 control points): applied to the INPUT only, so the network has to
  redraw a clean face from a distorted one rather than copy pixels.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..face.expression import flip_features
from ..media.threads import read_ahead
from .data import FaceSet


@dataclass(frozen=True)
class AugmentConfig:
    rotate: float = 10.0  # degrees
    zoom: float = 0.05
    shift: float = 0.05  # fraction of the face size
    flip: float = 0.5
    warp: float = 0.04  # std of the grid warp, in normalised [-1, 1] units
    ct_prob: float = 0.5
    contrast: float = 0.1
    brightness: float = 0.06
    tint: float = 0.03
    lighting: float = 0.15


def batch_indices(n: int, seed: int, side: int, it: int, batch: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Positions it*batch .. (it+1)*batch of an endless sequence of shuffled epochs over n faces; with
    `weights` (summing to 1), a draw with replacement by those weights, seeded with (seed, side, it)."""
    if weights is not None:
        return np.random.default_rng([seed, side, 3, it]).choice(n, batch, p=weights)
    pos = np.arange(it * batch, (it + 1) * batch, dtype=np.int64)
    out = np.empty(batch, np.int64)
    for epoch in np.unique(pos // n):
        perm = np.random.default_rng([seed, side, 1, int(epoch)]).permutation(n)
        sel = pos // n == epoch
        out[sel] = perm[pos[sel] % n]
    return out


def _match_colours(img: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Reinhard colour transfer in Lab: src stats -> dst stats. img float32 BGR [0, 1]."""
    lab = cv2.cvtColor(img, cv2.COLOR_BGR2LAB)
    lab = (lab - src[0]) * (dst[1] / src[1]) + dst[0]
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2BGR), 0, 1)


def make_batch(faces: FaceSet, other: FaceSet, seed: int, side: int, it: int, batch: int,
               cfg: AugmentConfig, rank: int = 0, world: int = 1) -> dict[str, torch.Tensor]:
    """The augmented batch of one side for iteration `it`. With DDP each rank takes its slice of the
    global batch (batch * world faces), so the union over ranks is the single-process batch."""
    gb = batch * world
    rng = np.random.default_rng([seed, side, 2, it])
    idx = batch_indices(len(faces), seed, side, it, gb, faces.sample_weights)
    # draw every random number for the global batch first, so a rank's slice does not depend on world
    ct_on = rng.random(gb) < cfg.ct_prob
    ct_from = rng.integers(0, max(len(other), 1), gb)
    contrast = 1 + rng.uniform(-cfg.contrast, cfg.contrast, gb)
    bright = rng.uniform(-cfg.brightness, cfg.brightness, gb)
    tint = rng.uniform(-cfg.tint, cfg.tint, (gb, 3))
    light = rng.uniform(-cfg.lighting, cfg.lighting, gb)
    light_dir = rng.uniform(0, 2 * np.pi, gb)
    angle = np.deg2rad(rng.uniform(-cfg.rotate, cfg.rotate, gb))
    scale = 1 + rng.uniform(-cfg.zoom, cfg.zoom, gb)
    shift = rng.uniform(-cfg.shift, cfg.shift, (gb, 2)) * 2
    flip = rng.random(gb) < cfg.flip
    warp = rng.normal(0, cfg.warp, (gb, 2, 5, 5)).astype(np.float32)
    sl = slice(rank * batch, (rank + 1) * batch)

    images, masks, regions = faces.get(idx[sl])
    s = faces.size
    imgs = images.astype(np.float32) / 255
    for j, g in enumerate(range(sl.start, sl.stop)):
        if ct_on[g] and len(other):
            imgs[j] = _match_colours(imgs[j], faces.lab_stats[idx[g]], other.lab_stats[ct_from[g]])
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / (s - 1) * 2 - 1
    gsl = (slice(None), None, None)
    ramp = np.cos(light_dir[sl])[gsl] * xx + np.sin(light_dir[sl])[gsl] * yy  # (B,S,S)
    gain = (contrast[sl][gsl] * (1 + light[sl][gsl] * ramp))[..., None]
    imgs = np.clip((imgs - 0.5) * gain + 0.5 + bright[sl][:, None, None, None] + tint[sl][:, None, None, :], 0, 1).astype(np.float32)

    # Geometry with cv2.remap, one face at a time: single-threaded numpy/OpenCV work, so this
    # background thread never starts a second OpenMP team competing with the training step's.
    cos, sin = np.cos(angle[sl]) / scale[sl], np.sin(angle[sl]) / scale[sl]
    fx = np.where(flip[sl], -1.0, 1.0)
    u = (2 * np.arange(s, dtype=np.float32) + 1) / s - 1  # pixel centres in [-1, 1]
    gx, gy = np.meshgrid(u, u)
    inp = np.empty((batch, s, s, 3), np.float32)
    tgt = np.empty((batch, s, s, 3), np.float32)
    aux = np.empty((batch, s, s, 2), np.float32)
    extra = np.stack([masks, regions], -1).astype(np.float32) / 255
    for j, g in enumerate(range(sl.start, sl.stop)):
        ox = cv2.resize(warp[g, 0], (s, s), interpolation=cv2.INTER_CUBIC)
        oy = cv2.resize(warp[g, 1], (s, s), interpolation=cv2.INTER_CUBIC)
        for (px, py), dst in (((gx, gy), "t"), ((gx + ox, gy + oy), "i")):
            # output pixel -> source position: rotate/zoom/flip about the centre, then shift
            sx = cos[j] * fx[j] * px - sin[j] * py + shift[g, 0]
            sy = sin[j] * fx[j] * px + cos[j] * py + shift[g, 1]
            mx = ((sx + 1) * s - 1) / 2
            my = ((sy + 1) * s - 1) / 2
            mx, my = mx.astype(np.float32), my.astype(np.float32)
            if dst == "t":
                tgt[j] = cv2.remap(imgs[j], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
                aux[j] = cv2.remap(extra[j], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            else:
                inp[j] = cv2.remap(imgs[j], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    to_t = (lambda a: torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2))))  # noqa: E731
    a = to_t(aux)
    readings = {} if faces.expression is None else {"expression": _readings(faces.expression[idx[sl]], flip[sl])}
    return {"input": to_t(inp), "target": to_t(tgt), "mask": a[:, :1], "region": a[:, 1:], **readings}


def _readings(readings: np.ndarray, flip: np.ndarray) -> torch.Tensor:
    """The faces' mesh readings (B, 4, 1, 1: 4-D like the images, so the batch moves as one), with
    the eyes swapped where the face was mirrored."""
    readings = np.where(flip[:, None], flip_features(readings), readings)
    return torch.from_numpy(np.ascontiguousarray(readings, np.float32))[:, :, None, None]


def plain_batch(faces: FaceSet, idx: np.ndarray) -> dict[str, torch.Tensor]:
    """Un-augmented faces (previews, held-out evaluation)."""
    images, masks, regions = faces.get(idx)
    img = torch.from_numpy(images.astype(np.float32) / 255).permute(0, 3, 1, 2).contiguous()
    mask = torch.from_numpy(masks.astype(np.float32) / 255)[:, None]
    region = torch.from_numpy(regions.astype(np.float32) / 255)[:, None]
    return {"input": img, "target": img, "mask": mask, "region": region}


class Prefetcher:
    """Builds the batches of the coming iterations in a background thread while the model trains
    (`media.threads.read_ahead`: up to `depth` ready; an error in it is raised in the training loop).

    Batches depend only on (seed, iteration), so threading changes timing, never content."""

    def __init__(self, a: FaceSet, b: FaceSet, seed: int, batch: int, cfg: AugmentConfig, start: int,
                 depth: int = 2, rank: int = 0, world: int = 1) -> None:
        self.args = (a, b, seed, batch, cfg, rank, world)
        self._batches = read_ahead(self._build_from(start), max(1, depth), name="batch")

    def _build_from(self, start: int) -> Iterator[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]:
        a, b, seed, batch, cfg, rank, world = self.args
        for it in itertools.count(start):
            yield (make_batch(a, b, seed, 0, it, batch, cfg, rank, world),
                   make_batch(b, a, seed, 1, it, batch, cfg, rank, world))

    def __iter__(self) -> Iterator[tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]]:
        return self._batches

    def close(self) -> None:
        self._batches.close()  # stops and joins its thread
