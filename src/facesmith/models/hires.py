"""`hires`: a configurable 128-512 px model with a learned mask, for GPUs (in the spirit of DFL SAEHD).

arch "df": shared encoder + dense inter, one decoder per identity (like `original`, bigger).
arch "liae": shared encoder, two inters (AB: both identities, B: identity B only) and ONE shared
decoder. Identity A is drawn from [AB(x), AB(x)], identity B from [B(x), AB(x)]; so swapping
B -> A uses [AB, AB] on B's faces. Decoders have residual blocks and output RGB + mask.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

import torch
from torch import nn

from ..errors import InputError
from . import Conv, ResBlock, SwapModel, Upscale, register_model, split_output


class _Encoder(nn.Sequential):
    def __init__(self, e: int, depth: int) -> None:
        widths = [min(e * 2**i, 8 * e) for i in range(depth)]
        layers: list[nn.Module] = [Conv(3, widths[0], 5, 2)]
        layers += [Conv(a, b, 5, 2) for a, b in itertools.pairwise(widths)]
        super().__init__(*layers)
        self.out_ch = widths[-1]


class _Inter(nn.Sequential):
    def __init__(self, in_feats: int, ae: int, low: int, out_ch: int) -> None:
        super().__init__(nn.Flatten(), nn.Linear(in_feats, ae), nn.Linear(ae, low * low * out_ch),
                         nn.Unflatten(1, (out_ch, low, low)), Upscale(out_ch, out_ch))


class _Decoder(nn.Module):
    def __init__(self, cin: int, d: int, ups: int) -> None:
        super().__init__()
        widths = [cin] + [max(d * 2 ** (ups - 1 - i), 16) for i in range(ups)]
        blocks: list[nn.Module] = []
        for a, b in itertools.pairwise(widths):
            blocks += [Upscale(a, b), ResBlock(b)]
        self.body = nn.Sequential(*blocks)
        self.rgb = nn.Conv2d(widths[-1], 3, 1)
        self.mask = nn.Conv2d(widths[-1], 1, 1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.body(z)
        return torch.cat([self.rgb(h), self.mask(h)], 1)


@register_model("hires")
class Hires(SwapModel):
    DEFAULTS: ClassVar[dict[str, Any]] = {
        "size": 128, "coverage": 0.875, "batch_size": 8, "lr": 5e-5, "arch": "df",
        "e_dims": 64, "ae_dims": 256, "d_dims": 64, "learns_mask": True,
    }
    SIZES = (128, 160, 192, 224, 256, 320, 384, 448, 512)

    def __init__(self, **cfg: Any) -> None:
        super().__init__(**cfg)
        c = self.config
        if c["arch"] not in ("df", "liae"):
            raise InputError(f"hires arch must be 'df' or 'liae', not {c['arch']!r}")
        c["learns_mask"] = True
        depth = 4
        self.low = c["size"] // 2**depth // 2  # inter works at half the encoder's last resolution
        ups = depth - 1 + 1  # inter's upscale + decoder ups reach the input size
        self.encoder = _Encoder(c["e_dims"], depth)
        feats = self.encoder.out_ch * (c["size"] // 2**depth) ** 2
        inter_ch = c["ae_dims"]
        if c["arch"] == "df":
            self.inter = _Inter(feats, c["ae_dims"], self.low, inter_ch)
            self.decoder_a = _Decoder(inter_ch, c["d_dims"], ups)
            self.decoder_b = _Decoder(inter_ch, c["d_dims"], ups)
        else:
            self.inter_ab = _Inter(feats, c["ae_dims"], self.low, inter_ch)
            self.inter_b = _Inter(feats, c["ae_dims"], self.low, inter_ch)
            self.decoder = _Decoder(2 * inter_ch, c["d_dims"], ups)

    def _latent(self, x: torch.Tensor, side: str) -> torch.Tensor:
        e = self.encoder(x)
        if self.config["arch"] == "df":
            return self.inter(e)
        ab = self.inter_ab(e)
        return torch.cat([ab, ab] if side == "a" else [self.inter_b(e), ab], 1)

    def _decode(self, z: torch.Tensor, side: str) -> torch.Tensor:
        if self.config["arch"] == "liae":
            return self.decoder(z)
        return (self.decoder_a if side == "a" else self.decoder_b)(z)

    def forward(self, x_a: torch.Tensor, x_b: torch.Tensor) -> tuple[Any, ...]:
        y_a, m_a = split_output(self._decode(self._latent(x_a, "a"), "a"), True)
        y_b, m_b = split_output(self._decode(self._latent(x_b, "b"), "b"), True)
        return y_a, m_a, y_b, m_b

    def render(self, x: torch.Tensor, side: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        return split_output(self._decode(self._latent(x, side), side), True)
