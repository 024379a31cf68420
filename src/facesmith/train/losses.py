"""Reconstruction losses: (MS-)SSIM + L1 weighted towards the face, more towards eyes and mouth.

Per-pixel weight w = mask * (1 + eyes_mouth * region) + background * (1 - mask): the face dominates,
eyes and mouth (what makes an identity and an expression readable) count several times more, and the
background keeps a small weight so previews stay whole. Models that learn a mask also get an L2 mask
loss. All weights are configurable (`facesmith train --loss ssim=1,l1=1,eyes_mouth=3,mask=1`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F

from ..errors import InputError


@dataclass(frozen=True)
class LossWeights:
    ssim: float = 1.0
    l1: float = 1.0
    eyes_mouth: float = 3.0
    mask: float = 1.0
    background: float = 0.1

    @classmethod
    def parse(cls, text: str | None) -> LossWeights:
        """'ssim=1,l1=2' -> LossWeights (unspecified keys keep their defaults)."""
        if not text:
            return cls()
        names = {f.name for f in fields(cls)}
        values: dict[str, float] = {}
        for part in text.split(","):
            key, _, val = part.partition("=")
            key = key.strip()
            if key not in names:
                raise InputError(f"unknown loss weight {key!r} in --loss; known: {', '.join(sorted(names))}")
            try:
                values[key] = float(val)
            except ValueError:
                raise InputError(f"--loss {key} needs a number, got {val!r}") from None
        return cls(**values)


@functools.cache
def _gauss(size: int, sigma: float, channels: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = (g / g.sum()).view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    return g, g.transpose(2, 3).contiguous()


def _blur(x: torch.Tensor, win: int = 11, sigma: float = 1.5) -> torch.Tensor:
    gx, gy = _gauss(win, sigma, x.shape[1])
    pad = win // 2
    x = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    x = F.conv2d(x, gx.to(x.dtype), groups=x.shape[1])
    return F.conv2d(x, gy.to(x.dtype), groups=x.shape[1])


def ssim_maps(x: torch.Tensor, y: torch.Tensor, win: int = 11) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel SSIM and contrast-structure maps (Wang et al. 2004), images in [0, 1]."""
    c1, c2 = 0.01**2, 0.03**2
    _b, c = x.shape[:2]
    # one grouped blur over all five moments (fewer, larger convolutions)
    mu = _blur(torch.cat([x, y, x * x, y * y, x * y], 1), win)
    mx, my, sxx, syy, sxy = mu.split(c, 1)
    vx, vy, cov = sxx - mx * mx, syy - my * my, sxy - mx * my
    cs = (2 * cov + c2) / (vx + vy + c2)
    ssim = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
    return ssim, cs


def weighted_mean(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return (x * w).sum() / (w.sum() * x.shape[1] / w.shape[1] + 1e-6)


def ssim_loss(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor, multiscale: bool = False) -> torch.Tensor:
    """1 - weighted SSIM (or MS-SSIM with as many scales as the size allows, at most 5)."""
    if not multiscale:
        return 1 - weighted_mean(ssim_maps(x, y)[0], w)
    scales = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    n = max(1, min(5, int(torch.log2(torch.tensor(x.shape[-1] / 16)).item()) + 1))
    weights = torch.tensor(scales[:n]) / sum(scales[:n])
    value = x.new_ones(())
    for i in range(n):
        ssim, cs = ssim_maps(x, y, win=7)
        term = weighted_mean(ssim if i == n - 1 else cs, w).clamp_min(1e-6)
        value = value * term ** weights[i]
        if i < n - 1:
            x, y, w = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2), F.avg_pool2d(w, 2)
    return 1 - value


def face_loss(pred: torch.Tensor, pred_mask: torch.Tensor | None, batch: dict[str, torch.Tensor],
              weights: LossWeights, multiscale: bool = False) -> torch.Tensor:
    """The reconstruction loss of one side (a scalar)."""
    target, mask, region = batch["target"], batch["mask"], batch["region"]
    pred = pred.float()
    w = mask * (1 + weights.eyes_mouth * region) + weights.background * (1 - mask)
    loss = weights.ssim * ssim_loss(pred, target, w, multiscale) if weights.ssim else pred.new_zeros(())
    if weights.l1:
        loss = loss + weights.l1 * weighted_mean((pred - target).abs(), w)
    if pred_mask is not None and weights.mask:
        loss = loss + weights.mask * F.mse_loss(pred_mask.float(), mask)
    return loss


@torch.no_grad()
def masked_ssim(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean SSIM over the face mask, per image (N,) - the held-out reconstruction score."""
    ssim = ssim_maps(pred.float(), target.float())[0].mean(1, keepdim=True)
    return (ssim * mask).flatten(1).sum(1) / mask.flatten(1).sum(1).clamp_min(1e-6)
