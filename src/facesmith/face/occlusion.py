"""What covers a face: a small segmentation network that marks the pixels of an aligned face crop
where something in front of the face (a hand, a pen, a microphone, hair falling across it) hides it.

Convert keeps the target's own pixels there, so an object in front of the face stays in front of the
swapped face. Each swap model has its own network (models/occlusion.py), trained by train/occlusion.py
on the pair's faces with synthetic occluders pasted over them (face/occluders.py).

Input: (N, 3, S, S) BGR in [0, 1], the model's view of the face (any S; it is resized to
`OCCLUSION_INPUT`). Output: (N, S, S) probability in [0, 1] that the pixel is covered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

OCCLUSION_INPUT = 64


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class OcclusionNet(nn.Module):
    """A small U-Net: a stride-2 stem (the mask is feathered over ~8% of the face anyway, so half
    resolution is enough), four levels down to 4 px where every unit sees the whole face (what belongs
    there), skip connections that keep the occluder's edge in place."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 48, 64)):
        super().__init__()
        self.widths = widths
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, stride=2, padding=1), nn.ReLU(inplace=True))
        self.down = nn.ModuleList(_block(widths[max(i - 1, 0)], w) for i, w in enumerate(widths))
        self.up = nn.ModuleList(_block(widths[i + 1] + widths[i], widths[i]) for i in range(len(widths) - 1))
        self.head = nn.Conv2d(widths[0], 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, 1, H, W) of 'covered'; H and W divisible by 2 ** levels."""
        size = x.shape[-2:]
        x = self.stem(x * 2 - 1)
        skips = []
        for i, block in enumerate(self.down):
            if i:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for i in range(len(self.up) - 1, -1, -1):
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
            x = self.up[i](torch.cat([x, skips[i]], 1))
        return F.interpolate(self.head(x), size=size, mode="bilinear", align_corners=False)


def face_view(image: np.ndarray, face: Any, size: int = OCCLUSION_INPUT,
              coverage: float = 0.875) -> tuple[np.ndarray, np.ndarray]:
    """(the model's `size` px view of `face` in `image`, its hull as a bool mask): what the network
    reads, cut as convert cuts it (the central `coverage` of the aligned crop, warped at twice the size
    and area-reduced). `face`: a `Face` of the face reader."""
    import cv2

    from .align import invert_matrix, rasterize_mask, transform_points, view_matrix

    m = view_matrix(face.matrix, 256, coverage, size)
    big = cv2.warpAffine(image, m * 2, (2 * size, 2 * size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT101)
    crop = cv2.resize(big, (size, size), interpolation=cv2.INTER_AREA)
    hull = transform_points(transform_points(face.mask, invert_matrix(face.matrix)), m)
    return crop, rasterize_mask(hull, size) > 127


@torch.inference_mode()
def covered(faces: torch.Tensor, net: OcclusionNet) -> torch.Tensor:
    """(N, 3, S, S) BGR faces in [0, 1] -> (N, S, S) probability that each pixel is covered."""
    size = faces.shape[-1]
    x = faces.to(next(net.parameters()).dtype)  # a swap model cast to bf16 casts its occlusion network too
    if size != OCCLUSION_INPUT:
        x = F.interpolate(x, size=(OCCLUSION_INPUT, OCCLUSION_INPUT), mode="area" if size > OCCLUSION_INPUT
                          else "bilinear", align_corners=None if size > OCCLUSION_INPUT else False)
    p = torch.sigmoid(net(x.contiguous()).float())
    if size != OCCLUSION_INPUT:
        p = F.interpolate(p, size=(size, size), mode="bilinear", align_corners=False)
    return p[:, 0]


def covered_crops(crops: list[np.ndarray] | np.ndarray, net: OcclusionNet) -> np.ndarray:
    """`covered` for uint8 BGR crops (N of S x S x 3): (N, S, S) float32 probabilities."""
    device = next(net.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(np.stack(crops))).to(device).permute(0, 3, 1, 2).float().div_(255)
    return covered(x, net).cpu().numpy()
