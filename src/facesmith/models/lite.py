"""`lite`: a small, CPU-first shared-encoder / two-decoder autoencoder at 64 px.

Sized for 2 CPU cores: a recognisable swap needs a few hundred thousand faces seen, so every
FLOP is spent where it buys detail. Choices (measured, see benchmarks/train.py):
- plain dense 3x3 convs, not depthwise-separable ones: oneDNN runs dense convs in channels_last at
  several times the FLOP rate of depthwise ones on this class of CPU, so they are cheaper per unit of
  quality;
- channel widths halve as resolution doubles, so every stage costs about the same;
- pixel-shuffle upscaling (the conv runs at the low resolution);
- a 256-d dense bottleneck shared by both identities: narrow enough that the encoder must describe
  pose/expression/lighting rather than identity, which is what makes the swap work.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import torch
from torch import nn

from . import Conv, SwapModel, Upscale, register_model, split_output


class _Decoder(nn.Sequential):
    def __init__(self, widths: tuple[int, ...], out_ch: int) -> None:
        layers: list[nn.Module] = [Upscale(a, b) for a, b in itertools.pairwise(widths)]
        layers.append(Conv(widths[-1], widths[-1], 3))
        layers.append(nn.Conv2d(widths[-1], out_ch, 3, padding=1))
        super().__init__(*layers)


def encoder(widths: tuple[int, ...]) -> nn.Sequential:
    """Strided convolutions halving the face at each width: 64 px -> 32, then 16, 8, 4."""
    stages: list[nn.Module] = [Conv(3, widths[0], 5, 2)]
    stages += [Conv(a, b, 3, 2) for a, b in itertools.pairwise(widths)]
    return nn.Sequential(*stages)


@register_model("lite")
class Lite(SwapModel):
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "size": 64, "coverage": 0.875, "batch_size": 32, "lr": 5e-4,
        "enc": (48, 96, 192, 384), "latent": 256, "dec": (192, 96, 48, 24), "learns_mask": False,
    }
    SIZES = (64,)

    def __init__(self, **cfg: Any) -> None:
        super().__init__(**cfg)
        c = self.config
        enc, dec = tuple(c["enc"]), tuple(c["dec"])
        self.enc_ch, self.dec_ch = enc[-1], dec[0]
        self.encoder = encoder(enc)
        self.low = c["size"] // 2 ** len(enc)  # 4 px
        # bottleneck to 8x8 directly: a dense layer is cheaper than a conv at 4x4 with many channels
        self.inter = nn.Sequential(
            nn.Flatten(), nn.Linear(self.enc_ch * self.low**2, c["latent"]),
            nn.Linear(c["latent"], dec[0] * (2 * self.low) ** 2), nn.LeakyReLU(0.1),
        )
        out_ch = 4 if c["learns_mask"] else 3
        self.decoder_a = _Decoder(dec, out_ch)
        self.decoder_b = _Decoder(dec, out_ch)

    def _code(self, x: torch.Tensor) -> torch.Tensor:
        z = self.inter(self.encoder(x))
        z = z.view(-1, self.dec_ch, 2 * self.low, 2 * self.low)
        return z.contiguous(memory_format=torch.channels_last) if x.is_contiguous(
            memory_format=torch.channels_last) else z

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[Any, ...]:
        z = self._code(torch.cat([x_a, x_b]))  # one encoder pass for both sides: bigger, faster GEMMs
        z_a, z_b = z[: len(x_a)], z[len(x_a):]
        y_a, m_a = split_output(self.decoder_a(z_a), self.config["learns_mask"])
        y_b, m_b = split_output(self.decoder_b(z_b), self.config["learns_mask"])
        return y_a, m_a, y_b, m_b

    def render(self, x: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        decoder = self.decoder_a if side == "a" else self.decoder_b
        return split_output(decoder(self._code(x)), self.config["learns_mask"])
