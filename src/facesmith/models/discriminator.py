"""Optional patch-GAN discriminator (`facesmith train --gan WEIGHT`), usable with any model.

A 70x70-style PatchGAN (Isola et al. 2017): strided 4x4 convs, one real/fake logit per patch.
Trained with the least-squares GAN loss, which is stable without extra normalisation tricks.
"""

from __future__ import annotations

import torch
from torch import nn


class PatchDiscriminator(nn.Module):
    def __init__(self, size: int, width: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin, ch = 3, width
        # 3 stride-2 layers: patches of ~1/3 of a 64 px face, ~1/6 of a 128 px face
        for _ in range(3):
            layers += [nn.Conv2d(cin, ch, 4, 2, 1), nn.LeakyReLU(0.2, inplace=True)]
            cin, ch = ch, min(ch * 2, 8 * width)
        layers += [nn.Conv2d(cin, cin, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True), nn.Conv2d(cin, 1, 3, 1, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def d_loss(disc: PatchDiscriminator, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return ((disc(real) - 1) ** 2).mean() + (disc(fake.detach()) ** 2).mean()


def g_loss(disc: PatchDiscriminator, fake: torch.Tensor) -> torch.Tensor:
    return ((disc(fake) - 1) ** 2).mean()
