"""`liae`: `lite`'s CPU-sized layers in DeepFaceLab's LIAE layout, so the swap follows the target's expression.

In `lite` (one decoder per identity) decoder A only ever sees A's faces: given B's closed eyes or
resting mouth it draws the expressions A made. Here one encoder and ONE decoder are shared; two dense
"inters" turn the encoder's features into codes: inter_ab (trained on both identities) and inter_b
(identity B only). A face of A is drawn from [ab(x), ab(x)], a face of B from [b(x), ab(x)]. So the
shared part, ab(x), has to carry pose, expression and lighting for both people in one space, and
identity lives in which half comes from where; a swap B -> A draws [ab(x_b), ab(x_b)]: A's identity
with B's expression.

Same building blocks and cost per sample as `lite` (plus a second small dense inter).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from . import SwapModel, register_model, split_output
from .lite import Lite, _Decoder, encoder


@register_model("liae")
class Liae(SwapModel):
    DEFAULTS: ClassVar[dict[str, Any]] = Lite.DEFAULTS  # lite's layers, so lite's sizes
    SIZES = (64,)

    def __init__(self, **cfg: Any) -> None:
        super().__init__(**cfg)
        c = self.config
        enc, dec = tuple(c["enc"]), tuple(c["dec"])
        self.enc_ch, self.half = enc[-1], dec[0] // 2
        self.encoder = encoder(enc)
        self.low = c["size"] // 2 ** len(enc)
        self.inter_ab, self.inter_b = self._inter(), self._inter()
        self.decoder = _Decoder(dec, 4 if c["learns_mask"] else 3)

    def _inter(self) -> nn.Sequential:
        return nn.Sequential(nn.Flatten(), nn.Linear(self.enc_ch * self.low**2, self.config["latent"]),
                             nn.Linear(self.config["latent"], self.half * (2 * self.low) ** 2), nn.LeakyReLU(0.1))

    def _grid(self, z: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        z = z.view(-1, self.half, 2 * self.low, 2 * self.low)
        return z.contiguous(memory_format=torch.channels_last) if like.is_contiguous(
            memory_format=torch.channels_last) else z

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[Any, ...]:
        n = len(x_a)
        e = self.encoder(torch.cat([x_a, x_b]))  # one encoder and one decoder pass for both sides
        ab = self._grid(self.inter_ab(e), x_a)
        first = torch.cat([ab[:n], self._grid(self.inter_b(e[n:]), x_a)])
        y, m = split_output(self.decoder(torch.cat([first, ab], 1)), self.config["learns_mask"])
        return y[:n], None if m is None else m[:n], y[n:], None if m is None else m[n:]

    def render(self, x: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        e = self.encoder(x)
        ab = self._grid(self.inter_ab(e), x)
        first = ab if side == "a" else self._grid(self.inter_b(e), x)
        return split_output(self.decoder(torch.cat([first, ab], 1)), self.config["learns_mask"])
