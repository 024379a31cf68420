"""Expression readings from the face mesh (torch, differentiable; training's expression loss).

`mesh_expression` turns the 468 mesh vertices into per face [right eye, left eye openness (lid gap /
eye width), mouth opening (inner-lip gap / inner mouth width), mouth width (outer corners / eye
distance)] - all ratios, so they do not change with the face's position, size or roll.
`AlignedFaceMesh` runs the mesh on the aligned training crops: one fixed, differentiable resampling of
the crop into the mesh's 192 px input, framed the way the landmarker frames a face (the ROI that
`roi_from_landmarks` gives for the mean face). The 68-point readings are in `expression.py`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .align import CROP_CENTER, CROP_SPAN, MEAN_FACE_68
from .landmarks import roi_from_landmarks
from .mesh_torch import MESH_INPUT, FaceMeshNet

# mesh vertices: eye corners (outer, inner) and three upper/lower lid pairs, subject's right eye first
_EYES = (((33, 133), ((159, 145), (158, 153), (160, 144))),
         ((263, 362), ((386, 374), (385, 380), (387, 373))))
_INNER_LIPS = ((13, 14), (82, 87), (312, 317))
_INNER_CORNERS, _OUTER_CORNERS = (78, 308), (61, 291)
MESH_FEATURES = ("eye_right", "eye_left", "mouth_opening", "mouth_width")


def mesh_expression(verts: torch.Tensor) -> torch.Tensor:
    """(N, 468, >=2) mesh vertices -> (N, 4) readings in MESH_FEATURES order."""
    xy = verts[..., :2]

    def dist(a: int, b: int) -> torch.Tensor:
        return (xy[:, a] - xy[:, b]).square().sum(-1).add(1e-8).sqrt()

    eyes = [sum(dist(u, d) for u, d in lids) / (3 * dist(*corners)) for corners, lids in _EYES]
    mouth = sum(dist(u, d) for u, d in _INNER_LIPS) / (3 * dist(*_INNER_CORNERS))
    centres = [xy[:, list(corners)].mean(1) for corners, _ in _EYES]
    iod = (centres[0] - centres[1]).square().sum(-1).add(1e-8).sqrt()
    return torch.stack([eyes[0], eyes[1], mouth, dist(*_OUTER_CORNERS) / iod], 1)


def _crop_theta(coverage: float) -> torch.Tensor:
    """affine_grid's matrix taking the mesh input to the mesh ROI of the mean face in a crop of the
    central `coverage` of an aligned face (normalised [-1, 1] coordinates, align_corners=False)."""
    unit = ((MEAN_FACE_68 - CROP_CENTER) / CROP_SPAN + 0.5 - (1 - coverage) / 2) / coverage  # crop = [0, 1]
    roi = roi_from_landmarks(unit)
    cx, cy = roi.center
    return torch.tensor([[roi.size, 0.0, 2 * cx - 1], [0.0, roi.size, 2 * cy - 1]], dtype=torch.float32)


class AlignedFaceMesh(nn.Module):
    """The face mesh on aligned training crops: BGR (N, 3, S, S) in [0, 1] -> vertices (N, 468, 3) in
    pixels of the 192 px mesh input. The crop is resampled bilinearly (differentiable in its pixels);
    the ROI reaches a few pixels past the crop's edges, which read as black."""

    def __init__(self, coverage: float) -> None:
        super().__init__()
        self.mesh = FaceMeshNet().eval()
        self.register_buffer("theta", _crop_theta(coverage))

    def forward(self, faces_bgr: torch.Tensor) -> torch.Tensor:
        x = faces_bgr.float().flip(1)  # BGR -> RGB
        theta = self.theta.expand(len(x), 2, 3)
        grid = F.affine_grid(theta, [len(x), 3, MESH_INPUT, MESH_INPUT], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return self.mesh(x.contiguous())[0]
