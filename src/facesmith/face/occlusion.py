"""What covers a face: a small segmentation network that marks the pixels of an aligned face crop
where something in front of the face (a hand, a pen, a microphone, hair falling across it) hides it.

Convert keeps the target's own pixels there, so an object in front of the face stays in front of the
swapped face. The network ships inside facesmith (`face/data/occlusion.safetensors`, 16-bit weights)
and was trained by `scripts/train_occlusion.py` on faces of the shared test media with synthetic
occluders pasted over them (`face/occluders.py`); the training media and the figures it reached are
recorded in the file's metadata.

Input: (N, 3, S, S) BGR in [0, 1], the model's view of the face (any S; it is resized to
`OCCLUSION_INPUT`). Output: (N, S, S) probability in [0, 1] that the pixel is covered.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import FacesmithError

OCCLUSION_INPUT = 64
WEIGHTS = Path(__file__).with_name("data") / "occlusion.safetensors"


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


def save_occlusion_net(net: OcclusionNet, path: Path, record: dict[str, object]) -> None:
    """16-bit weights plus `record` (what trained it, what it reached) as JSON in the file's metadata."""
    from safetensors.torch import save_file

    from ..atomic import atomic_path

    state = {k: v.detach().to(torch.float16).contiguous() for k, v in net.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    meta = {"widths": json.dumps(list(net.widths)), "record": json.dumps(record)}
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata=meta)


def occlusion_record(path: Path = WEIGHTS) -> dict[str, object]:
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return json.loads((f.metadata() or {}).get("record", "{}"))


@cache
def load_occlusion_net(path: Path = WEIGHTS) -> OcclusionNet:
    """The shipped network in eval mode (loaded once per process)."""
    from safetensors import safe_open

    if not path.is_file():
        raise FacesmithError(f"occlusion model {path} is missing; reinstall facesmith")
    with safe_open(str(path), "pt") as f:
        widths = tuple(json.loads((f.metadata() or {})["widths"]))
        state = {k: f.get_tensor(k).float() for k in f.keys()}  # noqa: SIM118 (safe_open has no iterator)
    net = OcclusionNet(widths)
    net.load_state_dict(state, strict=False)
    return net.eval()


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
def covered(faces: torch.Tensor, net: OcclusionNet | None = None) -> torch.Tensor:
    """(N, 3, S, S) BGR faces in [0, 1] -> (N, S, S) probability that each pixel is covered."""
    net = net or load_occlusion_net()
    size = faces.shape[-1]
    x = faces.float()
    if size != OCCLUSION_INPUT:
        x = F.interpolate(x, size=(OCCLUSION_INPUT, OCCLUSION_INPUT), mode="area" if size > OCCLUSION_INPUT
                          else "bilinear", align_corners=None if size > OCCLUSION_INPUT else False)
    p = torch.sigmoid(net(x.contiguous()))
    if size != OCCLUSION_INPUT:
        p = F.interpolate(p, size=(size, size), mode="bilinear", align_corners=False)
    return p[:, 0]


def covered_crops(crops: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """`covered` for uint8 BGR crops (N of S x S x 3): (N, S, S) float32 probabilities."""
    x = torch.from_numpy(np.ascontiguousarray(np.stack(crops))).permute(0, 3, 1, 2).float().div_(255)
    return covered(x).numpy()
