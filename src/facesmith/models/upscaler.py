"""A per-identity face upscaler: the swap model's S px face -> k*S px, trained on that person's real faces.

A 64 px autoencoder enlarged onto a 200 px face is a smear: the frame has detail the model never
drew. This network is trained (train/upscale.py) on pairs made from the SOURCE identity alone: input =
the swap model's own redrawing of a real face (so it learns to undo exactly that model's blur), target
= the same real face at k times the size. It restores *that person's* skin, eyes and lips, which a
sharpening filter cannot: it knows what they look like at full resolution.

Residual design: output = bicubic(x) + a correction, so an untrained network already gives the plain
enlargement and training only adds detail. Most convolutions run at the input resolution; the
pixel-shuffle stages add few channels at the high ones (CPU-cheap).

Stored beside the model as MODEL_DIR/upscaler/{weights.safetensors, config.json} (no pickle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from . import ResBlock, Upscale
from .sidecar import load_sidecar_net, save_sidecar

FOLDER = "upscaler"


class FaceUpscaler(nn.Module):
    def __init__(self, scale: int = 2, channels: int = 32, blocks: int = 3) -> None:
        super().__init__()
        if scale not in (2, 4):
            raise InputError(f"the upscaler scales by 2 or 4, not {scale}")
        self.config = {"scale": scale, "channels": channels, "blocks": blocks}
        self.head = nn.Conv2d(3, channels, 3, padding=1)
        self.body = nn.Sequential(*[ResBlock(channels) for _ in range(blocks)])
        ups: list[nn.Module] = []
        ch = channels
        for _ in range(scale // 2):
            ups.append(Upscale(ch, max(ch // 2, 8)))
            ch = max(ch // 2, 8)
        self.up = nn.Sequential(*ups)
        self.tail = nn.Conv2d(ch, 3, 3, padding=1)
        nn.init.zeros_(self.tail.weight)  # start as the plain bicubic enlargement
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, S, S) in [0, 1] -> (N, 3, kS, kS), not clamped (the loss sees the raw values)."""
        k = self.config["scale"]
        base = F.interpolate(x, scale_factor=k, mode="bicubic", align_corners=False)
        h = self.head(x)
        return base + self.tail(self.up(h + self.body(h)))


def save_upscaler(model_dir: Path, net: FaceUpscaler, info: dict[str, Any]) -> Path:
    return save_sidecar(model_dir, FOLDER, net.state_dict(), {**net.config, **info})


def load_upscaler(model_dir: Path, device: str | torch.device = "cpu") -> FaceUpscaler | None:
    """The upscaler trained for this model folder, or None when there is none."""
    return load_sidecar_net(model_dir, FOLDER, "the upscaler",
                            lambda cfg: FaceUpscaler(int(cfg["scale"]), int(cfg["channels"]), int(cfg["blocks"])),
                            device)
