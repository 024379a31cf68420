"""The expression loss (`--expression-weight`): the swap must make the target's face, not the source's.

For a few of B's faces per step the model draws the swap itself (B's input rendered as A, the path
convert takes), the face mesh in torch (face/expression.py) reads its eye openness, mouth opening and
mouth width, and the loss is the L1 distance of those readings from the ones of B's own face.

- B's readings are taken once per face at load, from the un-augmented crop (the readings are ratios,
  so the batch's rotation, zoom and shift leave them unchanged; a flip swaps the eyes, which the batch
  applies); each step then runs the mesh only on the swap, with gradients.
- Eye openness and mouth width carry identity as well as expression (A's eyes are rounder than B's),
  so B's reading is first scaled to A: by the ratio of the two identities' open-eye levels (90th
  percentile) and of their median mouth widths. Mouth opening is 0 when the lips meet for everyone and
  is compared as it is.
- The loss ramps in over the first RAMP iterations: before the model draws faces at all, the mesh
  reads noise.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..face.mesh_expression import AlignedFaceMesh, mesh_expression
from .augment import plain_batch
from .data import FaceSet

FACES_PER_STEP = 8  # B faces per step that get the loss: the mesh's backward costs ~4x the model's per face
RAMP = 300
_SAMPLE = 96  # faces per identity for the identity scales


class ExpressionLoss:
    """Holds the mesh and the per-identity scales; `attach` gives B's faces their readings."""

    def __init__(self, weight: float, coverage: float, device: torch.device) -> None:
        self.weight = weight
        self.mesh = AlignedFaceMesh(coverage).to(device)
        self.device = device
        self.scale = torch.ones(4, device=device)

    @torch.no_grad()
    def readings(self, faces: FaceSet, idx: np.ndarray | None = None) -> torch.Tensor:
        """(N, 4) mesh readings of un-augmented faces (all of them, or `idx`)."""
        idx = np.arange(len(faces)) if idx is None else idx
        out = [mesh_expression(self.mesh(plain_batch(faces, idx[i:i + 32])["input"].to(self.device)))
               for i in range(0, len(idx), 32)]
        return torch.cat(out) if out else torch.zeros(0, 4, device=self.device)

    def attach(self, a: FaceSet, b: FaceSet) -> None:
        """B's readings into `b.expression` (scaled to A), for make_batch to hand out per face."""
        ref_b = self.readings(b)
        pick = np.linspace(0, len(a) - 1, min(_SAMPLE, len(a))).round().astype(int)
        ref_a = self.readings(a, pick)
        eyes = torch.quantile(ref_a[:, :2].flatten(), 0.9) / torch.quantile(ref_b[:, :2].flatten(), 0.9)
        width = ref_a[:, 3].median() / ref_b[:, 3].median()
        self.scale = torch.stack([eyes, eyes, torch.ones_like(eyes), width]).clamp(0.5, 2.0)
        b.expression = (ref_b * self.scale).cpu().numpy().astype(np.float32)

    def __call__(self, net: torch.nn.Module, bb: dict[str, torch.Tensor], it: int) -> torch.Tensor:
        """The weighted loss of this step (B's first FACES_PER_STEP faces drawn as A)."""
        k = min(FACES_PER_STEP, len(bb["input"]))
        swapped = net.render(bb["input"][:k], "a")[0]
        with torch.autocast(self.device.type, enabled=False):
            got = mesh_expression(self.mesh(swapped.float()))
        want = bb["expression"][:k].reshape(k, 4).float()
        ramp = min(1.0, (it + 1) / RAMP)
        return self.weight * ramp * F.l1_loss(got, want, reduction="sum") / k

