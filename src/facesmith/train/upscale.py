"""Train the per-identity upscaler (models/upscaler.py) of a trained swap model, on identity A's faces.

    facesmith.train_upscaler("models/ab", "faces/a", minutes=4)

Pairs: input = the swap model's redrawing of a real face of A at the model size S (A -> A, computed
once), so the degradation is exactly the model's own blur; target = the same face cut at k*S from the
extracted crop. Training runs on random patches (P px in, k*P px out) with flips and, on half of them,
a little extra Gaussian blur on the input (a swap B -> A is blurrier than A's own reconstruction).
Loss: the training loss of the swap model (SSIM + L1, eyes and mouth weighted) at k*S.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .. import progress
from ..models import load_model
from ..models.upscaler import FaceUpscaler, load_upscaler, save_upscaler
from .augment import plain_batch
from .data import load_faceset
from .losses import LossWeights, face_loss
from .threads import ThreadGovernor

PATCH = 32  # input patch side (model px)


def _blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Per-image Gaussian blur, sigma (N,) in input pixels (0: unchanged)."""
    r = 3
    t = torch.arange(-r, r + 1, dtype=x.dtype)
    k = torch.exp(-(t[None] ** 2) / (2 * sigma.clamp_min(1e-3)[:, None] ** 2))
    k = torch.where(sigma[:, None] > 1e-3, k, (t[None] == 0).to(x.dtype))
    k = k / k.sum(1, keepdim=True)
    n, c, h, w = x.shape
    y = F.pad(x.reshape(1, n * c, h, w), (r, r, r, r), mode="replicate")
    kk = k.repeat_interleave(c, 0)
    y = F.conv2d(y, kk[:, None, None, :], groups=n * c)
    y = F.conv2d(y, kk[:, None, :, None], groups=n * c)
    return y.reshape(n, c, h, w)


@torch.no_grad()
def _redrawn(model: Any, faces: Any) -> torch.Tensor:
    out = []
    for i in range(0, len(faces), 64):
        x = plain_batch(faces, np.arange(i, min(i + 64, len(faces))))["input"]
        out.append(model.render(x, "a")[0].float().clamp(0, 1))
    return torch.cat(out)


@dataclass
class Pairs:
    """Training pairs of one identity: the model's redrawings at S and the real faces at k*S."""

    inputs: torch.Tensor  # (N, 3, S, S)
    target: torch.Tensor  # (N, 3, kS, kS), and its face mask and eyes/mouth region (N, 1, kS, kS)
    mask: torch.Tensor
    region: torch.Tensor
    size: int
    scale: int

    def batch(self, rng: np.random.Generator, n: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """n random patches (the same place in every face of the batch), flipped half the time."""
        idx = torch.from_numpy(rng.integers(0, len(self.inputs), n))
        p = min(PATCH, self.size)
        y, x = (int(v) for v in rng.integers(0, self.size - p + 1, 2))
        k = self.scale
        inp = self.inputs[idx, :, y:y + p, x:x + p]
        sigma = np.where(rng.random(n) < 0.5, rng.uniform(0, 0.8, n), 0.0)
        inp = _blur(inp, torch.from_numpy(sigma).float())
        cut = (idx, slice(None), slice(k * y, k * (y + p)), slice(k * x, k * (x + p)))
        tgt = {"target": self.target[cut], "mask": self.mask[cut], "region": self.region[cut]}
        if rng.random() < 0.5:
            inp, tgt = inp.flip(3), {key: v.flip(3) for key, v in tgt.items()}
        return inp, tgt


def make_pairs(model_dir: Path, faceset_a: str | Path, scale: int) -> Pairs:
    model, _ = load_model(model_dir)
    size, coverage = int(model.config["size"]), float(model.config["coverage"])
    low, _ = load_faceset(faceset_a, "A", size, coverage)
    high, _ = load_faceset(faceset_a, "A", size * scale, coverage)
    hb = plain_batch(high, np.arange(len(high)))
    return Pairs(_redrawn(model, low), hb["target"], hb["mask"], hb["region"], size, scale)


def train_upscaler(model_dir: str | Path, faceset_a: str | Path, *, scale: int = 2, minutes: float | None = None,
                   iterations: int | None = None, batch_size: int = 16, lr: float = 1e-3, seed: int = 0,
                   channels: int = 32, blocks: int = 3) -> dict[str, Any]:
    """Train and save MODEL_DIR/upscaler (continuing the one there, if it has the same shape)."""
    model_dir = Path(model_dir)
    if minutes is None and iterations is None:
        raise ValueError("give minutes or iterations")
    t0 = time.perf_counter()
    pairs = make_pairs(model_dir, faceset_a, scale)
    torch.manual_seed(seed)
    net = FaceUpscaler(scale, channels, blocks)
    before = load_upscaler(model_dir)  # one trained for an earlier state of this model
    resumed = before is not None and before.config == net.config
    if resumed:
        net.load_state_dict(before.state_dict())
    opt = torch.optim.AdamW(net.parameters(), lr=lr, betas=(0.9, 0.99), weight_decay=1e-4)
    weights, rng = LossWeights(), np.random.default_rng([seed, 7])
    end = iterations if iterations is not None else 1 << 62
    deadline = time.perf_counter() + minutes * 60 if minutes else math.inf
    it, loss = 0, float("nan")
    bar = progress.bar(total=iterations, desc="upscaler", unit="it")
    threads = torch.get_num_threads()
    governor = ThreadGovernor() if minutes and threads > 1 else None
    try:
        while it < end and time.perf_counter() < deadline:
            inp, tgt = pairs.batch(rng, batch_size)
            out = face_loss(net(inp).clamp(0, 1), None, tgt, weights)
            opt.zero_grad(set_to_none=True)
            out.backward()
            opt.step()
            it += 1
            bar.update(1)
            if governor is not None:
                governor.step()
            if it % 20 == 0:
                loss = float(out.detach())
                bar.set_postfix_str(f"loss {loss:.4f}")
    finally:
        bar.close()
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - t0
    info = {"model_size": pairs.size, "iterations": it, "samples_seen": it * batch_size, "patch": min(PATCH, pairs.size),
            "train_seconds": round(seconds, 1), "last_loss": loss, "faces": len(pairs.inputs), "continued": resumed}
    folder = save_upscaler(model_dir, net.eval(), info)
    progress.log(f"upscaler x{scale}: {it} iterations ({it * batch_size} patches) in {seconds:.0f} s, loss {loss:.4f}")
    return {**info, "scale": scale, "folder": str(folder)}
