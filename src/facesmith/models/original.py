"""`original`: the classic deepfakes autoencoder, as in Faceswap's "Original" model (the reference).

Encoder: 5x5 stride-2 convs 128-256-512-1024 (64 -> 4 px), dense 1024, dense 4x4x1024, upscale to
8x8x512. Two decoders: upscales 256-128-64 to 64 px, then a 5x5 conv to RGB (+ a mask channel when
`learns_mask`, as Faceswap's optional learned mask). Shared encoder, one decoder per identity.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from . import Conv, SwapModel, Upscale, register_model, split_output


@register_model("original")
class Original(SwapModel):
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "size": 64, "coverage": 0.875, "batch_size": 16, "lr": 5e-5, "learns_mask": False,
    }
    SIZES = (64,)

    def __init__(self, **cfg: Any) -> None:
        super().__init__(**cfg)
        self.encoder = nn.Sequential(
            Conv(3, 128, 5, 2), Conv(128, 256, 5, 2), Conv(256, 512, 5, 2), Conv(512, 1024, 5, 2),
            nn.Flatten(), nn.Linear(1024 * 4 * 4, 1024), nn.Linear(1024, 4 * 4 * 1024),
        )
        self.upscale = Upscale(1024, 512)
        out_ch = 4 if self.config["learns_mask"] else 3
        self.decoder_a = self._decoder(out_ch)
        self.decoder_b = self._decoder(out_ch)

    @staticmethod
    def _decoder(out_ch: int) -> nn.Sequential:
        return nn.Sequential(Upscale(512, 256), Upscale(256, 128), Upscale(128, 64),
                             nn.Conv2d(64, out_ch, 5, padding=2))

    def _code(self, x: torch.Tensor) -> torch.Tensor:
        z = self.encoder(x).view(-1, 1024, 4, 4)
        if x.is_contiguous(memory_format=torch.channels_last):
            z = z.contiguous(memory_format=torch.channels_last)
        return self.upscale(z)

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[Any, ...]:
        z = self._code(torch.cat([x_a, x_b]))
        y_a, m_a = split_output(self.decoder_a(z[: len(x_a)]), self.config["learns_mask"])
        y_b, m_b = split_output(self.decoder_b(z[len(x_a):]), self.config["learns_mask"])
        return y_a, m_a, y_b, m_b

    def render(self, x: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        decoder = self.decoder_a if side == "a" else self.decoder_b
        return split_output(decoder(self._code(x)), self.config["learns_mask"])
